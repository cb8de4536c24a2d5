import itertools
from unittest import mock

from freezegun import freeze_time
from psycopg2 import errors

from odoo import fields, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.lead_scoring.engine import RECOMPUTE_LOCK_KEY, Recompute, bulk_load
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.lead_scoring_model import JOB_METHODS
from .common import QueueJobCase

NOW = "2025-03-10 09:00:00"


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestRecomputeJobs(QueueJobCase):
    maxDiff = None

    def enqueue_full(self, user=None):
        """Recompute now, as a manager (the lowest role that may), jobs trapped."""
        with trap_jobs() as trap:
            self.scoring_models.with_user(user or self.manager).action_recompute()
        return trap

    def methods(self, jobs):
        return [job.method_name for job in jobs]

    def test_graph_of_a_full_recompute(self):
        trap = self.enqueue_full()
        jobs = trap.enqueued_jobs
        by_method = {}
        for job in jobs:
            by_method.setdefault(job.method_name, []).append(job)
        range_jobs = by_method["_job_evaluate_range"]
        profiel_ranges = [job for job in range_jobs if job.recordset == self.profiel]
        deal_ranges = [job for job in range_jobs if job.recordset == self.deal_model]
        ranges = len(profiel_ranges)
        self.assertGreaterEqual(ranges, 3, "the contacts are cut into id ranges")
        self.assertEqual(len(deal_ranges), 1, "no deal yet: one range")
        for job in range_jobs:
            self.assertEqual(
                job.args[0], job.recordset.rule_ids, "a range job evaluates all the model's rules"
            )
        self.assertEqual(
            {name: len(found) for name, found in by_method.items()},
            {
                # The 3 contact rules over every id range, the 2 deal rules over one;
                # each model's refresh and primary copy over its ranges too.
                "_job_evaluate_range": ranges + 1,
                "_job_refresh_range": ranges + 1,
                "_job_refresh": 2,
                "_job_sync_primary_range": ranges + 1,
                # Every score refreshed: the contact thresholds by id range too.
                "_job_fire_thresholds_range": ranges,
                "_job_sync_primary_scores": 1,
            },
            "a full run takes and releases no changes",
        )
        self.assertEqual({job.channel for job in jobs}, {"root.lead_scoring"})
        self.assertEqual(len({job.graph_uuid for job in jobs}), 1, "one graph")

        def of(method, scoring_model):
            return {job for job in by_method[method] if job.recordset == scoring_model}

        for scoring_model, rule_jobs in (
            (self.profiel, profiel_ranges),
            (self.deal_model, deal_ranges),
        ):
            self.assert_refresh_after_rules(of, scoring_model, rule_jobs)
        for job in profiel_ranges:
            self.assertFalse(job.depends_on, "contact rules start the run")
        self.assert_thresholds_by_range(of, profiel_ranges, deal_ranges)
        self.assertEqual(
            by_method["_job_sync_primary_scores"][0].depends_on,
            of("_job_sync_primary_range", self.deal_model),
        )
        self.assert_ranges_cover_every_id(of, profiel_ranges)

    def assert_ranges_cover_every_id(self, of, profiel_ranges):
        """The ranges together cover every id, and say which records."""
        self.assertIn(
            f"Lead scoring: Profiel, refresh the scores, contacts 1–{self.range_size:,}",  # noqa: RUF001
            [job.description for job in of("_job_refresh_range", self.profiel)],
        )
        bounds = sorted((job.args[2] or 0, job.args[3]) for job in profiel_ranges)
        self.assertIsNone(bounds[-1][1])
        for (_low, high), (next_low, _high) in itertools.pairwise(bounds):
            self.assertEqual(high, next_low)
        self.assertIn(
            f"Lead scoring: Profiel, 3 rules, contacts 1–{self.range_size:,}",  # noqa: RUF001
            [job.description for job in profiel_ranges],
        )

    def assert_refresh_after_rules(self, of, scoring_model, rule_jobs):
        """The model's refresh ranges after its rule ranges, then the job that
        completes them, then the primary copy by range."""
        refresh_ranges = of("_job_refresh_range", scoring_model)
        (finish,) = of("_job_refresh", scoring_model)
        primary_ranges = of("_job_sync_primary_range", scoring_model)
        self.assertEqual(len(refresh_ranges), len(rule_jobs))
        for job in refresh_ranges:
            self.assertEqual(job.depends_on, set(rule_jobs), "after every rule range")
        self.assertEqual(finish.depends_on, refresh_ranges)
        self.assertTrue(finish.kwargs.get("split"))
        for job in primary_ranges:
            self.assertEqual(job.depends_on, {finish})

    def assert_thresholds_by_range(self, of, profiel_ranges, deal_ranges):
        """The contact thresholds over the ranges of the contact rules, after
        the primary copy; the deal rules after all of them (deals created by a
        contact threshold are scored in the same run)."""
        thresholds = of("_job_fire_thresholds_range", self.profiel)
        for job in thresholds:
            self.assertEqual(job.depends_on, of("_job_sync_primary_range", self.profiel))
        self.assertEqual(
            sorted((job.args[0] or 0, job.args[1] or 0) for job in thresholds),
            sorted((job.args[2] or 0, job.args[3] or 0) for job in profiel_ranges),
            "the thresholds over the ranges of the rules",
        )
        for job in deal_ranges:
            self.assertEqual(
                job.depends_on, thresholds, "after every range of the contact thresholds"
            )
        self.assertIn(
            f"Lead scoring: Profiel, thresholds, contacts 1–{self.range_size:,}",  # noqa: RUF001
            [job.description for job in thresholds],
        )

    def test_jobs_give_what_the_engine_gives(self):
        expected = self.plain_result(full=True)
        self.assertTrue(expected["lines"] and expected["deals"], "the data score and fire")
        self.perform(self.enqueue_full())
        self.assertEqual(self.snapshot(), expected)

    def test_a_cold_build_sets_the_ledger_indexes_aside_around_the_graph(self):
        """A cold build (engine.bulk_load): the first job sets the ledger's
        foreign keys and indexes aside, every other job waits for it, the
        last one puts them back; the jobs give what the engine gives."""
        expected = self.plain_result(full=True)
        large = {"res_partner": 1000, "crm_lead": 1000, "lead_scoring_point": 0}
        with (
            mock.patch.object(bulk_load, "MIN_RECORDS", 100),
            mock.patch.object(
                bulk_load, "estimated_rows", lambda cr, tables: {t: large[t] for t in tables}
            ),
        ):
            trap = self.enqueue_full()
            jobs = trap.enqueued_jobs
            start = [job for job in jobs if list(job.args) == ["start_bulk_load"]]
            finish = [job for job in jobs if list(job.args) == ["finish_bulk_load"]]
            self.assertEqual((len(start), len(finish)), (1, 1))
            others = [job for job in jobs if job not in start + finish]
            self.assertEqual({job for job in others if not job.depends_on}, set())
            self.assertEqual(
                {job for job in others if start[0] in job.depends_on},
                {job for job in others if job.method_name == "_job_evaluate_range"}
                - {j for j in others if j.recordset == self.deal_model},
            )
            self.assertEqual(
                finish[0].depends_on, set(self.methods_of(jobs, "_job_sync_primary_scores"))
            )
            performed = self.perform(trap)
        self.assertEqual(performed[0], start[0])
        self.assertEqual(performed[-1], finish[0])
        self.assertFalse(bulk_load.pending(self.env))
        self.assertIn("lead_scoring_point_partner_id_fkey", bulk_load._existing_names(self.env.cr))
        self.assertEqual(self.snapshot(), expected)

    def methods_of(self, jobs, method):
        return [job for job in jobs if job.method_name == method]

    def test_incremental_run_after_changes(self):
        self.perform(self.enqueue_full())
        for rule in self.scoring_models.rule_ids:
            self.assertEqual(
                (rule.name, rule.evaluated_domain, rule.date_full_evaluation),
                (rule.name, repr(rule._match_domain()), fields.Datetime.now()),
                "marked evaluated once all its ranges are done",
            )
        self.carl.country_id = self.be
        self.anna.email = False
        expected = self.plain_result()
        with trap_jobs() as trap:
            self.assertTrue(self.ScoringModel._cron_recompute_scores())
        methods = self.methods(trap.enqueued_jobs)
        self.assertEqual(
            sorted(methods),
            sorted(
                ["_job_take_changes", "_job_evaluate_rules", "_job_refresh"] * 2
                + ["_job_release_changes"] * 2
                + ["_job_fire_thresholds", "_job_sync_primary_scores"]
            ),
            "changed records only: one rule job per scoring model, no range",
        )
        performed = self.methods(self.perform(trap))
        self.assertLess(
            performed.index("_job_release_changes"), performed.index("_job_take_changes", 1)
        )
        self.assertEqual(self.snapshot(), expected)
        self.assertEqual(self.score_of(self.profiel, self.carl), 25.0)
        self.assertTrue(self.carl.opportunity_ids, "his deal is created, and scored, in this run")
        self.assertEqual(self.carl.opportunity_ids.deal_score, 1.0)
        self.assertEqual(self.score_of(self.profiel, self.anna), 10.0)

    def test_performing_a_job_twice_changes_nothing(self):
        trap = self.enqueue_full()
        first = None
        for job in self.perform(trap):
            before = self.snapshot()
            job.perform()
            self.assertEqual(self.snapshot(), before, f"{job.description} run again")
            first = first or before
        self.assertTrue(first["lines"])

    def test_a_job_that_fails_once_converges(self):
        expected = self.plain_result(full=True)
        trap = self.enqueue_full()
        original = Recompute._refresh_range
        failures = []

        def fail_after_refreshing(recompute, scoring_model, id_range):
            changed = original(recompute, scoring_model, id_range)
            if not failures:
                failures.append(scoring_model)
                raise RuntimeError("worker killed")
            return changed

        with mock.patch.object(Recompute, "_refresh_range", fail_after_refreshing):
            self.perform(trap, fail_once=RuntimeError)
        self.assertTrue(failures)
        self.assertEqual(self.snapshot(), expected)

    def test_a_range_that_fails_leaves_the_rule_to_evaluate_in_full(self):
        trap = self.enqueue_full()
        rule = self.profiel.rule_ids[0]
        original = type(rule)._diff_sql

        def broken_range(rules, domains, now, changed_ids=None, id_range=None):
            if rule in rules and id_range and id_range[0] is None:
                raise ValueError("a domain that stopped fitting the data")
            return original(rules, domains, now, changed_ids, id_range)

        with (
            mock.patch.object(type(rule), "_diff_sql", broken_range),
            mute_logger("odoo.addons.lead_scoring.engine.evaluation"),
        ):
            self.perform(trap)
        self.assertFalse(rule.date_full_evaluation)
        self.assertFalse(rule.evaluated_domain, "the next run evaluates it on every record")
        other = self.profiel.rule_ids[1]
        self.assertEqual(other.evaluated_domain, repr(other._match_domain()))
        self.assertTrue(other.date_full_evaluation)

    def test_serialization_failure_is_retryable(self):
        trap = self.enqueue_full()
        refresh = next(j for j in trap.enqueued_jobs if j.method_name == "_job_refresh_range")
        for error in (errors.SerializationFailure, errors.DeadlockDetected):
            with (
                mock.patch.object(Recompute, "_refresh_range", side_effect=error("collision")),
                self.assertRaises(RetryableJobError) as caught,
            ):
                refresh.perform()
            self.assertTrue(caught.exception.seconds)
            self.assertFalse(caught.exception.ignore_retry, "counts as a try")

    def test_a_model_locked_elsewhere_makes_the_job_wait(self):
        trap = self.enqueue_full()
        refresh = next(
            j
            for j in trap.enqueued_jobs
            if j.method_name == "_job_refresh" and j.recordset == self.profiel
        )
        for lock, unlock in (
            (
                SQL("SELECT pg_advisory_lock(%s, %s)", RECOMPUTE_LOCK_KEY, self.profiel.id),
                SQL("SELECT pg_advisory_unlock(%s, %s)", RECOMPUTE_LOCK_KEY, self.profiel.id),
            ),
            # The engine running in a cron (Recompute.run) holds the database's lock.
            (
                SQL("SELECT pg_advisory_lock(%s)", RECOMPUTE_LOCK_KEY),
                SQL("SELECT pg_advisory_unlock(%s)", RECOMPUTE_LOCK_KEY),
            ),
        ):
            with closing_cursor(self.env.cr.dbname) as other:
                other.execute(lock)
                try:
                    with self.assertRaises(RetryableJobError) as caught:
                        refresh.perform()
                finally:
                    other.execute(unlock)
                self.assertTrue(caught.exception.ignore_retry, "waiting uses up no try")
        refresh.perform()

    def test_cron_fired_twice_enqueues_one_graph(self):
        Job = self.env["queue.job"].sudo()
        self.assertTrue(self.ScoringModel._cron_recompute_scores())
        jobs = Job.search([("method_name", "in", JOB_METHODS)])
        self.assertEqual(len(set(jobs.mapped("graph_uuid"))), 1)
        self.assertFalse(self.ScoringModel._cron_recompute_scores(), "the first run is pending")
        with self.assertRaises(UserError):
            self.profiel.with_user(self.manager).action_recompute()
        self.assertEqual(Job.search([("method_name", "in", JOB_METHODS)]), jobs)
        # A job of the first graph failed for good: its waiting jobs never run.
        jobs.filtered(lambda job: job.state == "pending")[:1].state = "failed"
        self.assertTrue(self.ScoringModel._cron_recompute_scores())
        self.assertEqual(
            set(jobs.mapped("state")), {"failed", "cancelled"}, "abandoned jobs cancelled"
        )
        second = Job.search([("method_name", "in", JOB_METHODS)]) - jobs
        self.assertTrue(second)
        self.assertEqual(set(second.mapped("channel")), {"root.lead_scoring"})

    def test_salesman_cannot_recompute(self):
        with trap_jobs() as trap, self.assertRaises(AccessError):
            self.profiel.with_user(self.salesman).action_recompute()
        trap.assert_jobs_count(0)

    def test_without_jobs_the_cron_runs_the_engine(self):
        self.env["ir.config_parameter"].sudo().set_param("lead_scoring_queue_job.use_jobs", False)
        with trap_jobs() as trap:
            self.recompute()
            self.profiel.with_user(self.manager).action_recompute()
        trap.assert_jobs_count(0)
        self.assertEqual(self.score_of(self.profiel, self.anna), 15.0)
        self.assertEqual(self.anna.contact_score, 15.0)


def closing_cursor(dbname):
    """A cursor of its own connection: another worker, for locks."""
    return sql_db.db_connect(dbname).cursor()
