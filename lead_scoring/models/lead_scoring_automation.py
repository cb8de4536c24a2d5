import ast

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.fields import Command

from ..expiry import EXPIRE_UNITS

# Automation Rule triggers a marketer may pick (base.automation's own names).
TRIGGERS = [
    ("on_create", "On creation"),
    ("on_create_or_write", "On save"),
    ("on_stage_set", "Stage is set"),
    ("on_tag_set", "Tag is added"),
    ("on_archive", "On archived"),
    ("on_message_received", "On incoming message"),
    ("on_message_sent", "On outgoing message"),
    ("on_time", "Based on date field"),
    ("api_event", "Event from the API"),
    ("activity_done", "Activity done"),
]

# Fields of this model copied onto the "Adjust score" server action.
ACTION_FIELDS = {
    "points": "score_points",
    "expire_after": "score_expire_after",
    "expire_unit": "score_expire_unit",
    "target_field": "score_target_field",
    "cooldown_hours": "score_cooldown_hours",
    "max_points": "score_max_points",
    "api_code": "score_api_code",
}
AUTOMATION_FIELDS = {
    "trigger_model_id",
    "trigger",
    "trigger_field_ids",
    "filter_domain",
    "date_field_id",
    "date_delay",
    "date_delay_unit",
    "active",
    "name",
}


class LeadScoringAutomation(models.Model):
    """A behaviour trigger on the scoring model form ("+5 when ...").

    Odoo reserves Automation Rules and server actions to Settings
    administrators; this line lets lead-scoring managers set up scoring
    triggers all the same. Each line owns one ``base.automation`` with one
    "Adjust score" server action, created and kept in sync as superuser and
    limited to that action type.
    """

    _name = "lead.scoring.automation"
    _description = "Scoring Automation"
    _order = "sequence, id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
    )
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True, help="Shown as the reason in the ledger.")
    active = fields.Boolean(default=True)
    trigger_model_id = fields.Many2one(
        "ir.model",
        "Trigger On",
        required=True,
        ondelete="cascade",
        domain=[("transient", "=", False)],
        compute="_compute_trigger_model_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    trigger_model = fields.Char(related="trigger_model_id.model")
    trigger = fields.Selection(TRIGGERS, required=True, default="on_create")
    trigger_field_ids = fields.Many2many(
        "ir.model.fields",
        string="Trigger Fields",
        domain="[('model_id', '=', trigger_model_id)]",
        help='"On save" fires only when one of these fields changes. Leave empty '
        "only with a filter: an empty list fires once per changed field.",
    )
    filter_domain = fields.Char("Apply On", default="[]")
    date_field_id = fields.Many2one(
        "ir.model.fields",
        "Trigger Date",
        ondelete="cascade",
        domain="[('model_id', '=', trigger_model_id), ('ttype', 'in', ('date', 'datetime'))]",
    )
    date_delay = fields.Integer("Delay")
    date_delay_unit = fields.Selection(
        [("minutes", "Minutes"), ("hour", "Hours"), ("day", "Days"), ("month", "Months")],
        default="day",
    )
    points = fields.Float(required=True)
    expire_after = fields.Integer("Points Expire After", help="0 = never.")
    expire_unit = fields.Selection(EXPIRE_UNITS, default="months", required=True)
    target_field = fields.Char(
        "Scored Record Path",
        help="Optional path from the triggering record to the scored record.",
    )
    cooldown_hours = fields.Float(
        "Cooldown (hours)",
        help="No second award to a record within this time before or after the date of an award.",
    )
    max_points = fields.Float("Points Cap", help="Most points a record holds from this trigger.")
    api_code = fields.Char(
        "API Event Type",
        help="The type an outside system sends to POST /lead_scoring/v1/events, "
        "e.g. webinar_attended. Unique within a company.",
    )
    activity_type_ids = fields.Many2many(
        "mail.activity.type",
        "lead_scoring_automation_activity_type_rel",
        "automation_id",
        "activity_type_id",
        string="Activity Types",
        help="Only activities of these types. Empty: every type.",
    )
    automation_id = fields.Many2one(
        "base.automation", readonly=True, ondelete="set null", copy=False
    )
    action_id = fields.Many2one("ir.actions.server", readonly=True, ondelete="set null", copy=False)

    @api.depends("trigger", "model_id.target")
    def _compute_trigger_model_id(self):
        # An API event names the scored record itself: it triggers on the target.
        trigger_models = self._code_trigger_models()
        for line in self:
            if line.trigger == "api_event" and line.model_id.target:
                line.trigger_model_id = self.env["ir.model"]._get(line.model_id.target_model)
            elif line.trigger in trigger_models:
                # Fired by code on the model the trigger names: not a choice.
                line.trigger_model_id = self.env["ir.model"]._get(trigger_models[line.trigger])
            else:
                line.trigger_model_id = line.trigger_model_id

    @api.constrains("trigger", "date_field_id", "api_code")
    def _check_trigger(self):
        for line in self:
            if line.trigger == "on_time" and not line.date_field_id:
                raise ValidationError(
                    self.env._('Trigger "%(name)s" needs a date field.', name=line.name)
                )
            if line.trigger == "api_event" and not line.api_code:
                raise ValidationError(
                    self.env._(
                        'Trigger "%(name)s" needs an API event type, e.g. webinar_attended.',
                        name=line.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("trigger") in self._event_triggers() for vals in vals_list):
            self.env.registry.clear_cache()  # the cached lines of code-fired triggers
        lines = super().create(vals_list)
        lines._sync_automation()
        return lines

    def write(self, vals):
        if self._cached_line_fields() & vals.keys():
            self.env.registry.clear_cache()  # the cached lines of code-fired triggers
        res = super().write(vals)
        if (AUTOMATION_FIELDS | ACTION_FIELDS.keys()) & vals.keys():
            self._sync_automation()
        return res

    def unlink(self):
        if any(line.trigger in self._event_triggers() for line in self):
            self.env.registry.clear_cache()  # the cached lines of code-fired triggers
        automations = self.sudo().automation_id
        actions = self.sudo().action_id
        res = super().unlink()
        automations.unlink()
        actions.unlink()
        return res

    @api.model
    def _event_triggers(self):
        """Triggers fired by code (the events API, the tracking bridges) rather
        than by an Automation Rule: their lines own only the server action.
        Bridge addons add theirs with ``selection_add`` and extend this set."""
        return {"api_event", "activity_done"}

    @api.model
    def _cached_line_fields(self):
        """Fields of a line that ``_trigger_lines`` reads (a bridge adds the
        filters of its triggers): creating, changing or deleting such a line
        clears the cache."""
        return {"trigger", "active", "action_id", "filter_domain", "activity_type_ids"}

    @api.model
    def _code_trigger_models(self):
        """``{trigger: model name}``: the triggers fired by code that run on a
        model of their own (an activity, a registration), set on their lines
        by the trigger itself. Bridge addons extend it."""
        return {"activity_done": "mail.activity"}

    def _trigger_filters(self):
        """What this line of a code-fired trigger is limited to, as the
        trigger's records read it (``_lead_scoring_trigger_match``). A bridge
        adds the filters of its triggers."""
        self.ensure_one()
        if self.trigger == "activity_done":
            return {"activity_type_ids": frozenset(self.activity_type_ids.ids)}
        return {}

    @api.model
    @tools.ormcache("trigger")
    def _trigger_lines(self, trigger):
        """``((action id, filter domain, filters), ...)``: the active lines of a
        trigger fired by code. Cached: every activity done, registration or
        participation asks for them, and they change once in a while, so a
        record without a line costs no query."""
        lines = self.sudo().search(
            [("trigger", "=", trigger), ("active", "=", True), ("action_id", "!=", False)]
        )
        return tuple(
            (line.action_id.id, line._filter_domain_list(), line._trigger_filters())
            for line in lines
        )

    @api.model
    def _fire_trigger(self, trigger, records, dates=None):
        """Fire the lines of ``trigger`` on ``records`` (of the trigger's
        model): one award batch per line over all of them, each record once
        per line in its life (see ``lead.scoring.signal``).

        The records' model says which of them a line's filters keep
        (``_lead_scoring_trigger_match(filters)``); what follows is the
        "Adjust score" of the line, as for every other award.

        :return: ``{server action: {target_id: points written}}``
        """
        results = {}
        actions = self.env["ir.actions.server"].sudo()
        for action_id, filter_domain, filters in records and self._trigger_lines(trigger):
            matching = records._lead_scoring_trigger_match(filters)
            if filter_domain and matching:
                matching = matching.filtered_domain(filter_domain)
            if matching:
                action = actions.browse(action_id)
                claimed = self.env["lead.scoring.signal"]._claim(action, matching)
                results[action] = action._lead_scoring_run(claimed, dates)
        return results

    def _fire(self, records, dates=None):
        """Run the "Adjust score" of these lines on ``records`` (records of each
        line's trigger model), as the Automation Rules would.

        :param dates: optional ``{record id: datetime}`` of events that
            happened before now
        :return: ``{line: {target_id: points written}}``
        """
        results = {}
        for line in self.sudo():
            if line.active and line.model_id.active and line.action_id:
                records_of_line = records.filtered_domain(line._filter_domain_list())
                results[line] = line.action_id._lead_scoring_run(records_of_line, dates)
        return results

    def _filter_domain_list(self):
        return ast.literal_eval(self.filter_domain) if self.filter_domain else []

    def _action_values(self):
        self.ensure_one()
        values = {
            "name": self.name,
            "state": "lead_score",
            "model_id": self.trigger_model_id.id,
            "score_model_id": self.model_id.id,
            **{action_field: self[field] or False for field, action_field in ACTION_FIELDS.items()},
            "score_expire_unit": self.expire_unit,
        }
        if self.trigger == "api_event":
            # An event names the scored record itself: no path to follow.
            values["score_target_field"] = False
        else:
            # Only "Event from the API" lines answer events.
            values["score_api_code"] = False
        return values

    def _automation_values(self):
        self.ensure_one()
        values = {
            "name": self.name,
            "model_id": self.trigger_model_id.id,
            "trigger": self.trigger,
            "filter_domain": self._automation_filter_domain(),
            "active": self.active and self.model_id.active,
        }
        if self.trigger in ("on_create_or_write",):
            values["trigger_field_ids"] = [Command.set(self.trigger_field_ids.ids)]
        if self.trigger == "on_time":
            values.update(
                trg_date_id=self.date_field_id.id,
                trg_date_range=self.date_delay,
                trg_date_range_type=self.date_delay_unit,
            )
        return values

    def _automation_filter_domain(self):
        """The filter of the Automation Rule: the marketer's filter, plus what the
        trigger implies when Odoo would otherwise derive it from fields we do not
        expose ("On archived" means the record is now archived)."""
        domain = self.filter_domain if self.filter_domain not in (False, "", "[]") else False
        if self.trigger == "on_archive":
            archived = "[('active', '=', False)]"
            domain = f"['&', {domain[1:-1]}, ('active', '=', False)]" if domain else archived
        return domain

    def _sync_automation(self):
        """Create or update the backing Automation Rule and its action (as superuser)."""
        for line in self.sudo():
            if line.action_id:
                line.action_id.write(line._action_values())
            else:
                line.action_id = self.env["ir.actions.server"].sudo().create(line._action_values())
            if line.trigger in self._event_triggers():
                # Fired by code: no Automation Rule (a former one goes).
                line.action_id.write({"base_automation_id": False, "usage": "ir_actions_server"})
                line.automation_id.unlink()
                continue
            values = line._automation_values()
            if line.automation_id:
                line.automation_id.write(values)
            else:
                line.automation_id = self.env["base.automation"].sudo().create(values)
                line.action_id.write(
                    {"base_automation_id": line.automation_id.id, "usage": "base_automation"}
                )
