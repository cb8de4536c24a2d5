import logging

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from odoo.addons.lead_scoring.award import Award

_logger = logging.getLogger(__name__)

# Automations-tab triggers fired by Email Marketing's own tracking.
MAILING_TRIGGERS = [
    ("mailing_open", "Email opened"),
    ("mailing_click", "Link clicked"),
    ("mailing_reply", "Email replied"),
    ("mailing_bounce", "Email bounced"),
    ("mailing_unsubscribe", "Unsubscribed"),
]
MAILING_TRIGGER_KEYS = frozenset(dict(MAILING_TRIGGERS))
# Fields of a line that _mailing_line_filters caches.
LINE_FILTER_FIELDS = {"trigger", "active", "mailing_ids", "mailing_list_ids"}


class LeadScoringAutomation(models.Model):
    """Email Marketing events as triggers of the scoring model's Automations tab.

    Their lines run on mailing traces (``mailing.trace``, set automatically)
    and own only their "Adjust score" action: the tracking hooks of this
    addon fire them (see ``mailing.trace._lead_scoring_track``).
    """

    _inherit = "lead.scoring.automation"

    trigger = fields.Selection(
        selection_add=MAILING_TRIGGERS,
        ondelete=dict.fromkeys(MAILING_TRIGGER_KEYS, "cascade"),
    )
    mailing_ids = fields.Many2many(
        "mailing.mailing",
        string="Mailings",
        groups="mass_mailing.group_mass_mailing_user",
        help="Only events of these mailings. Empty: every mailing.",
    )
    mailing_list_ids = fields.Many2many(
        "mailing.list",
        string="Mailing Lists",
        groups="mass_mailing.group_mass_mailing_user",
        help="Only events of mailings sent to one of these lists; for Unsubscribed, "
        "only opt-outs of these lists. Empty: every list, and mailings without lists.",
    )
    is_mailing_trigger = fields.Boolean(compute="_compute_is_mailing_trigger")

    @api.depends("trigger")
    def _compute_is_mailing_trigger(self):
        for line in self:
            line.is_mailing_trigger = line.trigger in MAILING_TRIGGER_KEYS

    @api.constrains("trigger", "trigger_model_id")
    def _check_mailing_trigger_model(self):
        for line in self:
            if line.is_mailing_trigger and line.trigger_model_id.model != "mailing.trace":
                raise ValidationError(
                    self.env._(
                        'Trigger "%(name)s" runs on mailing traces (Mailing Statistics).',
                        name=line.name,
                    )
                )

    @api.onchange("trigger")
    def _onchange_trigger_mailing(self):
        if self.trigger in MAILING_TRIGGER_KEYS:
            self.trigger_model_id = self._mailing_trace_model_id()
            if not self.name:
                self.name = dict(self._fields["trigger"]._description_selection(self.env))[
                    self.trigger
                ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("trigger") in MAILING_TRIGGER_KEYS:
                vals["trigger_model_id"] = self._mailing_trace_model_id()
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("trigger") in MAILING_TRIGGER_KEYS:
            vals = dict(vals, trigger_model_id=self._mailing_trace_model_id())
        return super().write(vals)

    @api.model
    def _cached_line_fields(self):
        return super()._cached_line_fields() | LINE_FILTER_FIELDS

    @api.model
    def _event_triggers(self):
        return super()._event_triggers() | MAILING_TRIGGER_KEYS

    @api.model
    def _mailing_trace_model_id(self):
        return self.env["ir.model"]._get_id("mailing.trace")

    @api.model
    @tools.ormcache("trigger")
    def _mailing_line_filters(self, trigger):
        """``((line id, mailing ids, list ids), ...)``: the active lines of
        ``trigger`` and what they are limited to. Cached: every open of every
        mailing asks for them, and they change once in a while."""
        lines = self.sudo().search([("trigger", "=", trigger), ("active", "=", True)])
        return tuple(
            (line.id, frozenset(line.mailing_ids.ids), frozenset(line.mailing_list_ids.ids))
            for line in lines
        )

    def _mailing_award(self, trigger, traces, hits):
        """Award this line's points for ``hits`` (``mailing_trace.Hit``, events
        of ``traces``): each event once per recipient
        (``lead.scoring.mailing.event``, the oldest hit first), dated at the
        hit, through the one award path.

        :return: ``{target_id: points written}``
        """
        self.ensure_one()
        line = self.sudo()
        if not (line.active and line.model_id.active and line.action_id):
            return {}
        traces = traces.filtered_domain(line._filter_domain_list())
        action = line.action_id
        targets = action._lead_scoring_scored_records(traces, line.model_id)
        skipped = traces.browse(set(traces.ids) - set(targets))
        if skipped:
            _logger.info(
                "Lead scoring: line %s skipped %s of %s, no %s to score",
                line.id,
                trigger,
                skipped,
                line.model_id.target_model,
            )
        # The oldest hit of each event of a trace (a link clicked twice).
        events = {}
        for hit in sorted(hits, key=lambda hit: hit.date):
            if hit.trace_id in targets:
                events.setdefault((hit.trace_id, hit.link_id, hit.list_id), hit)
        events = list(events.values())
        first = (
            self.env["lead.scoring.mailing.event"].sudo()._claim(action, trigger, targets, events)
        )
        traces_by_id = {trace.id: trace for trace in traces}
        awards = [
            Award(
                targets[hit.trace_id],
                hit.date,
                action._lead_scoring_trace_reason(
                    traces_by_id[hit.trace_id], hit.link_id, hit.list_id
                ),
                key=hit.trace_id,
            )
            for hit in events
            if (hit.trace_id, hit.link_id, hit.list_id) in first
        ]
        return action._lead_scoring_award(awards)
