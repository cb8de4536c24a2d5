import logging
from contextlib import contextmanager

from psycopg2 import errors

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import SQL, str2bool

from odoo.addons.lead_scoring.engine import RECOMPUTE_LOCK_KEY, Plan
from odoo.addons.queue_job.exception import RetryableJobError

from ..recompute_graph import RecomputeGraph

_logger = logging.getLogger(__name__)

# Switch: the scheduled run and "Recompute now" enqueue jobs (True, the default
# at install) or run the engine in the cron's worker as without this addon.
USE_JOBS_PARAM = "lead_scoring_queue_job.use_jobs"

# The job methods, each one step of the engine's plan (see recompute_graph).
JOB_METHODS = (
    "_job_take_changes",
    "_job_evaluate_range",
    "_job_evaluate_rules",
    "_job_refresh",
    "_job_refresh_range",
    "_job_sync_primary_range",
    "_job_sync_primary_of_changed",
    "_job_fire_thresholds",
    "_job_fire_thresholds_range",
    "_job_release_changes",
    "_job_sync_primary_scores",
    "_job_bulk_load",
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
    # Jobs: each runs one step of the engine's plan
    # ------------------------------------------------------------------

    @contextmanager
    def _job_plan(self, now=None, full=False, shared=False):
        """The engine's plan of a run of these scoring models, for one job
        to run one of its steps (``Plan.step``).

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
        plan = Plan(self.sudo(), full=full, split=True, now=now)
        try:
            self.env.flush_all()
            yield plan
            self.env.flush_all()
            # As Recompute.run: the steps wrote in SQL behind the ORM's cache.
            self.env.invalidate_all()
        except CONCURRENCY_ERRORS as error:
            raise RetryableJobError(
                f"Lead scoring: {error.pgerror or error}", seconds=CONCURRENCY_RETRY_SECONDS
            ) from error

    def _run_model_step(self, plan, name, id_range=None, **step):
        """Run step ``name`` of the plan for each active scoring model of the job."""
        for scoring_model in plan.scoring_models.filtered("active"):
            plan.step(name, scoring_model=scoring_model, **step).run(id_range)

    def _job_take_changes(self, target_key):
        """Take the records of the target saved since the last run."""
        with self._job_plan() as plan:
            plan.step("take_changes", target_key=target_key).run()

    def _job_evaluate_range(self, rules, now, low, high):
        """Evaluate rules on the records of one id range (part of a full evaluation)."""
        with self._job_plan(now, full=True, shared=True) as plan:
            self._run_model_step(plan, "evaluate", (low, high), rules=rules, splits=True)

    def _job_evaluate_rules(self, rules, now):
        """Evaluate rules on the records saved since the last run."""
        with self._job_plan(now, shared=True) as plan:
            self._run_model_step(plan, "evaluate_changed", rules=rules)

    def _job_refresh(self, now, full, split_rules, split=False):
        """Refresh the scores, or complete their refresh done by range jobs
        (``split``), the rules evaluated by range marked evaluated first."""
        with self._job_plan(now, full=full) as plan:
            if split:
                self._run_model_step(plan, "finish_refresh", rules=split_rules)
            else:
                self._run_model_step(plan, "refresh")

    def _job_refresh_range(self, now, full, low, high):
        """Refresh the scores of the records of one id range."""
        with self._job_plan(now, full=full, shared=True) as plan:
            self._run_model_step(plan, "refresh", (low, high), splits=True)

    def _job_sync_primary_range(self, now, low, high):
        """Copy the primary scores of the records of one id range."""
        with self._job_plan(now, shared=True) as plan:
            self._run_model_step(plan, "sync_primary", (low, high), splits=True)

    def _job_sync_primary_of_changed(self, target_key, full):
        """Copy the primary score of the records saved since the last run."""
        with self._job_plan(full=full) as plan:
            plan.step("sync_primary_of_changed", target_key=target_key).run()

    def _job_fire_thresholds(self):
        """Fire the thresholds crossed, re-arm the others."""
        with self._job_plan() as plan:
            self._run_model_step(plan, "fire_thresholds")

    def _job_fire_thresholds_range(self, low, high):
        """Fire the thresholds crossed by the records of one id range, re-arm
        the others (beside the other ranges: a crossing is one record's)."""
        with self._job_plan(shared=True) as plan:
            self._run_model_step(plan, "fire_thresholds", (low, high), splits=True)

    def _job_release_changes(self, target_key):
        """Forget the changes taken at the start of the run: every rule saw them."""
        with self._job_plan() as plan:
            plan.step("release_changes", target_key=target_key).run()

    def _job_sync_primary_scores(self):
        """Copy every primary score again where which scoring model gives it changed."""
        with self._job_plan() as plan:
            plan.step("sync_primary_scores").run()

    def _job_bulk_load(self, step_name):
        """Set the ledger's foreign keys and indexes aside for a cold build
        (``start_bulk_load``), or put them back (``finish_bulk_load``)."""
        with self._job_plan() as plan:
            plan.step(step_name).run()

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
