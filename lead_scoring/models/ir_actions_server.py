import logging
import math
import re
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from .lead_scoring_rule import EXPIRE_UNITS

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
        "hours. 0 = no cooldown.",
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
        event triggers (mailing, website, API) call directly.

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
        return (
            self.env["lead.scoring.point"]
            .sudo()
            ._add_points(
                scoring_model,
                awards,
                source,
                expire_after=self.score_expire_after,
                expire_unit=self.score_expire_unit or "months",
                action=self,
            )
        )

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
        """``[(target_id, points, reason, date)]`` for the records that get points."""
        targets = self._lead_scoring_scored_records(records, scoring_model)
        skipped = records - records.browse(list(targets))
        if skipped:
            _logger.info(
                "Lead scoring: action %s skipped %s, no %s to score",
                self.id,
                skipped,
                scoring_model.target_model,
            )
        allowed = self._lead_scoring_allowed_points(scoring_model, set(targets.values()))
        awards = []
        for record_id, target_id in targets.items():
            points = allowed.get(target_id, self._lead_scoring_capped(0.0))
            if not points:
                continue
            # A record counted once per run, even if two triggering records lead to it.
            allowed[target_id] = 0.0
            record = records.browse(record_id)
            awards.append(
                (target_id, points, self._lead_scoring_reason(record), dates.get(record_id))
            )
        return awards

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
        a target, active and inside the scoring model's company."""
        company = scoring_model.company_id
        targets = {}
        for record in records.sudo():
            target = self._lead_scoring_scored_record(record, scoring_model)
            if (
                target
                and target._name == scoring_model.target_model
                and target.active
                and (not company or target.company_id in (company, company.browse()))
            ):
                targets[record.id] = target.id
        return targets

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

    def _lead_scoring_allowed_points(self, scoring_model, target_ids):
        """Points each target may still get from this action, after cooldown and cap.

        One query whatever the number of targets; targets absent from the
        result get the action's full points.
        """
        return {
            target_id: 0.0
            if self.score_cooldown_hours and in_cooldown
            else self._lead_scoring_capped(held)
            for target_id, (in_cooldown, held) in self._lead_scoring_held_points(
                scoring_model, target_ids
            ).items()
        }

    def _lead_scoring_held_points(self, scoring_model, target_ids):
        """``{target_id: (in cooldown, live points held from this action)}`` for
        the targets this action scored before, when a cooldown or a cap is set
        (one query; none without cooldown and cap)."""
        if not target_ids or not (self.score_cooldown_hours or self.score_max_points):
            return {}
        now = fields.Datetime.now()
        column = SQL.identifier(scoring_model._target_column())
        cooldown_start = now - timedelta(hours=self.score_cooldown_hours)
        self.env["lead.scoring.point"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT %(column)s,
                       bool_or(date > %(cooldown_start)s),
                       COALESCE(SUM(points) FILTER (
                           WHERE closed_date IS NULL
                             AND (expire_date IS NULL OR expire_date > %(now)s)), 0)
                  FROM lead_scoring_point
                 WHERE action_id = %(action)s AND %(column)s = ANY(%(targets)s)
                 GROUP BY %(column)s
                """,
                column=column,
                cooldown_start=cooldown_start,
                now=now,
                action=self.id,
                targets=list(target_ids),
            )
        )
        return {
            target_id: (in_cooldown, held)
            for target_id, in_cooldown, held in self.env.cr.fetchall()
        }

    def _lead_scoring_capped(self, held):
        """This action's points, cut so that a record holds at most the cap."""
        points = self.score_points
        if self.score_max_points and points > 0:
            points = max(0.0, min(points, self.score_max_points - held))
        return points
