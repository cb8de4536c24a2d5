import logging
import math
import re

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from ..award import COMPANY, INACTIVE, SEGMENT, Award, History, Policy, judge
from ..expiry import EXPIRE_UNITS

_logger = logging.getLogger(__name__)

# What an outside system may send as an event type: a short word, no spaces.
API_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class IrActionsServer(models.Model):
    """Server action type "Adjust score": one ledger line per triggering record."""

    _inherit = "ir.actions.server"

    state = fields.Selection(
        selection_add=[("lead_score", "Adjust score")],
        ondelete={"lead_score": "cascade"},
    )
    score_model_id = fields.Many2one(
        "lead.scoring.model",
        "Scoring Model",
        domain=[("state", "=", "live")],
        ondelete="restrict",
        index="btree_not_null",
    )
    score_points = fields.Float("Points", help="Points added to the score; may be negative.")
    score_expire_after = fields.Integer("Points Expire After", help="0 = the points never expire.")
    score_expire_unit = fields.Selection(EXPIRE_UNITS, "Expiry Unit", default="months")
    score_target_field = fields.Char(
        "Scored Record Path",
        help="Optional path from the triggering record to the scored record, "
        "e.g. partner_id.commercial_partner_id. When empty: the record itself, "
        "its partner_id, its model/res_id pair, or the contact with its email.",
    )
    score_cooldown_hours = fields.Float(
        "Cooldown (hours)",
        help="No second award to the same record from this action within this many "
        "hours before or after the date of an award (an event posted late is judged "
        "at its own date). 0 = no cooldown.",
    )
    score_max_points = fields.Float(
        "Points Cap",
        help="Most points a record can hold at once from this action. 0 = no cap.",
    )
    score_api_code = fields.Char(
        "API Event Type",
        copy=False,
        index="btree_not_null",
        help="Event type an outside system sends to POST /lead_scoring/v1/events to "
        "run this action, e.g. webinar_attended. Unique within a company.",
    )

    def _compute_name(self):
        res = super()._compute_name()
        for action in self.filtered(lambda a: a.state == "lead_score" and a.base_automation_id):
            action.name = self.env._(
                "Adjust score %(model)s by %(points)s",
                model=action.score_model_id.name or "",
                points=format(action.score_points, "+g"),
            )
        return res

    @api.constrains("state", "score_model_id", "score_points", "score_expire_after")
    def _check_lead_score(self):
        for action in self.filtered(lambda a: a.state == "lead_score"):
            if not action.score_model_id:
                raise ValidationError(
                    self.env._(
                        '"Adjust score" action %(action)s needs a scoring model.',
                        action=action.name,
                    )
                )
            if not math.isfinite(action.score_points):
                raise ValidationError(self.env._("Points must be a finite number."))
            if (
                action.score_expire_after < 0
                or action.score_cooldown_hours < 0
                or action.score_max_points < 0
            ):
                raise ValidationError(self.env._("Expiry, cooldown and cap cannot be negative."))
            if action.score_target_field:
                action._lead_scoring_check_path()

    @api.constrains("state", "score_api_code", "score_model_id")
    def _check_score_api_code(self):
        actions = self.filtered(lambda a: a.state == "lead_score" and a.score_api_code)
        for action in actions:
            if not API_CODE_PATTERN.fullmatch(action.score_api_code):
                raise ValidationError(
                    self.env._(
                        'API event type "%(code)s": use at most 64 letters, digits and '
                        '"_", ".", ":" or "-", without spaces, e.g. webinar_attended.',
                        code=action.score_api_code,
                    )
                )
        others = self.sudo().search(
            [
                ("state", "=", "lead_score"),
                ("score_api_code", "in", actions.mapped("score_api_code")),
            ]
        )
        for action in actions:
            clash = (others - action).filtered(action._lead_scoring_same_api_code)[:1]
            if clash:
                raise ValidationError(
                    self.env._(
                        'API event type "%(code)s" is already used by "%(other)s" (scoring '
                        "model %(model)s): an event type must be unique within a company.",
                        code=action.score_api_code,
                        other=clash.name,
                        model=clash.score_model_id.name,
                    )
                )

    def _lead_scoring_same_api_code(self, other):
        """Whether ``other`` answers the same events: same code, and companies
        that overlap (a scoring model of all companies overlaps every company)."""
        company = self.sudo().score_model_id.company_id
        other_company = other.sudo().score_model_id.company_id
        return other.score_api_code == self.score_api_code and (
            not company or not other_company or company == other_company
        )

    def _lead_scoring_check_path(self):
        model = self.env[self.model_id.model]
        for name in self.score_target_field.split("."):
            field = model._fields.get(name)
            if not field or not field.relational:
                raise ValidationError(
                    self.env._(
                        'Scored record path "%(path)s": %(model)s has no relational '
                        'field "%(field)s".',
                        path=self.score_target_field,
                        model=model._name,
                        field=name,
                    )
                )
            model = self.env[field.comodel_name]
        if model._name != self.score_model_id.target_model:
            raise ValidationError(
                self.env._(
                    'Scored record path "%(path)s" leads to %(model)s, but scoring '
                    "model %(score)s scores %(target)s.",
                    path=self.score_target_field,
                    model=model._name,
                    score=self.score_model_id.name,
                    target=self.score_model_id.target_model,
                )
            )

    # ------------------------------------------------------------------
    # Runner
    # ------------------------------------------------------------------

    def _run_action_lead_score_multi(self, eval_context=None):
        records = eval_context.get("records") or eval_context.get("record")
        if not records:
            return False
        self._lead_scoring_check_caller(eval_context["env"])
        self._lead_scoring_run(records)
        return False

    def _lead_scoring_run(self, records, dates=None, source="action"):
        """Award this action's points to the records ``records`` lead to.

        What the server action runs for an Automation Rule, and what the
        triggers fired by code (``lead.scoring.automation._fire_trigger``)
        run: one award per scored record, through ``_lead_scoring_award``.

        :param dates: optional ``{record id: datetime}``, when the triggering
            event happened earlier than now (the line is dated then)
        :return: ``{target_id: points written}``
        """
        scoring_model = self.sudo().score_model_id
        if not scoring_model.active:
            _logger.info(
                "Lead scoring: action %s did nothing, scoring model %s is archived",
                self.id,
                scoring_model.id,
            )
            return {}
        awards = self._lead_scoring_awards(records, scoring_model, dates or {})
        return self._lead_scoring_award(awards, source)

    def _lead_scoring_check_caller(self, caller_env):
        """Points come from the automations' real triggers (Odoo's automation
        engine and the thresholds run actions as superuser), the events API,
        the engine and managers: refuse anyone else who runs the action
        directly (a button, ``run()`` over RPC)."""
        if caller_env.su or caller_env.user.has_group("lead_scoring.group_lead_scoring_manager"):
            return
        _logger.warning(
            "Lead scoring: user %s tried to run Adjust score action %s directly; refused",
            caller_env.user.login,
            self.id,
        )
        raise AccessError(
            self.env._(
                'Only automations and scoring managers can run "%(action)s": '
                "points cannot be added by hand.",
                action=self.name,
            )
        )

    def _lead_scoring_awards(self, records, scoring_model, dates):
        """``[Award]`` for the records that lead to a scored record: one per
        scored record (two triggering records of one contact count once)."""
        targets = self._lead_scoring_scored_records(records, scoring_model)
        skipped = records - records.browse(list(targets))
        if skipped:
            _logger.info(
                "Lead scoring: action %s skipped %s, no %s to score",
                self.id,
                skipped,
                scoring_model.target_model,
            )
        now = fields.Datetime.now()
        awards = {}
        for record_id, target_id in targets.items():
            if target_id not in awards:
                record = records.browse(record_id)
                awards[target_id] = Award(
                    target_id,
                    dates.get(record_id) or now,
                    self._lead_scoring_reason(record),
                    key=record_id,
                )
        return list(awards.values())

    def _lead_scoring_reason(self, record):
        # Automation Rules rename their actions after the action type: their own
        # name ("Opened mailing") is the one that tells why.
        name = self.base_automation_id.name or self.name
        if record._name == "mail.activity":
            # "Gesprek gevoerd (Call)": the line and the kind of activity done.
            activity_type = record.activity_type_id.name
            return f"{name} ({activity_type})" if activity_type else name
        return f"{name}: {record.display_name}"

    def _lead_scoring_scored_records(self, records, scoring_model):
        """``{triggering record id: scored record id}`` for the records that have
        an active target, found for all of them at once by the scored model
        (``_lead_scoring_find_targets``) unless a path, the record itself or
        an activity's document says (the company and segment gates come with
        the award, see ``_lead_scoring_award``)."""
        records = records.sudo()
        Target = self.env[scoring_model.target_model].sudo()
        if self.score_target_field or records._name in (Target._name, "mail.activity"):
            found = {}
            for record in records:
                target = self._lead_scoring_scored_record(record, scoring_model)
                if target and target._name == Target._name:
                    found[record.id] = target.id
        else:
            found = Target._lead_scoring_find_targets(records)
        active = set(Target.browse(set(found.values())).filtered("active").ids)
        return {
            record_id: target_id for record_id, target_id in found.items() if target_id in active
        }

    def _lead_scoring_scored_record(self, record, scoring_model):
        """The record scored for ``record``: the path when one is set, the
        record itself, else what the scored model finds for it (contacts:
        its partner, its document reference, the contact with its e-mail)."""
        if self.score_target_field:
            return record.mapped(self.score_target_field)[:1]
        if record._name == "mail.activity":
            # An activity done scores the record it is attached to, found as
            # for that record (a contact model: an opportunity's customer).
            document = record._lead_scoring_document()
            return document and self._lead_scoring_scored_record(document, scoring_model)
        if record._name == scoring_model.target_model:
            return record
        return self.env[scoring_model.target_model]._lead_scoring_find_target(record)

    # ------------------------------------------------------------------
    # The award path: every behaviour point goes through here
    # ------------------------------------------------------------------

    def _lead_scoring_award(self, awards, source="action"):
        """Apply a batch of awards of this action (``lead_scoring.award.Award``):
        the one path of automation, API, website and mailing points.

        Set-based, a fixed number of queries whatever the batch: the company
        and segment gates, one look at the ledger (cooldown around each
        award's own date and cap, counting the awards accepted earlier in the
        batch, oldest first, see ``award.judge``), expiry from the award's
        date, then the lines, graded, inserted by the statement that
        refreshes the scores (``lead.scoring.point._add_points``).

        Each award gets its outcome: ``points`` written (graded) or a
        ``refusal`` (``award.REFUSALS``), logged here, worded by the caller.

        :param source: ``action`` or ``api`` (the ledger's source)
        :return: ``{target_id: points written}``
        """
        self.ensure_one()
        action = self.sudo()
        scoring_model = action.score_model_id
        if not awards:
            return {}
        if not scoring_model.active or scoring_model.state == "draft":
            for award in awards:
                award.refusal = INACTIVE
            return {}
        now = fields.Datetime.now()
        action._lead_scoring_gate(scoring_model, awards)
        policy = action._lead_scoring_policy()
        pending = [award for award in awards if not award.refusal]
        histories = action._lead_scoring_history(scoring_model, pending, policy, now)
        accepted = judge(pending, histories, policy, now)
        action._lead_scoring_log_refusals(awards)
        if not accepted:
            return {}
        given = {award.target_id: award.points for award in accepted}
        written = (
            self.env["lead.scoring.point"]
            .sudo()
            ._add_points(
                scoring_model,
                [(a.target_id, a.points, a.reason, a.date) for a in accepted],
                source,
                expire_after=policy.expire_after,
                expire_unit=policy.expire_unit,
                action=action,
                in_segment=True,
            )
        )
        totals = {}
        for award in accepted:
            # A grade multiplies all the points of a record alike.
            award.points *= written[award.target_id] / given[award.target_id]
            totals[award.target_id] = totals.get(award.target_id, 0.0) + award.points
        return totals

    def _lead_scoring_policy(self):
        """What this action gives and how often, for ``award.judge``."""
        return Policy(
            points=self.score_points,
            cooldown_hours=self.score_cooldown_hours,
            cap=self.score_max_points,
            expire_after=self.score_expire_after,
            expire_unit=self.score_expire_unit or "months",
        )

    def _lead_scoring_gate(self, scoring_model, awards):
        """Refuse the awards of records outside the scoring model's company
        (one read, none for a model of all companies) or segment (one query,
        none without a segment)."""
        company = scoring_model.company_id
        if company:
            records = self.env[scoring_model.target_model].sudo()
            targets = records.browse({award.target_id for award in awards})
            outside = {t.id for t in targets if t.company_id not in (company, company.browse())}
            for award in awards:
                if award.target_id in outside:
                    award.refusal = COMPANY
        inside = scoring_model._ids_in_segment(
            {award.target_id for award in awards if not award.refusal}
        )
        for award in awards:
            if not award.refusal and award.target_id not in inside:
                award.refusal = SEGMENT

    def _lead_scoring_history(self, scoring_model, awards, policy, now):
        """``{target_id: award.History}``: the dates of this action's lines that
        can put ``awards`` in cooldown, and the live points each record holds
        from it (one query; none without cooldown and cap)."""
        if not awards or not policy.reads_ledger:
            return {}
        start, end = policy.window(awards)
        column = SQL.identifier(scoring_model._target_column())
        self.env["lead.scoring.point"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT %(column)s,
                       COALESCE(array_agg(date) FILTER (
                           WHERE date > %(start)s AND date < %(end)s), '{}'),
                       COALESCE(SUM(points) FILTER (
                           WHERE closed_date IS NULL
                             AND (expire_date IS NULL OR expire_date > %(now)s)), 0)
                  FROM lead_scoring_point
                 WHERE action_id = %(action)s AND %(column)s = ANY(%(targets)s)
                 GROUP BY %(column)s
                """,
                column=column,
                start=start,
                end=end,
                now=now,
                action=self.id,
                targets=list({award.target_id for award in awards}),
            )
        )
        return {
            target_id: History(list(dates), held)
            for target_id, dates, held in self.env.cr.fetchall()
        }

    def _lead_scoring_log_refusals(self, awards):
        refused = [(award.key, award.target_id, award.refusal) for award in awards if award.refusal]
        if refused:
            _logger.info("Lead scoring: action %s refused (key, record, why) %s", self.id, refused)

    def _lead_scoring_allowed_points(self, scoring_model, target_ids):
        """``{target_id: points}`` an award dated now would give each target
        (0 in cooldown or at the cap), before grading. One query, none
        without cooldown and cap."""
        now = fields.Datetime.now()
        policy = self._lead_scoring_policy()
        probes = [Award(target_id, now, "") for target_id in set(target_ids)]
        judge(probes, self._lead_scoring_history(scoring_model, probes, policy, now), policy, now)
        return {probe.target_id: probe.points for probe in probes}
