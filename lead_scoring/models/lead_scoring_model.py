import logging
import threading
import time
from functools import partial

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Settings that change every score of a model without touching its ledger.
SCORE_SETTINGS = {
    "use_min_score",
    "min_score",
    "use_max_score",
    "max_score",
    "decay_half_life_days",
}

# pg_advisory_lock key that keeps two recomputes of one database apart ("LSRC").
RECOMPUTE_LOCK_KEY = 0x4C535243

# Above this many changed records, and this share of all records, rules are
# evaluated on every record: one scan beats looking up that many records.
FULL_EVALUATION_MIN_CHANGES = 1000
FULL_EVALUATION_SHARE = 0.2

# What each kind of scoring model scores: the Odoo model, and the column that
# points at it from the ledger and score tables.
TARGETS = {
    "contact": ("res.partner", "partner_id"),
    "deal": ("crm.lead", "lead_id"),
}


class LeadScoringModel(models.Model):
    _name = "lead.scoring.model"
    _description = "Scoring Model"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    target = fields.Selection(
        [("contact", "Contacts"), ("deal", "Deals")],
        required=True,
        default="contact",
        help="Contacts are scored on res.partner, deals on CRM opportunities.",
    )
    target_model = fields.Char(compute="_compute_target_model")
    active = fields.Boolean(default=True)
    sequence = fields.Integer(
        default=10,
        help="The first active model of a target gives the contact score or "
        "deal score shown in lists and forms.",
    )
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to score the records of all companies.",
    )
    rule_ids = fields.One2many("lead.scoring.rule", "model_id", string="Rules", copy=True)
    threshold_ids = fields.One2many(
        "lead.scoring.threshold", "model_id", string="Thresholds", copy=True
    )
    band_ids = fields.One2many("lead.scoring.band", "model_id", string="Bands", copy=True)
    automation_ids = fields.One2many("lead.scoring.automation", "model_id", string="Automations")
    use_min_score = fields.Boolean("Minimum Score")
    min_score = fields.Float(help="Scores never go below this value.")
    use_max_score = fields.Boolean("Maximum Score")
    max_score = fields.Float(default=100.0, help="Scores never go above this value.")
    decay_half_life_days = fields.Float(
        "Decay Half-Life (days)",
        help="Points lose half their value after this many days. 0 = no decay.",
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
    scored_count = fields.Integer("Records Scored", compute="_compute_statistics")
    average_score = fields.Float(compute="_compute_statistics")
    live_point_count = fields.Integer("Live Ledger Lines", compute="_compute_statistics")

    _sql_constraints = [
        (
            "decay_half_life_days_positive",
            "CHECK(decay_half_life_days >= 0)",
            "The decay half-life cannot be negative.",
        ),
    ]

    @api.depends("target")
    def _compute_target_model(self):
        for scoring_model in self:
            scoring_model.target_model = TARGETS.get(scoring_model.target, (False,))[0]

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

    @api.constrains("target", "rule_ids")
    def _check_rules_target(self):
        # Changing the target invalidates every rule domain written for the old one.
        self.rule_ids._check_domain()

    @api.model_create_multi
    def create(self, vals_list):
        scoring_models = super().create(vals_list)
        # Which model is primary may have changed (cached per target).
        self.env.registry.clear_cache()
        return scoring_models

    def write(self, vals):
        if SCORE_SETTINGS & vals.keys():
            vals = dict(vals, scores_dirty=True)
        res = super().write(vals)
        if {"active", "sequence", "company_id", "target"} & vals.keys():
            self.env.registry.clear_cache()
            # The primary model of some records changed: their contact/deal score must follow.
            self.env["lead.scoring.rule"]._trigger_recompute()
        if "active" in vals:
            if not vals["active"]:
                self.rule_ids._close_open_points()
            self.with_context(active_test=False).automation_ids._sync_automation()
        return res

    def unlink(self):
        targets = set(self.mapped("target"))
        automations = self.with_context(active_test=False).automation_ids
        automations.unlink()
        res = super().unlink()
        self.env.registry.clear_cache()
        for target in targets:
            self._target_records_for(target)._lead_scoring_sync_primary_score()
        return res

    def action_recompute(self):
        """Recompute the scores of these models now (button "Recompute now").

        Every rule is evaluated on every record, not only on the records saved
        since the last run: this also catches data changed behind the ORM's
        back (an import through SQL).
        """
        self.check_access("write")
        if not self.sudo().with_context(lead_scoring_full_evaluation=True)._recompute_scores():
            raise UserError(
                self.env._("Scores are being recomputed right now. Try again in a minute.")
            )
        return True

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

    def _target_column(self):
        """Column of lead_scoring_point / lead_scoring_score that holds the scored record."""
        self.ensure_one()
        return TARGETS[self.target][1]

    def _target_records(self):
        """Empty recordset of the scored model, with archived records excluded."""
        self.ensure_one()
        return self.env[TARGETS[self.target][0]].sudo().with_context(active_test=True)

    def _target_company_domain(self):
        """Records this model may score: all, or those of its company and shared ones."""
        self.ensure_one()
        if not self.company_id:
            return []
        return [("company_id", "in", [False, self.company_id.id])]

    def _decayed_points_sql(self, now):
        """SQL expression of a ledger line's current value under this model's decay."""
        self.ensure_one()
        if not self.decay_half_life_days:
            return SQL("points")
        return SQL(
            "points * power(0.5, EXTRACT(EPOCH FROM (%s::timestamp - date)) / 86400.0 / %s)",
            now,
            self.decay_half_life_days,
        )

    def _clamp_sql(self, expression):
        """Clamp an SQL expression to this model's enabled min/max."""
        self.ensure_one()
        if self.use_max_score:
            expression = SQL("LEAST(%s, %s)", expression, self.max_score)
        if self.use_min_score:
            expression = SQL("GREATEST(%s, %s)", expression, self.min_score)
        return expression

    def _recompute_scores(self, commit=False):
        """Evaluate rules, expire lines, refresh scores and bands, then fire thresholds.

        Runs as superuser. Each step is one set-based SQL statement per rule
        or per model, so its cost grows with the size of the sets, not with a
        number of queries. With ``commit`` (the cron), each step is its own
        short transaction: no long lock on the ledger, and a run that dies
        half-way leaves committed steps that the next run simply completes,
        since every step recomputes from the ledger and the data as they are.
        """
        if self.env.context.get("lead_scoring_engine"):
            return False
        engine = self.with_context(lead_scoring_engine=True)
        if not engine._lock_recompute():
            _logger.info("Lead scoring: another recompute is running, this one skips")
            return False
        try:
            engine.env.flush_all()
            if commit:
                engine._analyze_stale_tables()
            started = time.monotonic()
            steps = engine._recompute_steps(fields.Datetime.now())
            # Like crm's lead scoring cron: no intermediate commits under tests.
            commit = commit and not getattr(threading.current_thread(), "testing", False)
            for done, step in enumerate(steps, 1):
                step_started = time.monotonic()
                step()
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                    self.env["ir.cron"]._notify_progress(done=done, remaining=len(steps) - done)
                _logger.debug(
                    "Lead scoring: %s.%s took %.3f s",
                    step.func.__self__,
                    step.func.__name__,
                    time.monotonic() - step_started,
                )
            _logger.info(
                "Lead scoring: %d models recomputed in %.1f s (%d steps)",
                len(self.filtered("active")),
                time.monotonic() - started,
                len(steps),
            )
        finally:
            engine._unlock_recompute()
        self.env.invalidate_all()
        return True

    def _recompute_steps(self, now):
        """The recompute as a list of ``functools.partial``, in order.

        Per target: take the records saved since the last run (the rules look
        at those only, unless a rule must see every record), evaluate the
        rules and refresh the scores of each model, fire the thresholds, then
        drop the changes taken. Contact models come first: the deals their
        thresholds create are then scored by the deal models in the same run,
        so that a second run right after has nothing left to do.
        """
        steps = []
        active = self.filtered("active")
        changes = self.env["lead.scoring.change"]
        full = self.env.context.get("lead_scoring_full_evaluation")
        for target in ("contact", "deal"):
            target_models = active.filtered(lambda m, t=target: m.target == t)
            if target_models and not full:
                steps.append(partial(target_models._take_changes, target))
            for scoring_model in target_models:
                steps += [
                    partial(rule._sync_points, now)
                    for rule in scoring_model.rule_ids
                    if rule.active
                ]
                steps.append(partial(scoring_model._refresh_model_scores, now))
            steps += [
                partial(threshold._fire_thresholds)
                for threshold in target_models.threshold_ids
                if threshold.active
            ]
            if target_models and not full:
                steps.append(partial(changes._release, target))
        steps += [
            partial(self._sync_primary_scores_of, target)
            for target in sorted(set(self.mapped("target")))
        ]
        return steps

    def _take_changes(self, target):
        """Take the records of ``target`` saved since the last run, for the
        rules of these models to evaluate. When they are a large part of all
        records, evaluating the rules on every record is cheaper."""
        changed = self.env["lead.scoring.change"]._take(target)
        total = self.env["lead.scoring.change"]._target_table_size(target)
        if changed > max(FULL_EVALUATION_MIN_CHANGES, FULL_EVALUATION_SHARE * total):
            _logger.info(
                "Lead scoring: %d of about %d records changed, rules evaluated on all",
                changed,
                total,
            )
            self.rule_ids.write({"date_full_evaluation": False})

    def _refresh_model_scores(self, now):
        """Refresh the scores whose ledger changed, and the primary score of
        their records, in one transaction: a run that dies after it leaves
        nothing half-copied."""
        self.ensure_one()
        scores = self.env["lead.scoring.score"]
        records = self._target_records()
        if self.scores_dirty or self.decay_half_life_days:
            changed = scores._refresh_scores(self, now)
            self.scores_dirty = False
            records._lead_scoring_sync_primary_score(scoring_model=self)
            self.env["lead.scoring.refresh"]._clear(self)
        else:
            changed = {}
            target_ids = scores._targets_to_refresh(self, now)
            if target_ids:
                changed = scores._refresh_scores(self, now, target_ids)
                records._lead_scoring_sync_primary_score(target_ids=list(changed))
                self.env["lead.scoring.refresh"]._clear(self)
        _logger.info("Lead scoring: model %s recomputed, %d scores changed", self.id, len(changed))
        self.date_last_recompute = now

    def _sync_primary_scores_of(self, target):
        """Copy every record's primary score again when which model gives it
        changed (a model was added, archived, reordered or moved to another
        company) since the last run. Otherwise each refresh has copied the
        scores it changed already."""
        records = self._target_records_for(target)
        signature = repr(records._lead_scoring_primary_models())
        parameters = self.env["ir.config_parameter"].sudo()
        key = f"lead_scoring.primary_models_{target}"
        if parameters.get_param(key) != signature:
            records._lead_scoring_sync_primary_score()
            parameters.set_param(key, signature)

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

    def _analyze_stale_tables(self):
        """Refresh the statistics of the ledger and score tables when a tenth of
        their rows changed since they were last analysed: the plans of the
        rule diff depend on them, and autovacuum may not have come by since a
        big run (or may have looked in the middle of one)."""
        self.env.cr.execute(
            SQL(
                """
                SELECT relname FROM pg_stat_user_tables
                 WHERE relid IN ('lead_scoring_point'::regclass, 'lead_scoring_score'::regclass)
                   AND n_mod_since_analyze > 0.1 * GREATEST(n_live_tup, 1000)
                """
            )
        )
        for (table,) in self.env.cr.fetchall():
            self.env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))

    def _lock_recompute(self):
        """Take the recompute lock of this database, or return False if taken.

        A session-level advisory lock: it outlives the run's intermediate
        commits, and PostgreSQL releases it if the worker dies.
        """
        self.env.cr.execute(SQL("SELECT pg_try_advisory_lock(%s)", RECOMPUTE_LOCK_KEY))
        return self.env.cr.fetchone()[0]

    def _unlock_recompute(self):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s)", RECOMPUTE_LOCK_KEY))

    @api.model
    def _target_records_for(self, target):
        return self.env[TARGETS[target][0]].sudo()

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
