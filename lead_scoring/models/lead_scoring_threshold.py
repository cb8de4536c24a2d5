import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)


class LeadScoringThreshold(models.Model):
    """A score value that, when crossed upward, creates a deal or runs an action.

    Each (threshold, record) pair starts armed. It fires when the score
    reaches the value, then stays disarmed (a ``lead.scoring.threshold.crossing``
    row) until the score falls back below.
    """

    _name = "lead.scoring.threshold"
    _description = "Score Threshold"
    _order = "model_id, score, id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
    )
    target = fields.Selection(related="model_id.target")
    name = fields.Char(required=True, translate=True)
    score = fields.Float(required=True, help="Fires when a score reaches this value.")
    direction = fields.Selection(
        [("up", "Score rises to it"), ("down", "Score falls below it")],
        required=True,
        default="up",
        help="Up: fires once when a score reaches the value, again only after it fell "
        "below. Down: fires once when a score that was at or above the value falls "
        "below it (engagement dropping), again only after it came back.",
    )
    action = fields.Selection(
        [("create_deal", "Create a deal"), ("server_action", "Run a server action")],
        required=True,
        default="create_deal",
    )
    server_action_id = fields.Many2one(
        "ir.actions.server",
        "Action to Run",
        ondelete="restrict",
        help="Runs with the crossing records as active records.",
    )
    team_id = fields.Many2one("crm.team", "Sales Team")
    user_id = fields.Many2one(
        "res.users",
        "Salesperson",
        help="Defaults to the contact's salesperson.",
    )
    tag_ids = fields.Many2many("crm.tag", string="Tags")
    active = fields.Boolean(default=True)
    crossing_count = fields.Integer("Fired", compute="_compute_crossing_count")

    def _compute_crossing_count(self):
        counts = dict(
            self.env["lead.scoring.threshold.crossing"]
            .sudo()
            ._read_group([("threshold_id", "in", self.ids)], ["threshold_id"], ["__count"])
        )
        for threshold in self:
            threshold.crossing_count = counts.get(threshold, 0)

    @api.constrains("action", "model_id", "server_action_id", "direction")
    def _check_action(self):
        for threshold in self:
            if threshold.action == "create_deal" and threshold.direction == "down":
                raise ValidationError(
                    self.env._(
                        'Threshold "%(threshold)s": a falling score runs a server action '
                        "(schedule an activity, add to a nurture list), it does not create deals.",
                        threshold=threshold.name,
                    )
                )
            if (
                threshold.action == "create_deal"
                and threshold.model_id.target_model != "res.partner"
            ):
                raise ValidationError(
                    self.env._(
                        'Threshold "%(threshold)s": only contact models can create deals.',
                        threshold=threshold.name,
                    )
                )
            if threshold.action == "server_action":
                action = threshold.server_action_id
                if not action:
                    raise ValidationError(
                        self.env._(
                            'Threshold "%(threshold)s" needs a server action to run.',
                            threshold=threshold.name,
                        )
                    )
                target_model = threshold.model_id.target_model
                if action.sudo().model_id.model != target_model:
                    raise ValidationError(
                        self.env._(
                            'The server action of threshold "%(threshold)s" must run on %(model)s.',
                            threshold=threshold.name,
                            model=target_model,
                        )
                    )

    def write(self, vals):
        res = super().write(vals)
        if {"score", "direction"} & vals.keys() or ("active" in vals and not vals["active"]):
            # A new value starts a fresh series of crossings.
            self.env["lead.scoring.threshold.crossing"].sudo().search(
                [("threshold_id", "in", self.ids)]
            ).unlink()
        return res

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    def _fire_thresholds(self, target_ids=None):
        """Fire the thresholds crossed since the last look, and re-arm the others.

        Up: re-arm the records whose score fell below, then fire for the armed
        ones at or above. Down: fire for the armed records now below, then arm
        those at or above (a record arms by being at or above the value).

        :param target_ids: restrict to these records of the thresholds' model
        """
        crossings = self.env["lead.scoring.threshold.crossing"].sudo()
        for threshold in self.filtered("active").sudo():
            column = threshold.model_id._target_column()
            if threshold.direction == "down":
                fired_ids = crossings._fall(threshold, target_ids)
                # Arming is a crossing row for each record at or above.
                crossings._cross(threshold, target_ids)
            else:
                crossings._rearm(threshold, target_ids)
                fired_ids = crossings._cross(threshold, target_ids)
            if not fired_ids:
                continue
            records = threshold.model_id._target_records().browse(fired_ids)
            _logger.info(
                "Lead scoring: threshold %s fired for %d %s",
                threshold.id,
                len(records),
                column,
            )
            threshold._run(records)

    def _run(self, records):
        self.ensure_one()
        if self.action == "create_deal":
            self._create_deals(records)
        elif self.action == "server_action":
            self.server_action_id.sudo().with_context(
                active_model=records._name,
                active_ids=records.ids,
                active_id=records[:1].id,
            ).run()

    def _open_deal_partners(self, partners):
        """Partners that still have an open deal created by this threshold."""
        deals = (
            self.env["crm.lead"]
            .sudo()
            ._read_group(
                [
                    ("lead_scoring_threshold_id", "=", self.id),
                    ("partner_id", "in", partners.ids),
                    ("active", "=", True),
                    ("stage_id.is_won", "=", False),
                ],
                ["partner_id"],
            )
        )
        return self.env["res.partner"].union(*(partner for (partner,) in deals))

    def _create_deals(self, partners):
        partners = partners - self._open_deal_partners(partners)
        if not partners:
            return self.env["crm.lead"]
        scores = {
            score.partner_id: score.score
            for score in self.env["lead.scoring.score"]
            .sudo()
            .search([("model_id", "=", self.model_id.id), ("partner_id", "in", partners.ids)])
        }
        lines = (
            self.env["lead.scoring.point"]
            .sudo()
            .search(
                [
                    ("model_id", "=", self.model_id.id),
                    ("partner_id", "in", partners.ids),
                    ("is_live", "=", True),
                ]
            )
        )
        lines_by_partner = lines.grouped("partner_id")
        # No "created" note nor OdooBot as follower on each deal: a cold run
        # creates thousands, and the note on the contact tells why.
        deals = (
            self.env["crm.lead"]
            .sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create(
                [
                    self._deal_values(
                        partner,
                        scores.get(partner, 0.0),
                        lines_by_partner.get(partner, lines.browse())[:50],
                    )
                    for partner in partners
                ]
            )
        )
        # One batch of log notes, not a message_post per contact: a threshold
        # may fire for thousands of contacts in one run.
        partners.sudo()._message_log_batch(
            bodies={
                partner.id: self.env._(
                    "Score %(score)s in %(model)s reached threshold %(threshold)s: "
                    "deal %(deal)s created.",
                    score=format(scores.get(partner, 0.0), "g"),
                    model=self.model_id.name,
                    threshold=self.name,
                    deal=deal._get_html_link(),
                )
                for partner, deal in zip(partners, deals, strict=True)
            }
        )
        return deals

    def _deal_values(self, partner, score, lines):
        user = self.user_id or partner.user_id
        return {
            "name": self.env._(
                "%(partner)s - %(model)s score %(score)s",
                partner=partner.display_name,
                model=self.model_id.name,
                score=format(score, "g"),
            ),
            "type": "opportunity",
            "partner_id": partner.id,
            "user_id": user.id or False,
            "team_id": self.team_id.id or False,
            "tag_ids": [fields.Command.set(self.tag_ids.ids)],
            "description": self._score_breakdown_html(score, lines),
            "lead_scoring_threshold_id": self.id,
        }

    def _score_breakdown_html(self, score, lines):
        """Deal description: the live ledger lines that make the score."""
        header = self.env._(
            "%(model)s score %(score)s reached threshold %(threshold)s (%(value)s). Breakdown:",
            model=self.model_id.name,
            score=format(score, "g"),
            threshold=self.name,
            value=format(self.score, "g"),
        )
        items = Markup("").join(
            Markup("<li>%s %s</li>") % (f"{line.points:+g}", line.reason) for line in lines
        )
        return Markup("<p>%s</p><ul>%s</ul>") % (header, items)
