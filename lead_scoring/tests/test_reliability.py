import time
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from ..engine import RECOMPUTE_LOCK_KEY, Recompute
from .common import CommittedCursorCase, LeadScoringCase
from .test_rule_engine import NL_RULE


@tagged("post_install", "-at_install")
class TestConcurrency(CommittedCursorCase):
    """Separate cursors on the real database: what two workers see and do.

    The data is committed (other cursors must see it) and removed afterwards.
    """

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            scoring_model = env["lead.scoring.model"].create(
                {
                    "name": "Concurrency",
                    "target": "contact",
                    "rule_ids": [(0, 0, {"name": NL_RULE[0], "domain": NL_RULE[1], "points": 20})],
                }
            )
            partner = env["res.partner"].create(
                {"name": "Concurrent Anna", "country_id": env.ref("base.nl").id}
            )
            action = env["ir.actions.server"].create(
                {
                    "name": "Opened",
                    "model_id": env["ir.model"]._get_id("res.partner"),
                    "state": "lead_score",
                    "score_model_id": scoring_model.id,
                    "score_points": 5,
                }
            )
            self.model_id, self.partner_id, self.action_id = scoring_model.id, partner.id, action.id
        self.addCleanup(self.remove_data)

    def remove_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["ir.actions.server"].browse(self.action_id).unlink()
            env["lead.scoring.model"].browse(self.model_id).unlink()
            env["res.partner"].browse(self.partner_id).unlink()

    def adjust(self, env):
        action = env["ir.actions.server"].browse(self.action_id)
        action.with_context(active_model="res.partner", active_ids=[self.partner_id]).run()

    def state(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partner = env["res.partner"].browse(self.partner_id)
            lines = env["lead.scoring.point"].search([("partner_id", "=", self.partner_id)])
            score = env["lead.scoring.score"].search([("partner_id", "=", self.partner_id)])
            return partner.contact_score, score.score, sorted(lines.mapped("points"))

    @mute_logger("odoo.sql_db")
    def test_two_adjustments_at_once_both_count(self):
        with self.registry.cursor() as cr1:
            self.adjust(api.Environment(cr1, SUPERUSER_ID, {}))
            # The second worker waits on the first one's score row...
            thread, errors = self.in_thread(self.adjust)
            time.sleep(0.5)
            self.assertTrue(thread.is_alive(), "the second adjustment waits for the first")
        # ...which commits here; the second is retried on the new snapshot.
        thread.join(60)
        self.assertFalse(errors)
        self.assertEqual(self.state(), (10.0, 10.0, [5.0, 5.0]))

    @mute_logger("odoo.sql_db")
    def test_event_during_recompute_counts_once(self):
        with self.registry.cursor() as cr1:
            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            env1["lead.scoring.model"].browse(self.model_id)._recompute_scores()
            thread, errors = self.in_thread(self.adjust)
            time.sleep(0.5)
        thread.join(60)
        self.assertFalse(errors)
        self.assertEqual(self.state(), (25.0, 25.0, [5.0, 20.0]))
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["lead.scoring.model"]._cron_recompute_scores()
        self.assertEqual(self.state(), (25.0, 25.0, [5.0, 20.0]), "no second count")

    def test_two_recomputes_cannot_both_run(self):
        with self.registry.cursor() as cr1:
            cr1.execute(SQL("SELECT pg_advisory_lock(%s)", RECOMPUTE_LOCK_KEY))
            try:
                with self.registry.cursor() as cr2:
                    env2 = api.Environment(cr2, SUPERUSER_ID, {})
                    self.assertFalse(env2["lead.scoring.model"]._cron_recompute_scores())
                self.assertEqual(self.state(), (0.0, 0.0, []), "the second run did nothing")
            finally:
                cr1.execute(SQL("SELECT pg_advisory_unlock(%s)", RECOMPUTE_LOCK_KEY))
        with self.registry.cursor() as cr2:
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            self.assertTrue(env2["lead.scoring.model"]._cron_recompute_scores())
        self.assertEqual(self.state(), (20.0, 20.0, [20.0]))


@tagged("post_install", "-at_install")
class TestCrashAndBadInput(LeadScoringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.profiel = cls.create_model(
            rules=[
                NL_RULE,
                ("Niet bediend", "[('country_id.code', '=', 'US')]", -10.0),
                (
                    "E-mail",
                    "[('email', '!=', False)]",
                    3.0,
                    {"expire_after": 1, "expire_unit": "weeks"},
                ),
            ],
            band_ids=[(0, 0, {"name": "Warm", "min_score": 10})],
            threshold_ids=[(0, 0, {"name": "Hot", "score": 22, "action": "create_deal"})],
        )
        cls.deals = cls.create_model(
            "Deals", target="deal", rules=[("Groot", "[('expected_revenue', '>=', 1000)]", 10.0)]
        )
        cls.env["crm.lead"].create(
            {"name": "Groot", "type": "opportunity", "expected_revenue": 5000}
        )

    def snapshot(self):
        self.env.invalidate_all()
        lines = sorted(
            (
                line.model_id.id,
                line.rule_id.id,
                line.partner_id.id,
                line.lead_id.id,
                line.points,
                line.is_live,
                bool(line.closed_date),
            )
            for line in self.Point.search([])
        )
        scores = sorted(
            (s.model_id.id, s.partner_id.id, s.lead_id.id, s.score, s.band_id.id)
            for s in self.Score.search([])
        )
        partners = sorted(
            self.env["res.partner"]
            .with_context(active_test=False)
            .search([])
            .mapped(lambda p: (p.id, p.contact_score, p.contact_band_id.id))
        )
        deals = self.env["crm.lead"].search_count([("lead_scoring_threshold_id", "!=", False)])
        return lines, scores, partners, deals

    @freeze_time("2026-06-01 12:00")
    def test_interrupted_recompute_converges(self):
        """Whatever prefix of steps a crash leaves committed, the next run ends
        exactly where an uninterrupted run does."""
        with self.cr.savepoint() as savepoint:
            self.recompute()
            expected = self.snapshot()
            savepoint.rollback()
        scoring_models = self.ScoringModel.with_context(active_test=False)
        step_count = len(Recompute(scoring_models.search([])).steps())
        self.assertGreater(step_count, 5)
        for crash_after in range(step_count):
            self.env.invalidate_all()
            with self.subTest(crash_after=crash_after), self.cr.savepoint() as savepoint:
                steps = Recompute(scoring_models.search([])).steps()
                for step in steps[:crash_after]:
                    step()
                self.recompute()
                self.assertEqual(self.snapshot(), expected)
                savepoint.rollback()

    def test_crash_inside_a_step_leaves_the_ledger_consistent(self):
        self.recompute()
        expected = self.snapshot()
        self.anna.country_id = self.us
        boom = RuntimeError("worker killed")
        with (
            patch.object(type(self.Score), "_refresh_scores", side_effect=boom),
            self.assertRaises(RuntimeError),
            self.cr.savepoint(),
        ):
            self.recompute()
        self.anna.country_id = self.nl
        self.recompute()
        self.assertEqual(self.snapshot(), expected)

    def test_one_live_line_per_rule_and_record_is_a_database_rule(self):
        self.recompute()
        line = self.lines_of(self.profiel, self.anna, rule_id=self.profiel.rule_ids[0].id)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.env.cr.execute(
                SQL(
                    """INSERT INTO lead_scoring_point (model_id, rule_id, partner_id, points,
                       source, reason, date, is_live)
                       VALUES (%s, %s, %s, 1, 'rule', 'duplicate', now(), TRUE)""",
                    line.model_id.id,
                    line.rule_id.id,
                    line.partner_id.id,
                )
            )

    def test_broken_rule_is_skipped_and_logged(self):
        self.recompute()
        broken = self.profiel.rule_ids[0]
        kept = self.lines_of(self.profiel, self.anna, rule_id=broken.id)
        # A domain that stopped working after it was saved (a field removed by an
        # uninstalled module): written behind the ORM's back.
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_rule SET domain = %s WHERE id = %s",
                "[('x_gone', '=', 1)]",
                broken.id,
            )
        )
        self.env.invalidate_all()
        self.bram.country_id = self.us
        with self.assertLogs("odoo.addons.lead_scoring.engine.evaluation", "ERROR") as logs:
            self.recompute()
        self.assertIn("skipped", logs.output[0])
        self.assertTrue(kept.is_live and not kept.closed_date, "its lines are left alone")
        self.assertEqual(
            self.score_of(self.profiel, self.bram), -7.0, "the other rules still score"
        )

    def test_hostile_domains_are_bounded_data(self):
        ids = list(range(1, 10001))
        rules = self.env["lead.scoring.rule"].create(
            [
                {
                    "model_id": self.profiel.id,
                    "name": "Big list",
                    "domain": f"[('id', 'in', {ids})]",
                    "points": 1,
                },
                {
                    "model_id": self.profiel.id,
                    "name": "Injection",
                    "domain": "[('name', '=', \"x'); DROP TABLE res_partner; --\")]",
                    "points": 1,
                },
                {
                    "model_id": self.profiel.id,
                    "name": "Tree",
                    "domain": f"[('id', 'child_of', {self.anna.id})]",
                    "points": 1,
                },
            ]
        )
        self.recompute()
        self.assertTrue(self.lines_of(self.profiel, self.anna, rule_id=rules[0].id))
        self.assertFalse(self.Point.search([("rule_id", "=", rules[1].id)]))
        self.assertTrue(self.lines_of(self.profiel, self.anna, rule_id=rules[2].id))
        self.assertTrue(self.env["res.partner"].search_count([]))
        with self.assertRaises(ValueError):
            rules[0].expire_unit = "fortnights"
