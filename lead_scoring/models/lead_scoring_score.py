import math
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL

from .. import insight
from ..engine import band_case_sql, id_range_sql, model_bands, refresh_scores_sql


class LeadScoringScore(models.Model):
    """A record's score in one scoring model: the sum of its live ledger lines."""

    _name = "lead.scoring.score"
    _description = "Score"
    _order = "score desc, id"
    _rec_name = "model_id"
    # Only the engine writes scores: who and when would say nothing, and the
    # user columns would cost two foreign-key checks on each of a million rows.
    _log_access = False

    # No index of its own on model_id: the unique (model, record) indexes and
    # the (model, score) index below all start with it.
    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        readonly=True,
    )
    target = fields.Selection(related="model_id.target")
    company_id = fields.Many2one(related="model_id.company_id")
    # auto_join: the multi-company record rule reads the scored record's
    # company through a join, not an IN over a million contacts' ids.
    partner_id = fields.Many2one(
        "res.partner",
        "Contact",
        ondelete="cascade",
        index="btree_not_null",
        readonly=True,
        auto_join=True,
    )
    lead_id = fields.Many2one(
        "crm.lead",
        "Deal",
        ondelete="cascade",
        index="btree_not_null",
        readonly=True,
        auto_join=True,
    )
    score = fields.Float(readonly=True, aggregator="avg")
    rollup_score = fields.Float(
        "Roll-up",
        readonly=True,
        help="Companies of a roll-up model: the part of the score that comes from "
        "their contacts (included in the score).",
    )
    band_id = fields.Many2one(
        "lead.scoring.band",
        "Score Band",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    band_color = fields.Integer(related="band_id.color")
    win_probability = fields.Float(
        "Win Probability (%)",
        readonly=True,
        aggregator="avg",
        help="Chance of winning at this score, from the calibration the scoring lab "
        "stored on the model when it was applied (empty until then).",
    )
    date_last_change = fields.Datetime("Last Change", readonly=True)
    date_lab_applied = fields.Datetime(related="model_id.date_lab_applied")
    point_ids = fields.Many2many(
        "lead.scoring.point",
        compute="_compute_point_ids",
        string="Why?",
        help="The live ledger lines of this record in this scoring model: what the "
        "score is made of.",
    )
    next_threshold_id = fields.Many2one(
        "lead.scoring.threshold", compute="_compute_next_threshold", string="Next Threshold Up"
    )
    points_to_next = fields.Float(
        "Points to Next Threshold",
        compute="_compute_next_threshold",
        help="Points the record still needs to reach the next threshold up (0 without one).",
    )
    trend = fields.Float(
        compute="_compute_trend",
        search="_search_trend",
        help="The score now minus the score the scoring model's trend period ago (30 days "
        "by default), rebuilt from the ledger with the same expiry, decay and bounds.",
    )
    trend_direction = fields.Selection(
        [("up", "Rising"), ("steady", "Steady"), ("down", "Cooling down")],
        compute="_compute_trend",
        search="_search_trend_direction",
        help="Rising: at least 1 point more than a trend period ago; cooling down: at "
        "least 1 point less.",
    )
    trend_arrow = fields.Char(
        "Trend (arrow)",
        compute="_compute_trend",
        help="The trend as an arrow and points: ▲ rising, ▼ cooling down, ▶ steady.",
    )
    next_steps_html = fields.Html(
        "Next Steps",
        compute="_compute_next_steps_html",
        sanitize=False,
        help="What it takes to reach the next threshold: the first rules the record does "
        "not match yet and the automations that can still give points.",
    )
    percentile = fields.Integer(
        compute="_compute_percentile",
        search="_search_percentile",
        help="Share of this scoring model's scored records with a lower score, in %: "
        "90 or more is the top 10%.",
    )
    threshold_progress = fields.Float(
        "Progress to Next Threshold",
        compute="_compute_next_threshold",
        help="Share of the way from 0 to the next threshold above the score, in %.",
    )

    _sql_constraints = [
        (
            "model_partner_uniq",
            "UNIQUE(model_id, partner_id)",
            "A contact has one score per scoring model.",
        ),
        ("model_lead_uniq", "UNIQUE(model_id, lead_id)", "A deal has one score per scoring model."),
    ]

    def init(self):
        # Thresholds fire for the scores at or above a value: a range, not a scan.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS lead_scoring_score_model_score_idx
                ON lead_scoring_score (model_id, score)
            """
        )

    @api.depends("model_id", "score")
    def _compute_display_name(self):
        for score in self:
            score.display_name = f"{score.model_id.name}: {score.score:g}"

    @api.depends("model_id", "partner_id", "lead_id", "score")
    def _compute_point_ids(self):
        Point = self.env["lead.scoring.point"]
        for score in self:
            column = score.model_id._target_column() if score.model_id else None
            score.point_ids = (
                Point.search(
                    [
                        ("model_id", "=", score.model_id.id),
                        (column, "=", score[column].id),
                        ("is_live", "=", True),
                    ]
                )
                if column and score[column]
                else Point
            )

    @api.depends("score", "model_id.threshold_ids.score", "model_id.threshold_ids.active")
    def _compute_next_threshold(self):
        for score in self:
            above = score.model_id.threshold_ids.filtered(
                lambda t, s=score: t.active and t.score > s.score
            ).sorted("score")[:1]
            score.next_threshold_id = above
            score.points_to_next = max(0.0, above.score - score.score) if above else 0.0
            # No threshold ahead: no progress to show (not a misleading 100 %).
            score.threshold_progress = (
                max(0.0, min(100.0, 100.0 * score.score / above.score)) if above else 0.0
            )

    # ------------------------------------------------------------------
    # Insight: trend and percentile, computed on read (see insight.py)
    # ------------------------------------------------------------------

    def _trend_moment(self, scoring_model):
        return fields.Datetime.now() - timedelta(days=scoring_model.trend_days or 30)

    @api.depends("score", "model_id.trend_days")
    def _compute_trend(self):
        """One statement for the rows of every scoring model read together."""
        self.env["lead.scoring.point"].flush_model()
        branches = []
        for scoring_model, scores in self.grouped("model_id").items():
            column = scoring_model._target_column() if scoring_model else None
            targets = scores.filtered(lambda s, c=column: c and s[c])
            if targets:
                then_sql = insight.score_then_sql(
                    scoring_model,
                    self._trend_moment(scoring_model),
                    [s[column].id for s in targets],
                )
                branches.append(SQL("SELECT %s, q.* FROM (%s) q", scoring_model.id, then_sql))
        then = {}
        if branches:
            self.env.cr.execute(SQL(" UNION ALL ").join(branches))
            then = {
                (model_id, target_id): value
                for model_id, target_id, value in self.env.cr.fetchall()
            }
        for score in self:
            column = score.model_id._target_column() if score.model_id else None
            key = (score.model_id.id, column and score[column].id)
            score.trend = round(score.score - then.get(key, score.score), 2)
            score.trend_direction = insight.trend_direction(score.trend)
            score.trend_arrow = f"{insight.ARROWS[score.trend_direction]} {score.trend:+g}"

    @api.depends("score", "next_threshold_id")
    def _compute_next_steps_html(self):
        for score in self:
            if not score.next_threshold_id:
                score.next_steps_html = False
                continue
            steps = score._lead_scoring_next_steps()[:3]
            items = Markup("").join(
                Markup("<li>%s: +%s</li>") % (step["name"], format(step["points"], "g"))
                for step in steps
            )
            header = self.env._(
                "To reach %(threshold)s: %(points)s points",
                threshold=score.next_threshold_id.name,
                points=format(score.points_to_next, "g"),
            )
            score.next_steps_html = Markup("<p><strong>%s</strong></p><ul>%s</ul>") % (
                header,
                items,
            )

    def _live_scoring_models(self, fnames=()):
        """The live scoring models, with ``fnames`` read by the same query."""
        return (
            self.env["lead.scoring.model"]
            .sudo()
            .search_fetch([("active", "=", True), ("state", "=", "live")], fnames)
        )

    def _search_trend_ranges(self, ranges):
        """A domain of the score rows of the live scoring models whose trend
        is in ``ranges`` (``insight.trend_ranges``): one subquery of the
        search's statement, no ids through Python (``insight.trend_search_sql``)."""
        self.env["lead.scoring.point"].flush_model()
        self.flush_model()
        now = fields.Datetime.now()
        branches = [
            insight.trend_search_sql(scoring_model, self._trend_moment(scoring_model), now, ranges)
            for scoring_model in self._live_scoring_models(_TREND_SEARCH_FIELDS)
        ]
        if not branches:
            return expression.FALSE_DOMAIN
        return [("id", "in", SQL("(%s)", SQL(" UNION ALL ").join(branches)))]

    def _search_trend(self, operator, value):
        if operator not in _TREND_OPERATORS or not isinstance(value, int | float):
            raise UserError(self.env._("Search the trend with a number."))
        return self._search_trend_ranges(insight.trend_ranges(operator, value))

    def _search_trend_direction(self, operator, value):
        values = {value} if isinstance(value, str) else set(value or ())
        if operator in ("!=", "not in"):
            values = {"up", "steady", "down"} - values
        elif operator not in ("=", "in"):
            raise UserError(self.env._("Search the trend direction with = or in."))
        return self._search_trend_ranges(insight.direction_ranges(values))

    @api.depends("score")
    def _compute_percentile(self):
        self.flush_model(["score", "model_id"])
        groups = self.grouped("model_id")
        counts = insight.lower_counts(
            self.env.cr,
            {model.id: scores.mapped("score") for model, scores in groups.items() if model},
        )
        for score in self:
            total, lower = counts.get(score.model_id.id, (0, {}))
            score.percentile = insight.percentile(lower.get(score.score, 0), total)

    def _search_percentile(self, operator, value):
        """Per live scoring model, the rows above its bound
        (``insight.percentile_bounds``, one statement for all the models)."""
        if (
            operator not in (">=", ">")
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise UserError(self.env._('Search the percentile with ">=" or ">" and a number.'))
        # A percentile is an integer: at least the lowest integer that satisfies.
        wanted = math.floor(value) + 1 if operator == ">" else math.ceil(value)
        if wanted <= 0:
            return [("model_id", "in", self._live_scoring_models().ids)]
        self.env["lead.scoring.model"].flush_model(["active", "state"])
        self.flush_model(["score", "model_id"])
        bounds = insight.percentile_bounds(self.env.cr, wanted)
        return expression.OR(
            [
                [("model_id", "=", model_id), ("score", ">", bound)]
                for model_id, bound in bounds.items()
                if bound is not None
            ]
        )

    def _lead_scoring_next_steps(self):
        """What this record could still earn, the largest first: the active
        rules with positive points it does not match (no open line since the
        last run), and the Automations-tab lines with positive points whose
        cap and cooldown still allow an award now, at what they would give.
        Each step is ``{"rule_id", "action_id", "name", "points"}``."""
        self.ensure_one()
        scoring_model = self.model_id.sudo()
        column = scoring_model._target_column()
        target_id = self[column].id
        if not target_id:
            return []
        matched = (
            self.env["lead.scoring.point"]
            .sudo()
            .search(
                [
                    ("model_id", "=", scoring_model.id),
                    (column, "=", target_id),
                    ("rule_id", "!=", False),
                    ("closed_date", "=", False),
                ]
            )
            .rule_id
        )
        steps = [
            {"rule_id": rule.id, "action_id": False, "name": rule.name, "points": rule.points}
            for rule in scoring_model.rule_ids - matched
            if rule.points > 0
        ]
        for line in scoring_model.automation_ids:
            action = line.action_id
            if not (action and line.points > 0):
                continue
            allowed = action._lead_scoring_allowed_points(scoring_model, [target_id])
            points = allowed.get(target_id, action.score_points)
            if points > 0:
                steps.append(
                    {"rule_id": False, "action_id": action.id, "name": line.name, "points": points}
                )
        return sorted(steps, key=lambda step: -step["points"])

    def action_open_rollup_contacts(self):
        """The contacts behind a company's roll-up: its active contacts (those
        without a score in the model count as 0), as a list of contacts."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._(
                "%(model)s: contacts of %(company)s",
                model=self.model_id.name,
                company=self.partner_id.display_name,
            ),
            "res_model": "res.partner",
            "views": [
                (self.env.ref("lead_scoring.res_partner_view_list_lead_scoring_rollup").id, "list"),
                (self.env.ref("base.view_partner_form").id, "form"),
            ],
            "domain": [("parent_id", "=", self.partner_id.id)],
            "context": {
                "active_test": True,
                "create": False,
                "lead_scoring_model_id": self.model_id.id,
            },
        }

    def action_open_points(self):
        self.ensure_one()
        column = self.model_id._target_column()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [("model_id", "=", self.model_id.id), (column, "=", self[column].id)]
        action["context"] = {"search_default_filter_live": 1}
        return action

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    @api.model
    def _refresh_scores(self, scoring_model, now, target_ids=None, new_lines=None, id_range=None):
        """Recompute scores of a model from its live lines, in one statement
        (``engine.refresh_scores_sql``); only changed scores are written.

        :param target_ids: restrict to these records (default: all of the model)
        :param new_lines: optional data-modifying SQL that inserts ledger lines
            and returns ``(target_id, points)``: they count in the same statement
        :param id_range: restrict to the records of this id range (``engine.id_range_sql``)
        :return: ``{record id: (new score, new band id)}`` of the changed scores
        """
        if target_ids is not None and not target_ids:
            return {}
        self.env["lead.scoring.point"].flush_model()
        self.env["lead.scoring.band"].flush_model()
        self.flush_model()
        # Bands as a CASE when every score of the model (or of a range) is
        # refreshed; a few scores (the award path) keep the subquery and
        # spare the query reading them.
        bands = model_bands(self.env.cr, scoring_model.id) if target_ids is None else None
        self.env.cr.execute(
            refresh_scores_sql(scoring_model, now, bands, target_ids, new_lines, id_range=id_range)
        )
        changed = {
            target_id: (score, band_id) for target_id, score, band_id in self.env.cr.fetchall()
        }
        self.invalidate_model(["score", "band_id", "win_probability", "date_last_change"])
        self.env["lead.scoring.point"].invalidate_model(["is_live"])
        return changed

    @api.model
    def _merge_scores(self, column, merged_ids, survivor_id):
        """Drop the score rows of records merged away (the survivor's are
        refreshed from the merged ledger).

        :return: ids of the models that scored any of the merged records or the survivor
        """
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH dropped AS (
                    DELETE FROM lead_scoring_score WHERE %(column)s = ANY(%(merged)s)
                 RETURNING model_id
                )
                SELECT model_id FROM dropped
                 UNION
                SELECT model_id FROM lead_scoring_score WHERE %(column)s = %(survivor)s
                """,
                column=SQL.identifier(column),
                merged=merged_ids,
                survivor=survivor_id,
            )
        )
        self.invalidate_model()
        return {model_id for (model_id,) in self.env.cr.fetchall()}

    @api.model
    def _targets_to_refresh(self, scoring_model, now, id_range=None):
        """Records of a model whose score may have changed since it was last
        computed: a rule changed their lines, or a live line expired (only
        those of ``id_range``, see ``engine.id_range_sql``)."""
        column = SQL.identifier(scoring_model._target_column())
        self.flush_model()
        self.env["lead.scoring.point"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT res_id FROM (%(queued)s) queued(res_id) WHERE TRUE %(queued_range)s
                 UNION
                SELECT p.%(column)s FROM lead_scoring_point p
                 WHERE p.model_id = %(model)s AND p.closed_date IS NULL
                   AND p.is_live AND p.expire_date <= %(now)s %(lines_range)s
                """,
                column=column,
                model=scoring_model.id,
                now=now,
                queued=self.env["lead.scoring.refresh"]._queued_ids_sql(scoring_model),
                queued_range=id_range_sql(SQL("res_id"), id_range),
                lines_range=id_range_sql(SQL("p.%s", column), id_range),
            )
        )
        return [target_id for (target_id,) in self.env.cr.fetchall()]

    @api.model
    def _refresh_bands(self, scoring_model):
        """Relabel every score of a model after its bands changed."""
        self.env["lead.scoring.band"].flush_model()
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_score s
                   SET band_id = fresh.band_id
                  FROM (
                      SELECT s2.id, %(band)s AS band_id
                        FROM lead_scoring_score s2
                       WHERE s2.model_id = %(model)s
                  ) fresh
                 WHERE s.id = fresh.id AND s.band_id IS DISTINCT FROM fresh.band_id
                """,
                band=band_case_sql(model_bands(self.env.cr, scoring_model.id), SQL("s2.score")),
                model=scoring_model.id,
            )
        )
        self.invalidate_model(["band_id"])


# Operators a trend can be searched with.
_TREND_OPERATORS = (">", ">=", "<", "<=", "=", "!=")
# What the trend search reads of the scoring models (insight.trend_search_sql).
_TREND_SEARCH_FIELDS = (
    "target",
    "trend_days",
    "decay_half_life_days",
    "use_min_score",
    "min_score",
    "use_max_score",
    "max_score",
)
