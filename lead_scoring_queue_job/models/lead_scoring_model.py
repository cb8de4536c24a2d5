import logging
from contextlib import contextmanager

from psycopg2 import errors

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import SQL, str2bool

from odoo.addons.lead_scoring.engine import RECOMPUTE_LOCK_KEY, Recompute, registered_targets
from odoo.addons.lead_scoring.models.lead_scoring_rule import DOMAIN_ERRORS
from odoo.addons.queue_job.exception import RetryableJobError

from ..recompute_graph import SPLIT_EVALUATION_PREFIX, RecomputeGraph, split_evaluation_mark

_logger = logging.getLogger(__name__)

# Switch: the scheduled run and "Recompute now" enqueue jobs (True, the default
# at install) or run the engine in the cron's worker as without this addon.
USE_JOBS_PARAM = "lead_scoring_queue_job.use_jobs"

# The job methods, each one or a few steps of the engine (see recompute_graph).
JOB_METHODS = (
    "_job_take_changes",
    "_job_evaluate_range",
    "_job_evaluate_rules",
    "_job_refresh",
    "_job_refresh_range",
    "_job_sync_primary_range",
    "_job_sync_primary_of_changed",
    "_job_fire_thresholds",
    "_job_release_changes",
    "_job_sync_primary_scores",
)
UNFINISHED_STATES = ("wait_dependencies", "pending", "enqueued", "started")

# Two jobs that wrote the same rows: the later one starts again on fresh data.
CONCURRENCY_ERRORS = (
    errors.SerializationFailure,
    errors.LockNotAvailable,
    errors.DeadlockDetected,
)
CONCURRENCY_RETRY_SECONDS = (2, 10)
# Another run holds a scoring model (or the engine runs in a cron): wait for it,
# without using up the job's retries.
LOCK_RETRY_SECONDS = (5, 15)

# pg_try_advisory_xact_lock(RECOMPUTE_LOCK_KEY, ENQUEUE_LOCK) keeps two
# transactions from enqueueing a run at the same moment (model ids start at 1).
ENQUEUE_LOCK = 0


class LeadScoringModel(models.Model):
    _inherit = "lead.scoring.model"

    def action_recompute(self):
        """Button "Recompute now": enqueue the run; the form says where to follow it."""
        self._check_live()
        if not self._use_jobs():
            return super().action_recompute()
        self.check_access("write")
        jobs = self.sudo()._enqueue_recompute(full=True)
        if not jobs:
            raise UserError(
                self.env._("Scores are being recomputed right now. Try again in a minute.")
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._(
                    "The scores are being recomputed by %(count)s background jobs "
                    "(Settings > Technical > Job Queue).",
                    count=jobs,
                ),
            },
        }

    # ------------------------------------------------------------------
    # Enqueueing
    # ------------------------------------------------------------------

    @api.model
    def _use_jobs(self):
        return str2bool(
            self.env["ir.config_parameter"].sudo().get_param(USE_JOBS_PARAM, "False"), False
        )

    def _enqueue_recompute(self, full=False):
        """Enqueue a recompute of these scoring models as a graph of jobs.

        :return: the number of jobs, or 0 when a run of one of them is not
            finished (it goes on; the scheduled run comes back later)
        """
        self.env.cr.execute(
            SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", RECOMPUTE_LOCK_KEY, ENQUEUE_LOCK)
        )
        if not self.env.cr.fetchone()[0]:
            return 0
        unfinished, abandoned = self._recompute_jobs()
        if unfinished:
            _logger.info(
                "Lead scoring: %d jobs of the previous recompute are not done, no new run",
                len(unfinished),
            )
            return 0
        # A graph with a failed job waits forever: the new run does its work.
        abandoned.button_cancelled()
        self.env.flush_all()
        return RecomputeGraph(self, full=full).delay()

    def _recompute_jobs(self):
        """``(unfinished, abandoned)``: the jobs of runs of these scoring
        models still to do, and among the waiting ones those whose graph has
        a failed or cancelled job (they will never run)."""
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("model_name", "=", self._name),
                    ("method_name", "in", JOB_METHODS),
                    ("state", "in", UNFINISHED_STATES),
                ]
            )
            .filtered(lambda job: set(job.records.ids) & set(self.ids))
        )
        graphs = set(jobs.mapped("graph_uuid")) - {False}
        stopped = set(
            self.env["queue.job"]
            .sudo()
            .search([("graph_uuid", "in", list(graphs)), ("state", "in", ("failed", "cancelled"))])
            .mapped("graph_uuid")
        )
        abandoned = jobs.filtered(
            lambda job: job.graph_uuid in stopped and job.state == "wait_dependencies"
        )
        return jobs - abandoned, abandoned

    # ------------------------------------------------------------------
    # Jobs: each runs one or a few steps of the engine
    # ------------------------------------------------------------------

    @contextmanager
    def _job_recompute(self, now=None, full=False, shared=False):
        """The engine's run of these scoring models, for one job.

        Holds for the job's transaction a share of the database's recompute
        lock (so that the engine running in a cron, ``Recompute.run``, and
        jobs exclude each other) and the lock of each scoring model:
        exclusive, or ``shared`` by the rule jobs of one run that may run side
        by side. A lock held elsewhere, or a write that collided with another
        transaction's, makes the job retry a little later.
        """
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock_shared(%s)", RECOMPUTE_LOCK_KEY))
        locked = cr.fetchone()[0]
        for model_id in sorted(self.ids):
            if shared:
                lock = SQL(
                    "SELECT pg_try_advisory_xact_lock_shared(%s, %s)", RECOMPUTE_LOCK_KEY, model_id
                )
            else:
                lock = SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", RECOMPUTE_LOCK_KEY, model_id)
            cr.execute(lock)
            locked = locked and cr.fetchone()[0]
        if not locked:
            raise RetryableJobError(
                "Lead scoring: another recompute holds these scoring models",
                seconds=LOCK_RETRY_SECONDS,
                ignore_retry=True,
            )
        recompute = Recompute(self.sudo(), full=full)
        if now is not None:
            recompute.now = now
        try:
            self.env.flush_all()
            yield recompute
            self.env.flush_all()
            # As Recompute.run: the steps wrote in SQL behind the ORM's cache.
            self.env.invalidate_all()
        except CONCURRENCY_ERRORS as error:
            raise RetryableJobError(
                f"Lead scoring: {error.pgerror or error}", seconds=CONCURRENCY_RETRY_SECONDS
            ) from error

    def _job_take_changes(self, target_key):
        """Take the records of the target saved since the last run."""
        with self._job_recompute() as recompute:
            target = registered_targets(self.env)[target_key]
            recompute._take_changes(target, recompute.scoring_models)
            if recompute.scoring_models.rule_ids.filtered(
                lambda rule: rule.active and not rule.date_full_evaluation
            ):
                # As the first rule evaluated would, before rules run side by side.
                self._mark_scores_dirty(self.ids)

    def _job_evaluate_range(self, rules, now, low, high):
        """Evaluate rules on the records of one id range (part of a full evaluation)."""
        with self._job_recompute(now, full=True, shared=True) as recompute:
            rules = self._rules_to_evaluate(rules, recompute)
            rules._evaluate(recompute.now, id_range=(low, high))

    def _job_evaluate_rules(self, rules, now):
        """Evaluate rules on the records saved since the last run."""
        with self._job_recompute(now, shared=True) as recompute:
            self._rules_to_evaluate(rules, recompute)._evaluate(recompute.now)

    def _rules_to_evaluate(self, rules, recompute):
        """The rules still active in an active model: one archived since the
        plan has its lines closed, which no job may reopen."""
        return (
            rules.exists()
            .with_env(recompute.env)
            .filtered(lambda rule: rule.active and rule.model_id.active)
        )

    def _job_refresh(self, now, full, split_rules, split=False):
        """Mark the rules split into ranges as evaluated, then refresh the
        scores, or complete their refresh done by range jobs (``split``)."""
        with self._job_recompute(now, full=full) as recompute:
            recompute._analyze_stale_tables()
            self._finish_split_evaluations(split_rules.exists(), recompute.now)
            for scoring_model in recompute.scoring_models.filtered("active"):
                if split:
                    recompute._finish_split_refresh(scoring_model)
                else:
                    recompute._refresh_model(scoring_model)

    def _job_refresh_range(self, now, full, low, high):
        """Refresh the scores of the records of one id range."""
        with self._job_recompute(now, full=full, shared=True) as recompute:
            for scoring_model in recompute.scoring_models.filtered("active"):
                recompute._refresh_range(scoring_model, (low, high))

    def _job_sync_primary_range(self, now, low, high):
        """Copy the primary scores of the records of one id range."""
        with self._job_recompute(now, shared=True) as recompute:
            for scoring_model in recompute.scoring_models.filtered("active"):
                recompute._sync_primary_range(scoring_model, (low, high))

    @api.model
    def _finish_split_evaluations(self, rules, now):
        """What ``_evaluate_one`` writes after a full evaluation, once every
        range of the rule is done: not when a range failed (it cleared the
        mark) or when the domain changed since the plan (a relative date
        rolled over), since then the ranges did not evaluate one domain."""
        for rule in rules.filtered(
            lambda r: (r.evaluated_domain or "").startswith(SPLIT_EVALUATION_PREFIX)
        ):
            try:
                domain = repr(rule._match_domain())
            except DOMAIN_ERRORS:
                continue  # broken since the plan: it stays to be evaluated in full
            if rule.evaluated_domain == split_evaluation_mark(domain):
                rule.write({"evaluated_domain": domain, "date_full_evaluation": now})

    def _job_sync_primary_of_changed(self, target_key, full):
        """Copy the primary score of the records saved since the last run."""
        with self._job_recompute(full=full) as recompute:
            recompute._sync_primary_of_changed(registered_targets(self.env)[target_key])

    def _job_fire_thresholds(self):
        """Fire the thresholds crossed, re-arm the others."""
        with self._job_recompute() as recompute:
            recompute.scoring_models.threshold_ids._fire_thresholds()

    def _job_release_changes(self, target_key):
        """Forget the changes taken at the start of the run: every rule saw them."""
        with self._job_recompute():
            self.env["lead.scoring.change"]._release(target_key)

    def _job_sync_primary_scores(self):
        """Copy every primary score again where which scoring model gives it changed."""
        with self._job_recompute() as recompute:
            for target in registered_targets(self.env).values():
                if target.key in recompute.scoring_models.mapped("target"):
                    recompute._sync_primary_scores(target)

    # ------------------------------------------------------------------
    # Scheduled action
    # ------------------------------------------------------------------

    @api.model
    def _cron_recompute_scores(self):
        """Enqueue the run of every scoring model (see ``RecomputeGraph``);
        without jobs, run the engine here as ``lead_scoring`` does."""
        if not self._use_jobs():
            return super()._cron_recompute_scores()
        # A handful of scoring models: reading them all is the point.
        scoring_models = self.sudo().with_context(active_test=False)
        # Drafts score nothing.
        return bool(scoring_models.search([("state", "=", "live")])._enqueue_recompute())
