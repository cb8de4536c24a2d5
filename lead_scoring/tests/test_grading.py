from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LeadScoringCase
from .test_rule_engine import NL_RULE

C_LEVEL = "[('function', 'ilike', 'CEO')]"


@tagged("post_install", "-at_install")
class TestGrading(LeadScoringCase):
    """Behaviour points of graded records are multiplied; rule and manual
    points never are."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.anna.function = "CEO"
        cls.engagement = cls.create_model("Betrokkenheid", rules=[NL_RULE])
        cls.c_level = cls.env["lead.scoring.grade"].create(
            {"model_id": cls.engagement.id, "name": "C-level", "domain": C_LEVEL, "multiplier": 2}
        )
        cls.everyone = cls.env["lead.scoring.grade"].create(
            {"model_id": cls.engagement.id, "name": "Others", "multiplier": 1.5, "sequence": 20}
        )
        cls.action = cls.env["ir.actions.server"].create(
            {
                "name": "Webinar attended",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "state": "lead_score",
                "score_model_id": cls.engagement.id,
                "score_points": 5.0,
            }
        )

    def run_action(self, records):
        self.action.with_context(active_model=records._name, active_ids=records.ids).run()

    def test_actions_take_the_first_matching_grade(self):
        self.run_action(self.anna | self.bram)
        anna_line = self.lines_of(self.engagement, self.anna, source="action")
        self.assertEqual(
            (anna_line.points, anna_line.multiplier, anna_line.grade_id), (10.0, 2.0, self.c_level)
        )
        self.assertEqual(anna_line.points_detail, "+5 \u00d7 2 C-level")
        bram_line = self.lines_of(self.engagement, self.bram, source="action")
        self.assertEqual((bram_line.points, bram_line.grade_id), (7.5, self.everyone))
        self.assertEqual(self.score_of(self.engagement, self.anna), 10.0)

    def test_rules_and_manual_points_are_not_graded(self):
        self.recompute()
        rule_line = self.lines_of(self.engagement, self.anna, source="rule")
        self.assertEqual((rule_line.points, rule_line.multiplier), (20.0, 1.0))
        self.assertFalse(rule_line.grade_id)
        self.Point._add_points(self.engagement, [(self.anna.id, 3.0, "Fair")], "manual")
        manual = self.lines_of(self.engagement, self.anna, source="manual")
        self.assertEqual((manual.points, manual.multiplier), (3.0, 1.0))

    def test_archived_grade_does_not_apply(self):
        self.c_level.active = False
        self.run_action(self.anna)
        self.assertEqual(self.lines_of(self.engagement, self.anna).grade_id, self.everyone)

    def test_graded_runner_query_budget(self):
        self.run_action(self.carl)  # warm the caches, as a running worker has them
        self.env.flush_all()
        with self.assertQueryCount(5):  # the ungraded budget (4) + the grade lookup
            self.run_action(self.anna)
            self.env.flush_all()
        self.assertEqual(self.anna.contact_score, 10.0)

    def test_invalid_grades_refused(self):
        for values in ({"multiplier": 0}, {"multiplier": -2}, {"domain": "[('nope', '=', 1)]"}):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                self.c_level.write(values)
