import itertools
from contextlib import closing

from freezegun import freeze_time

from odoo.tests import tagged

from ..engine import Plan, Recompute
from .common import LeadScoringCase


@tagged("post_install", "-at_install")
@freeze_time("2026-06-01 08:00")
class TestPlan(LeadScoringCase):
    """The published plan: the cron walks it, and a run split by id range
    (what the jobs of lead_scoring_queue_job do) gives what the cron gives."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.profiel = cls.create_model(
            "Profiel",
            rules=[
                ("Land is Nederland", "[('country_id.code', '=', 'NL')]", 10.0),
                ("Heeft e-mail", "[('email', '!=', False)]", 5.0),
            ],
        )

    def scores(self):
        return [
            (self.score_of(self.profiel, partner), partner.contact_score)
            for partner in (self.anna, self.bram, self.carl)
        ]

    def test_the_cron_walks_the_published_plan(self):
        steps = Recompute(self.profiel).steps()
        self.assertEqual(
            [step.name for step in steps if step.name != "sync_primary_of_changed"],
            ["take_changes", "evaluate", "refresh", "release_changes", "sync_primary_scores"],
        )
        self.assertFalse(steps[0].after)
        for before, step in itertools.pairwise(steps):
            self.assertEqual(step.after, [before], f"{step.name} after {before.name}")
        self.assertFalse([step for step in steps if step.splits], "the cron runs each whole")
        self.recompute()
        self.assertEqual(self.scores(), [(15.0, 15.0), (5.0, 5.0), (5.0, 5.0)])

    def test_a_run_split_by_id_range_gives_what_the_cron_gives(self):
        rules = self.profiel.rule_ids
        self.env.flush_all()
        with closing(self.env.cr.savepoint()):
            Recompute(self.profiel, full=True).run()
            expected = self.scores()
        self.env.invalidate_all()
        steps = Plan(self.profiel, full=True, split=True).steps()
        by_name = {step.name: step for step in steps}
        self.assertTrue(by_name["evaluate"].splits and by_name["refresh"].splits)
        self.assertEqual(by_name["refresh"].after, [by_name["evaluate"]])
        self.assertEqual(by_name["finish_refresh"].after, [by_name["refresh"]])
        for rule in rules:
            self.assertEqual(rule.split_domain, repr(rule._match_domain()))
            self.assertFalse(rule.evaluated_domain, "a run stopped half way evaluates it again")
        ranges = [(None, self.bram.id), (self.bram.id, None)]
        for step in steps:
            for id_range in ranges if step.splits else [None]:
                step.run(id_range)
        self.env.flush_all()
        self.env.invalidate_all()
        self.assertEqual(self.scores(), expected)
        self.assertEqual(expected[0], (15.0, 15.0))
        for rule in rules:
            self.assertEqual(rule.evaluated_domain, repr(rule._match_domain()))
            self.assertTrue(rule.date_full_evaluation)
            self.assertFalse(rule.split_domain)
