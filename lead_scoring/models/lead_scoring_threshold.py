import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)


class LeadScoringThreshold(models.Model):
    """A score value that, when crossed, acts: creates a deal, schedules an
    activity or runs a server action (bridges add actions of their own).

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
        [
            ("create_deal", "Create a deal"),
            ("schedule_activity", "Schedule an activity"),
            ("server_action", "Run a server action"),
        ],
        required=True,
        default="create_deal",
        help="What happens for each record that crosses the threshold.",
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
        help="Deals: assigned to this salesperson, else the contact's. Activities: "
        "assigned to the record's salesperson, else this one, else the scoring "
        "model's responsible.",
    )
    activity_type_id = fields.Many2one(
        "mail.activity.type",
        default=lambda self: self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False),
        ondelete="restrict",
    )
    activity_summary = fields.Char()
    activity_days = fields.Integer(
        "Activity Deadline",
        default=0,
        help="Days after the crossing the activity is due (0: the same day).",
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

    @api.constrains("action", "model_id", "server_action_id", "direction", "activity_type_id")
    def _check_action(self):
        for threshold in self:
            if threshold.action == "create_deal" and threshold.direction == "down":
                raise ValidationError(
                    self.env._(
                        'Threshold "%(threshold)s": a falling score can schedule an activity, '
                        "add the contact to a nurture list or take it off, or run a server "
                        "action; it does not create deals.",
                        threshold=threshold.name,
                    )
                )
            if threshold.action == "schedule_activity":
                threshold._check_activity()
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

    def _check_activity(self):
        self.ensure_one()
        target_model = self.model_id.target_model
        if not self.activity_type_id:
            raise ValidationError(
                self.env._(
                    'Threshold "%(threshold)s" needs an activity type.',
                    threshold=self.name,
                )
            )
        if not target_model or "activity_ids" not in self.env[target_model]._fields:
            raise ValidationError(
                self.env._(
                    'Threshold "%(threshold)s": the records of %(model)s cannot have activities.',
                    threshold=self.name,
                    model=self.model_id.name,
                )
            )
        activity_model = self.activity_type_id.sudo().res_model
        if activity_model and activity_model != target_model:
            raise ValidationError(
                self.env._(
                    'The activity type of threshold "%(threshold)s" is for %(activity_model)s '
                    "records, not %(model)s.",
                    threshold=self.name,
                    activity_model=activity_model,
                    model=target_model,
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # _model_ids_with_thresholds
        return super().create(vals_list)

    def unlink(self):
        self.env.registry.clear_cache()  # _model_ids_with_thresholds
        return super().unlink()

    @api.model
    @tools.ormcache()
    def _model_ids_with_thresholds(self):
        """The scoring models with an active threshold. Cached: every award
        asks, and thresholds change once in a while."""
        return frozenset(self.sudo().search([("active", "=", True)]).model_id.ids)

    def write(self, vals):
        if {"active", "model_id"} & vals.keys():
            self.env.registry.clear_cache()  # _model_ids_with_thresholds
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

    def _fire_thresholds(self, target_ids=None, id_range=None):
        """Fire the thresholds crossed since the last look, and re-arm the others.

        Up: re-arm the records whose score fell below, then fire for the armed
        ones at or above. Down: fire for the armed records now below, then arm
        those at or above (a record arms by being at or above the value).

        :param target_ids: restrict to these records of the thresholds' model
        :param id_range: restrict to the records of this id range ``(low, high)``
            (a run split by id range: each record's crossing is its own, so
            ranges that cover every id fire what one call for all does)
        """
        crossings = self.env["lead.scoring.threshold.crossing"].sudo()
        # A draft's thresholds never fire: drafts score nothing.
        live = self.filtered(lambda t: t.active and t.model_id.state == "live")
        for threshold in live.sudo():
            column = threshold.model_id._target_column()
            if threshold.direction == "down":
                fired_ids = crossings._fall(threshold, target_ids, id_range)
                # Arming is a crossing row for each record at or above.
                crossings._cross(threshold, target_ids, id_range)
            else:
                crossings._rearm(threshold, target_ids, id_range)
                fired_ids = crossings._cross(threshold, target_ids, id_range)
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
        """Act for ``records``, all the records that crossed in this run
        (of one id range when the run is split by range).

        The hook of the actions: ``action`` ``x`` runs ``_run_x(records)``, so
        a bridge that adds an action adds its method; it is called once per
        threshold and run (per id range: ranges may run side by side), with
        thousands of records on a cold run.
        """
        self.ensure_one()
        method = getattr(self, f"_run_{self.action}", None)
        if method is None:
            _logger.warning(
                "Lead scoring: threshold %s has action %s that nothing runs",
                self.id,
                self.action,
            )
            return None
        return method(records)

    def _run_server_action(self, records):
        return (
            self.server_action_id.sudo()
            .with_context(
                active_model=records._name,
                active_ids=records.ids,
                active_id=records[:1].id,
            )
            .run()
        )

    def _score_breakdowns(self, records):
        """Each record's score in the threshold's model and its live ledger
        lines (at most 50, newest first): two queries for the whole batch.

        :return: {record id: (score, lines)}
        """
        column = self.model_id._target_column()
        scores = (
            self.env["lead.scoring.score"]
            .sudo()
            .search_fetch(
                [("model_id", "=", self.model_id.id), (column, "in", records.ids)],
                [column, "score"],
            )
        )
        score_by_id = {score[column].id: score.score for score in scores}
        lines = (
            self.env["lead.scoring.point"]
            .sudo()
            .search_fetch(
                [
                    ("model_id", "=", self.model_id.id),
                    (column, "in", records.ids),
                    ("is_live", "=", True),
                ],
                [column, "points", "reason"],
            )
        )
        lines_by_id = {record.id: group for record, group in lines.grouped(column).items()}
        return {
            record.id: (
                score_by_id.get(record.id, 0.0),
                lines_by_id.get(record.id, lines.browse())[:50],
            )
            for record in records
        }

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

    def _run_create_deal(self, partners):
        partners = partners - self._open_deal_partners(partners)
        if not partners:
            return self.env["crm.lead"]
        breakdowns = self._score_breakdowns(partners)
        scores = {partner: breakdowns[partner.id][0] for partner in partners}
        # No "created" note nor OdooBot as follower on each deal: a cold run
        # creates thousands, and the note on the contact tells why.
        deals = (
            self.env["crm.lead"]
            .sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create([self._deal_values(partner, *breakdowns[partner.id]) for partner in partners])
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

    def _open_activity_ids(self, records):
        """Ids of ``records`` that still have an open activity of this threshold."""
        groups = (
            self.env["mail.activity"]
            .sudo()
            ._read_group(
                [
                    ("lead_scoring_threshold_id", "=", self.id),
                    ("res_model", "=", records._name),
                    ("res_id", "in", records.ids),
                ],
                ["res_id"],
            )
        )
        return {res_id for (res_id,) in groups}

    def _activity_fallback_user(self):
        """The threshold's salesperson, else the scoring model's responsible
        (else its creator)."""
        scoring_model = self.model_id
        if self.user_id:
            return self.user_id
        return scoring_model.user_id or scoring_model.create_uid

    def _run_schedule_activity(self, records):
        """One activity per record that crossed, but none on a record that
        still has an open activity of this threshold: the salesperson works
        the one they have. One create for the batch; no e-mail per activity
        (mail_activity_quick_update): a cold run may schedule thousands, the
        salesperson finds them in the activities menu."""
        skip = self._open_activity_ids(records)
        records = records.filtered(lambda record: record.id not in skip)
        if not records:
            return self.env["mail.activity"]
        breakdowns = self._score_breakdowns(records)
        fallback = self._activity_fallback_user()
        has_user = "user_id" in records._fields
        deadline = fields.Date.context_today(self) + timedelta(days=self.activity_days)
        res_model_id = self.env["ir.model"]._get_id(records._name)
        summary = self.activity_summary or self.name
        return (
            self.env["mail.activity"]
            .sudo()
            .with_context(mail_activity_quick_update=True)
            .create(
                [
                    {
                        "res_model_id": res_model_id,
                        "res_id": record.id,
                        "activity_type_id": self.activity_type_id.id,
                        "summary": summary,
                        "note": self._score_breakdown_html(*breakdowns[record.id]),
                        "date_deadline": deadline,
                        "user_id": ((has_user and record.user_id) or fallback).id,
                        "lead_scoring_threshold_id": self.id,
                    }
                    for record in records
                ]
            )
        )

    def _score_breakdown_html(self, score, lines):
        """Deal description, activity note: the live ledger lines that make the score."""
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
