import logging
import math

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Date
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.safe_eval import datetime, safe_eval, time

_logger = logging.getLogger(__name__)

# What a domain that stopped fitting the data raises (unknown field, wrong type).
# Anything else (a cancelled statement, a serialization failure) is not the
# rule's fault and must stop the run rather than leave the rule's lines stale.
DOMAIN_ERRORS = (ValueError, KeyError, TypeError, psycopg2.ProgrammingError, psycopg2.DataError)

EXPIRE_UNITS = [("days", "Days"), ("weeks", "Weeks"), ("months", "Months")]


def expire_date_from(date, amount, unit):
    """Expiry of a line dated ``date`` that lives ``amount`` ``unit`` (0 = never).

    Months are calendar months (relativedelta): 31 January + 1 month = 28/29 February.
    """
    if not amount:
        return False
    return date + relativedelta(**{unit: amount})


class LeadScoringRule(models.Model):
    _name = "lead.scoring.rule"
    _description = "Scoring Rule"
    _order = "sequence, id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
    )
    target_model = fields.Char(related="model_id.target_model")
    company_id = fields.Many2one(related="model_id.company_id")
    name = fields.Char(required=True, translate=True)
    domain = fields.Char(
        default="[]",
        required=True,
        help="Records matching this filter get the rule's points once, for as "
        "long as they keep matching.",
    )
    points = fields.Float(required=True, help="May be negative.")
    expire_after = fields.Integer(help="0 = the points never expire.")
    expire_unit = fields.Selection(EXPIRE_UNITS, default="months", required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    match_count = fields.Integer("Matching Records", compute="_compute_match_count")

    _sql_constraints = [
        (
            "expire_after_positive",
            "CHECK(expire_after >= 0)",
            "The expiry of a rule cannot be negative.",
        ),
    ]

    @api.depends("domain", "model_id.target", "model_id.company_id")
    def _compute_match_count(self):
        for rule in self:
            try:
                rule.match_count = rule._target_records().search_count(rule._match_domain())
            except Exception:  # noqa: BLE001 -- a half-typed domain in the form
                rule.match_count = 0

    @api.constrains("domain", "model_id")
    def _check_domain(self):
        for rule in self.filtered("model_id"):
            try:
                domain = rule._parsed_domain()
                query = rule._target_records()._search(domain)
                # Planning the query (LIMIT 0 returns nothing) catches type errors
                # that only PostgreSQL sees, e.g. a text compared with a number.
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(SQL("%s LIMIT 0", query.select()))
            except Exception as error:
                raise ValidationError(
                    self.env._(
                        'The filter of rule "%(rule)s" is not a valid domain on '
                        "%(target)s: %(error)s",
                        rule=rule.name,
                        target=rule.model_id.target_model,
                        error=error,
                    )
                ) from error

    @api.constrains("points", "expire_after")
    def _check_points(self):
        for rule in self:
            if not math.isfinite(rule.points):
                raise ValidationError(self.env._("The points of a rule must be a finite number."))
            if rule.expire_after < 0:
                raise ValidationError(
                    self.env._(
                        'Rule "%(rule)s": points cannot expire after a negative time.',
                        rule=rule.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        self._trigger_recompute()
        return rules

    def write(self, vals):
        if "active" in vals and not vals["active"]:
            self._close_open_points()
        res = super().write(vals)
        if {"domain", "active", "model_id"} & vals.keys():
            if "model_id" in vals:
                self._close_open_points()
            self._trigger_recompute()
        return res

    def unlink(self):
        self._close_open_points()
        self._trigger_recompute()
        return super().unlink()

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------

    def _domain_eval_context(self):
        return {
            "uid": self.env.uid,
            "user": self.env.user,
            "datetime": datetime,
            "relativedelta": relativedelta,
            "time": time,
            "context_today": lambda: Date.context_today(self),
        }

    def _parsed_domain(self):
        """The rule's domain as data (safe evaluation, never Python code)."""
        self.ensure_one()
        domain = safe_eval(self.domain or "[]", self._domain_eval_context())
        if not isinstance(domain, list | tuple):
            raise ValueError(self.env._("a domain must be a list of conditions"))
        return expression.normalize_domain(list(domain))

    def _target_records(self):
        self.ensure_one()
        return self.model_id._target_records()

    def _match_domain(self):
        self.ensure_one()
        return expression.AND([self._parsed_domain(), self.model_id._target_company_domain()])

    def _match_query(self):
        """SQL ``SELECT id`` of the records this rule matches now."""
        return self._target_records()._search(self._match_domain()).select("id")

    def _reason(self):
        self.ensure_one()
        return self.env._("Rule: %(rule)s", rule=self.name)

    def _sync_points(self, now):
        """Open a line for each record that started matching, close the line of
        each record that stopped matching.

        One statement per rule, over sets: the rule's domain is evaluated
        once (a materialized CTE) and diffed against the rule's open lines.
        A rule whose domain no longer evaluates (a field was removed, a module
        uninstalled) is logged and left alone: one broken rule cannot stop
        the others.
        """
        cr = self.env.cr
        for rule in self:
            expire_date = expire_date_from(now, rule.expire_after, rule.expire_unit)
            try:
                with cr.savepoint(flush=False):
                    cr.execute(rule._sync_points_sql(now, expire_date))
                    closed, opened = cr.fetchone()
                    if closed or opened:
                        rule.model_id._mark_scores_dirty(rule.model_id.ids)
            except DOMAIN_ERRORS:
                _logger.exception(
                    "Lead scoring: rule %s (%s) skipped, its domain cannot be evaluated",
                    rule.id,
                    rule.name,
                )
                continue
            _logger.debug(
                "Lead scoring: rule %s opened %d and closed %d lines", rule.id, opened, closed
            )

    def _sync_points_sql(self, now, expire_date):
        # The matching records and the rule's open lines are each read once
        # (materialized) and diffed with hash set operations: a plan that stays
        # linear even when the ledger's statistics are stale (a nested loop over
        # a ledger "known" to be empty turns quadratic as the statement fills
        # it). The two data-modifying parts touch disjoint records (those that
        # stopped matching, those that started), so one snapshot serves both.
        self.ensure_one()
        return SQL(
            """
            WITH matching AS MATERIALIZED (%(match)s),
            open_lines AS MATERIALIZED (
                SELECT p.id, p.%(column)s AS target_id
                  FROM lead_scoring_point p
                 WHERE p.rule_id = %(rule)s AND p.closed_date IS NULL
            ), closed AS (
                UPDATE lead_scoring_point p
                   SET closed_date = %(now)s, is_live = FALSE,
                       write_date = %(now)s, write_uid = %(uid)s
                  FROM (SELECT target_id FROM open_lines
                        EXCEPT SELECT id FROM matching) gone
                 WHERE p.rule_id = %(rule)s AND p.closed_date IS NULL
                   AND p.%(column)s = gone.target_id
                RETURNING 1
            ), opened AS (
                INSERT INTO lead_scoring_point (
                    model_id, rule_id, %(column)s, points, source, reason,
                    date, expire_date, is_live,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(model)s, %(rule)s, new.id, %(points)s, 'rule', %(reason)s,
                       %(now)s, %(expire)s, %(live)s,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM (SELECT id FROM matching EXCEPT SELECT target_id FROM open_lines) new
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM opened)
            """,
            match=self._match_query(),
            column=SQL.identifier(self.model_id._target_column()),
            model=self.model_id.id,
            rule=self.id,
            points=self.points,
            reason=self._reason(),
            now=now,
            expire=expire_date or None,
            live=not expire_date or expire_date > now,
            uid=self.env.uid,
        )

    def _close_open_points(self):
        """Close the open lines of these rules (rule archived, moved or deleted)."""
        if not self.ids:
            return
        self.env["lead.scoring.point"].flush_model()
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_point
                   SET closed_date = %(now)s, is_live = FALSE,
                       write_date = %(now)s, write_uid = %(uid)s
                 WHERE rule_id IN %(rules)s AND closed_date IS NULL
                """,
                now=now,
                uid=self.env.uid,
                rules=tuple(self.ids),
            )
        )
        if self.env.cr.rowcount:
            self.env["lead.scoring.model"]._mark_scores_dirty(self.model_id.ids)
        self.env["lead.scoring.point"].invalidate_model(
            ["closed_date", "is_live", "write_date", "write_uid"]
        )

    @api.model
    def _trigger_recompute(self):
        """Ask the recompute cron to run soon: rule changes show without waiting."""
        cron = self.env.ref("lead_scoring.ir_cron_recompute_scores", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()
