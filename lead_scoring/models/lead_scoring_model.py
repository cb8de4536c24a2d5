import logging
import math
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, format_date

from .. import lab_math
from ..domains import domain_error, is_empty, parse_domain
from ..engine import (
    FULL_EVALUATION_INTERVAL,
    SAFETY_NET_SLICES,
    Recompute,
    find_targets,
    model_clamp_sql,
    registered_targets,
    score_at_sql,
)

_logger = logging.getLogger(__name__)

# Settings that change every score of a model without touching its ledger.
SCORE_SETTINGS = {
    "rollup",
    "use_min_score",
    "min_score",
    "use_max_score",
    "max_score",
    "decay_half_life_days",
}

# Settings that decide which scoring model gives a record its primary score.
PRIMARY_SETTINGS = {"active", "sequence", "company_id", "target", "domain"}
# Settings a record's revenue forecast depends on: its primary model, the calibration.
FORECAST_SETTINGS = PRIMARY_SETTINGS | {
    "date_lab_applied",
    "win_calibration_intercept",
    "win_calibration_slope",
}
# Settings the conversion report's view holds (each model's segment).
REPORT_SETTINGS = {"active", "target", "domain"}

# Model health: the outcomes of this many last days are measured...
HEALTH_DAYS = 90
# ... and a fall of the ROC AUC by more than this since the lab was applied
# means the points no longer fit the deals being won: time to run the lab.
HEALTH_AUC_DROP = 0.05


class LeadScoringModel(models.Model):
    _name = "lead.scoring.model"
    _inherit = ["mail.thread"]
    _description = "Scoring Model"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    description = fields.Text(translate=True)
    user_id = fields.Many2one(
        "res.users",
        "Responsible",
        default=lambda self: self.env.user,
        help="Who looks after this model: thresholds that schedule activities fall back "
        "to them when a record has no salesperson.",
    )
    target = fields.Selection(
        selection="_selection_target",
        required=True,
        default="contact",
        help="Contacts are scored on res.partner, deals on CRM opportunities.",
    )
    target_model = fields.Char(compute="_compute_target_model")
    active = fields.Boolean(default=True, tracking=True)
    sequence = fields.Integer(
        default=10,
        help="The first active model of a target gives the contact score or "
        "deal score shown in lists and forms.",
    )
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to score the records of all companies.",
    )
    domain = fields.Char(
        "Segment",
        default="[]",
        required=True,
        help="The records this model scores, e.g. professional customers only. "
        "Every rule applies within it; automations and manual points skip the "
        "records outside it. Empty: every record.",
    )
    trend_days = fields.Integer(
        "Trend Period (days)",
        default=30,
        help="A score's trend compares it with the score this many days ago.",
    )
    segment_count = fields.Integer(
        "In Segment Now",
        compute="_compute_segment_count",
        help="Active records of the model's company that match its segment today: the "
        "records its rules are evaluated on.",
    )
    rollup = fields.Selection(
        [("none", "None"), ("sum", "Sum"), ("max", "Highest"), ("average", "Average")],
        "Account Roll-up",
        default="none",
        required=True,
        help="Contact models: a company's score adds up its own points and the sum, "
        "highest or average score of its active contacts in this model.",
    )
    rule_ids = fields.One2many("lead.scoring.rule", "model_id", string="Rules", copy=True)
    threshold_ids = fields.One2many(
        "lead.scoring.threshold", "model_id", string="Thresholds", copy=True
    )
    band_ids = fields.One2many("lead.scoring.band", "model_id", string="Bands", copy=True)
    grade_ids = fields.One2many(
        "lead.scoring.grade",
        "model_id",
        string="Grades",
        copy=True,
        context={"active_test": False},
    )
    automation_ids = fields.One2many("lead.scoring.automation", "model_id", string="Automations")
    use_min_score = fields.Boolean("Minimum Score", tracking=True)
    min_score = fields.Float(help="Scores never go below this value.", tracking=True)
    use_max_score = fields.Boolean("Maximum Score", tracking=True)
    max_score = fields.Float(default=100.0, help="Scores never go above this value.", tracking=True)
    decay_half_life_days = fields.Float(
        "Decay Half-Life (days)",
        help="Points lose half their value after this many days. 0 = no decay.",
        tracking=True,
    )
    date_last_recompute = fields.Datetime("Last Recompute", readonly=True)
    scores_dirty = fields.Boolean(
        default=True,
        copy=False,
        readonly=True,
        help="Technical: the ledger or the score settings changed since the scores "
        "were last refreshed. Set in the transaction that changes them, so that "
        "a run that dies before the refresh still leaves it for the next run.",
    )
    primary_sync_pending = fields.Boolean(
        default=True,
        copy=False,
        readonly=True,
        help="Technical: which scoring model gives the records of this target their "
        "primary score changed; the next run copies every primary score again.",
    )
    date_safety_net = fields.Datetime(
        "Safety Net Pass Started",
        readonly=True,
        copy=False,
        help="Technical: when the current pass of the daily safety net started. "
        "The rules are evaluated again on a sixth of the records every 4 hours "
        "after it, so that every record is evaluated again within a day.",
    )
    safety_net_id = fields.Integer(
        "Safety Net Reached Id",
        readonly=True,
        copy=False,
        help="Technical: the records up to this id were evaluated again in the "
        "current pass of the daily safety net.",
    )
    # Written by the scoring lab's Apply (lead.scoring.lab.action_apply).
    date_lab_applied = fields.Datetime(
        "Lab Applied On",
        readonly=True,
        copy=False,
        help="When the scoring lab's points and win probability calibration were last applied.",
    )
    lab_auc = fields.Float(
        "ROC AUC at the Last Apply",
        digits=(3, 2),
        readonly=True,
        copy=False,
        help="ROC AUC of the applied points on the newest 30% of the outcomes the "
        "lab analysed: what the model health is compared with.",
    )
    win_calibration_intercept = fields.Float(
        "Calibration Intercept",
        digits=(16, 6),
        readonly=True,
        copy=False,
        help="Win probability = 1 / (1 + e^-(intercept + slope * score)), fitted by "
        "the scoring lab on the won and lost outcomes at the points it applied.",
    )
    win_calibration_slope = fields.Float(
        "Calibration Slope",
        digits=(16, 6),
        readonly=True,
        copy=False,
        help="Change of the log-odds of winning per point of score.",
    )
    health_auc = fields.Float(
        "ROC AUC, Last 90 Days",
        digits=(3, 2),
        compute="_compute_health",
        help="How well the score at closing (rebuilt from the ledger) told the "
        "opportunities won from the lost ones closed in the last 90 days (since "
        "the last apply of the lab, if later): 0.5 = a coin toss, 1 = perfect.",
    )
    health_won_count = fields.Integer("Won, Last 90 Days", compute="_compute_health")
    health_lost_count = fields.Integer("Lost, Last 90 Days", compute="_compute_health")
    health_note = fields.Char("Health", compute="_compute_health")
    health_warning = fields.Boolean(
        "Time to Run the Lab",
        compute="_compute_health",
        help="The ROC AUC fell by more than 0.05 since the lab was last applied.",
    )
    scored_count = fields.Integer(
        "Ever Scored",
        compute="_compute_statistics",
        help="Records that have a score in this model: every record that ever got points, "
        "archived ones and ones that have left the segment included.",
    )
    average_score = fields.Float(compute="_compute_statistics")
    live_point_count = fields.Integer("Live Ledger Lines", compute="_compute_statistics")

    _sql_constraints = [
        (
            "decay_half_life_days_positive",
            "CHECK(decay_half_life_days >= 0)",
            "The decay half-life cannot be negative.",
        ),
    ]

    @api.model
    @tools.ormcache()
    def _registered_targets(self):
        return find_targets(self.env.registry)

    @api.model
    def _selection_target(self):
        """The targets registered by the scored models (``lead.scoring.mixin``)."""
        return [
            (
                target.key,
                self.env[target.model_name]._lead_scoring_target_label._translate(
                    self.env.lang or "en_US"
                ),
            )
            for target in registered_targets(self.env).values()
        ]

    @api.depends("target")
    def _compute_target_model(self):
        targets = registered_targets(self.env)
        for scoring_model in self:
            target = targets.get(scoring_model.target)
            scoring_model.target_model = target.model_name if target else False

    @api.depends("domain", "target", "company_id")
    def _compute_segment_count(self):
        for scoring_model in self:
            try:
                scoring_model.segment_count = scoring_model._target_records().search_count(
                    scoring_model._scope_domain()
                )
            except Exception:  # noqa: BLE001 -- a half-typed segment in the form
                scoring_model.segment_count = 0

    def _compute_statistics(self):
        scores = self.env["lead.scoring.score"].sudo()
        stats = {
            scoring_model.id: (count, total)
            for scoring_model, count, total in scores._read_group(
                [("model_id", "in", self.ids)], ["model_id"], ["__count", "score:sum"]
            )
        }
        live = dict(
            self.env["lead.scoring.point"]
            .sudo()
            ._read_group(
                [("model_id", "in", self.ids), ("is_live", "=", True)],
                ["model_id"],
                ["__count"],
            )
        )
        for scoring_model in self:
            count, total = stats.get(scoring_model.id, (0, 0.0))
            scoring_model.scored_count = count
            scoring_model.average_score = total / count if count else 0.0
            scoring_model.live_point_count = live.get(scoring_model, 0)

    @api.depends("date_lab_applied", "lab_auc", "target", "company_id")
    def _compute_health(self):
        for scoring_model in self:
            scoring_model.update(scoring_model._health())

    def _health(self):
        """The model health: ROC AUC of the score at closing of the outcomes
        closed in the last ``HEALTH_DAYS`` days, and since the last apply of
        the lab (scores at closing before it came from the old points).

        The score at closing is rebuilt from the ledger as the conversion
        report does, clamped like the live score; one grouped query.
        """
        self.ensure_one()
        now = fields.Datetime.now()
        since = now - timedelta(days=HEALTH_DAYS)
        if self.date_lab_applied:
            since = max(since, self.date_lab_applied)
        values = {
            "health_auc": 0.0,
            "health_won_count": 0,
            "health_lost_count": 0,
            "health_note": False,
            "health_warning": False,
        }
        outcomes = self.id and self._lab_outcomes_sql(since, now)
        if not outcomes:
            return values
        self.env.flush_all()  # the deals' stages and the ledger, read below in SQL
        self.env.cr.execute(
            SQL(
                """
                SELECT ROUND((%(score)s)::numeric, 4)::float8 AS score,
                       count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won)
                  FROM (%(outcomes)s) o
                 GROUP BY 1
                """,
                score=model_clamp_sql(
                    self,
                    score_at_sql(
                        self.id,
                        SQL("p.%s = o.id", SQL.identifier(self._target_column())),
                        SQL("o.date_closed"),
                    ),
                ),
                outcomes=outcomes,
            )
        )
        groups = self.env.cr.fetchall()
        won = sum(group[1] for group in groups)
        lost = sum(group[2] for group in groups)
        values.update(health_won_count=won, health_lost_count=lost)
        auc = lab_math.roc_auc(groups)
        if won + lost < lab_math.MIN_OUTCOMES or auc is None:
            values["health_note"] = self.env._(
                "%(won)s won and %(lost)s lost since %(since)s: at least %(min)s outcomes, "
                "won and lost, are needed to measure.",
                won=won,
                lost=lost,
                since=format_date(self.env, since),
                min=lab_math.MIN_OUTCOMES,
            )
            return values
        values["health_auc"] = auc
        if self.lab_auc and self.lab_auc - auc > HEALTH_AUC_DROP:
            values["health_warning"] = True
            values["health_note"] = self.env._(
                "The ROC AUC fell from %(before).2f at the last apply to %(now).2f: "
                "time to run the lab.",
                before=self.lab_auc,
                now=auc,
            )
        return values

    @api.constrains("use_min_score", "min_score", "use_max_score", "max_score")
    def _check_score_bounds(self):
        for scoring_model in self:
            if (
                scoring_model.use_min_score
                and scoring_model.use_max_score
                and scoring_model.min_score > scoring_model.max_score
            ):
                raise ValidationError(
                    self.env._(
                        "The minimum score of %(model)s cannot be above its maximum.",
                        model=scoring_model.name,
                    )
                )

    @api.constrains("domain", "target")
    def _check_segment(self):
        for scoring_model in self:
            error = domain_error(scoring_model._target_records(), scoring_model.domain)
            if error:
                raise ValidationError(
                    self.env._(
                        'The segment of scoring model "%(model)s" is not a valid domain on '
                        "%(target)s: %(error)s",
                        model=scoring_model.name,
                        target=scoring_model.target_model,
                        error=error,
                    )
                )

    @api.constrains("rollup", "target")
    def _check_rollup(self):
        for scoring_model in self:
            if scoring_model.rollup != "none" and scoring_model.target_model != "res.partner":
                raise ValidationError(
                    self.env._(
                        'Scoring model "%(model)s": only contact models roll scores up '
                        "into their companies.",
                        model=scoring_model.name,
                    )
                )

    @api.constrains("target", "rule_ids")
    def _check_rules_target(self):
        # Changing the target invalidates every rule domain written for the old one.
        self.rule_ids._check_domain()

    @api.model_create_multi
    def create(self, vals_list):
        scoring_models = super().create(vals_list)
        # Which model is primary may have changed (cached per target).
        self.env["lead.scoring.rule"]._update_watched_models()
        self._flag_primary_sync(scoring_models.mapped("target"))
        self._forecast_inputs_changed(scoring_models.mapped("target"))
        if scoring_models.filtered("domain"):
            self.env["lead.scoring.conversion.report"]._rebuild()
        return scoring_models

    def write(self, vals):
        if SCORE_SETTINGS & vals.keys():
            vals = dict(vals, scores_dirty=True)
        old_targets = self.mapped("target")
        res = super().write(vals)
        if PRIMARY_SETTINGS & vals.keys():
            self.env["lead.scoring.rule"]._update_watched_models()
            # The primary model of some records changed: their contact/deal score must follow.
            self._flag_primary_sync(old_targets + self.mapped("target"))
            self.env["lead.scoring.rule"]._trigger_recompute()
        if FORECAST_SETTINGS & vals.keys():
            self._forecast_inputs_changed(old_targets + self.mapped("target"))
        if REPORT_SETTINGS & vals.keys():
            self.env["lead.scoring.conversion.report"]._rebuild()
        if "active" in vals:
            if not vals["active"]:
                self.rule_ids._close_open_lines()
            self.with_context(active_test=False).automation_ids._sync_automation()
        return res

    def unlink(self):
        targets = self.mapped("target")
        automations = self.with_context(active_test=False).automation_ids
        automations.unlink()
        res = super().unlink()
        self.env["lead.scoring.rule"]._update_watched_models()
        for target in set(targets):
            self._target_records_for(target)._lead_scoring_sync_primary_score()
        return res

    def _forecast_inputs_changed(self, targets):
        """A calibration, or which model gives records of ``targets`` their
        primary score, changed: their forecast follows at once."""
        for target in set(targets):
            self._target_records_for(target)._lead_scoring_forecast_inputs_changed()

    def action_recompute(self):
        """Recompute the scores of these models now (button "Recompute now").

        Every rule is evaluated on every record, not only on the records saved
        since the last run: this also catches data changed behind the ORM's
        back (an import through SQL).
        """
        self.check_access("write")
        if not self.sudo()._recompute_scores(full=True):
            raise UserError(
                self.env._("Scores are being recomputed right now. Try again in a minute.")
            )
        return True

    def action_open_lab(self):
        """Button "Scoring Lab": learn this model's points from its closed
        opportunities (``lead.scoring.lab``). Managers only."""
        self.ensure_one()
        if not self.env.user.has_group("lead_scoring.group_lead_scoring_manager"):
            raise AccessError(self.env._("Only lead scoring managers can run the scoring lab."))
        self.check_access("write")
        if self._lab_outcomes_sql(None, None) is None:
            raise UserError(
                self.env._(
                    "The scoring lab learns from won and lost opportunities: it works for "
                    "models that score contacts or deals."
                )
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Scoring Lab: %(model)s", model=self.name),
            "res_model": "lead.scoring.lab",
            "view_mode": "form",
            "target": "current",
            "context": {"default_model_id": self.id},
        }

    def _refresh_all_bands(self):
        """Relabel the scores of these models after their bands changed."""
        for scoring_model in self.sudo():
            self.env["lead.scoring.score"].sudo()._refresh_bands(scoring_model)
        for target in set(self.mapped("target")):
            self._target_records_for(target)._lead_scoring_sync_primary_score()

    def action_open_points(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [("model_id", "=", self.id)]
        action["context"] = {"search_default_filter_live": 1}
        return action

    def action_open_scores(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_score_action"
        )
        action["domain"] = [("model_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    def _target(self):
        """The scored Odoo model of this scoring model (``engine.Target``)."""
        self.ensure_one()
        return registered_targets(self.env)[self.target]

    def _target_column(self):
        """Column of the ledger and score tables that holds the scored record."""
        return self._target().column

    def _target_records(self):
        """Empty recordset of the scored model, with archived records excluded."""
        return self.env[self._target().model_name].sudo().with_context(active_test=True)

    def _target_company_domain(self):
        """Records this model may score: all, or those of its company and shared ones."""
        self.ensure_one()
        if not self.company_id:
            return []
        return [("company_id", "in", [False, self.company_id.id])]

    def _segment_domain(self):
        """The segment as a domain ([] for every record)."""
        self.ensure_one()
        return [] if is_empty(self.domain) else parse_domain(self.env, self.domain)

    def _scope_domain(self):
        """The records this model scores: its company's (or all) within its segment."""
        return expression.AND([self._target_company_domain(), self._segment_domain()])

    def _ids_in_segment(self, target_ids):
        """The ids among ``target_ids`` inside this model's segment (one query,
        none without a segment). Automations, manual and API points skip the others."""
        self.ensure_one()
        if is_empty(self.domain):
            return set(target_ids)
        records = self._target_records().with_context(active_test=False)
        inside = set(records._search([("id", "in", list(target_ids)), *self._segment_domain()]))
        if len(inside) < len(set(target_ids)):
            _logger.info(
                "Lead scoring: model %s skipped %s, outside its segment",
                self.id,
                sorted(set(target_ids) - inside),
            )
        return inside

    def _lab_outcomes_sql(self, date_from, date_to):
        """``(id, won, date_closed)`` of the records of this model's target
        with a won or lost outcome closed from ``date_from`` (included) to
        ``date_to`` (excluded), among the records this model may score
        (archived ones included: a lost deal is archived); None when the
        target has no outcomes (see ``_lead_scoring_lab_outcomes_sql``)."""
        self.ensure_one()
        records = self._target_records().with_context(active_test=False)
        outcomes = records._lead_scoring_lab_outcomes_sql(date_from, date_to)
        if outcomes is None:
            return None
        scope = self._scope_domain()
        if not scope:
            return outcomes
        return SQL(
            "SELECT o.* FROM (%s) o WHERE o.id IN (%s)",
            outcomes,
            records._search(scope).select(),
        )

    def _recompute_scores(self, commit=False, full=False):
        """Evaluate rules, expire lines, refresh scores and bands, then fire
        thresholds (see ``engine.Recompute``). Runs as superuser.

        :param commit: commit each step (the cron)
        :param full: evaluate every rule on every record, not only on the
            records saved since the last run ("Recompute now")
        """
        if self.env.context.get("lead_scoring_engine"):
            return False
        return Recompute(self, full=full).run(commit=commit)

    def _safety_net_range(self, now):
        """The id range ``(low, high)`` of the records this run evaluates again
        for the daily safety net (see ``lead.scoring.rule._evaluate``), or None.

        A pass covers the ids in ``SAFETY_NET_SLICES`` slices, one due every
        day / slices after the pass started (every 4 hours): no run pays for
        the whole table, and since a slice's scans of related tables (a
        customer's country, tags) cost the same whatever its size, a few
        slices cost less than one per run. Slices due meanwhile (runs missed,
        a daily schedule) are taken together; the last completes the pass and
        starts the next.
        """
        self.ensure_one()
        start, reached = self.date_safety_net, self.safety_net_id
        if not start:
            # The rules were just evaluated in full: the first pass starts now.
            self._mark_safety_net(now, 0)
            return None
        due = min(SAFETY_NET_SLICES, (now - start) * SAFETY_NET_SLICES // FULL_EVALUATION_INTERVAL)
        if due <= 0:
            return None
        self.env.cr.execute(
            SQL("SELECT max(id) FROM %s", SQL.identifier(self._target_records()._table))
        )
        last_id = self.env.cr.fetchone()[0] or 0
        if due == SAFETY_NET_SLICES:
            self._mark_safety_net(now, 0)
            return (reached + 1, last_id + 1) if reached < last_id else None
        high = math.ceil(last_id * due / SAFETY_NET_SLICES)
        if high <= reached:
            return None
        self._mark_safety_net(start, high)
        return reached + 1, high + 1

    def _mark_safety_net(self, start, reached):
        """Record where the safety net's pass is; in SQL: a technical mark
        that no one tracks or watches."""
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_model SET date_safety_net = %s, safety_net_id = %s"
                " WHERE id = %s",
                start,
                reached,
                self.id,
            )
        )
        self.invalidate_recordset(["date_safety_net", "safety_net_id"])

    @api.model
    def _mark_scores_dirty(self, model_ids):
        """Record, in the current transaction, that these models' ledgers changed."""
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_model SET scores_dirty = TRUE"
                " WHERE id = ANY(%s) AND NOT scores_dirty",
                list(model_ids),
            )
        )
        self.invalidate_model(["scores_dirty"])

    @api.model
    def _flag_primary_sync(self, targets, pending=True):
        """Flag (or clear) the scoring models of these targets for a full copy
        of the primary scores, in the transaction that changes which model is primary."""
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_model SET primary_sync_pending = %s"
                " WHERE target = ANY(%s) AND primary_sync_pending != %s",
                pending,
                list(set(targets)),
                pending,
            )
        )
        self.invalidate_model(["primary_sync_pending"])

    @api.model
    def _target_records_for(self, target):
        return self.env[registered_targets(self.env)[target].model_name].sudo()

    @api.model
    def _cron_recompute_scores(self):
        """Recompute every active scoring model (scheduled action).

        Archived models take part only so that the contact/deal scores they
        used to provide are moved to the next primary model.
        """
        # A handful of scoring models: reading them all is the point.
        scoring_models = self.sudo().with_context(active_test=False)
        # pylint: disable=no-search-all
        return scoring_models.search([])._recompute_scores(commit=True)
