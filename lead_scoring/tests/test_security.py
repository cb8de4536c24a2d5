from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import LeadScoringCase
from .test_rule_engine import NL_RULE


@tagged("post_install", "-at_install")
class TestSecurity(LeadScoringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.profiel = cls.create_model(
            rules=[NL_RULE], band_ids=[(0, 0, {"name": "Warm", "min_score": 10})]
        )
        cls.ScoringModel._cron_recompute_scores()

    def test_salesman_reads_scores_but_configures_nothing(self):
        env = self.env(user=self.salesman)
        anna = env["res.partner"].browse(self.anna.id)
        self.assertEqual(anna.contact_score, 20.0)
        self.assertEqual(anna.lead_score_ids.score, 20.0)
        self.assertEqual(anna.lead_scoring_point_ids.reason, "Rule: Land is Nederland")
        self.assertEqual(env["lead.scoring.model"].browse(self.profiel.id).name, "Profiel")
        with self.assertRaises(AccessError):
            env["lead.scoring.rule"].create({"model_id": self.profiel.id, "name": "x", "points": 1})
        with self.assertRaises(AccessError):
            env["lead.scoring.model"].browse(self.profiel.id).write({"name": "Hacked"})
        with self.assertRaises(AccessError):
            env["lead.scoring.point"].create(
                {
                    "model_id": self.profiel.id,
                    "partner_id": self.anna.id,
                    "points": 100,
                    "reason": "me",
                }
            )
        with self.assertRaises(AccessError):
            env["lead.scoring.threshold"].create(
                {"model_id": self.profiel.id, "name": "x", "score": 1, "action": "create_deal"}
            )
        with self.assertRaises(AccessError):
            env["lead.scoring.model"].browse(self.profiel.id).action_recompute()
        with self.assertRaises(AccessError):
            env["lead.scoring.score"].search([]).write({"score": 1000})

    def test_manager_adds_manual_line_but_cannot_rewrite_history(self):
        env = self.env(user=self.manager)
        line = env["lead.scoring.point"].create(
            {
                "model_id": self.profiel.id,
                "partner_id": self.anna.id,
                "points": 5,
                "reason": "Beurs",
            }
        )
        self.assertEqual(line.source, "manual")
        self.assertEqual(self.anna.contact_score, 25.0, "score updated in the same transaction")
        with self.assertRaises(AccessError):
            line.write({"points": 500})
        with self.assertRaises(AccessError):
            line.unlink()
        with self.assertRaises(AccessError):
            env["lead.scoring.point"].create(
                {
                    "model_id": self.profiel.id,
                    "partner_id": self.anna.id,
                    "points": 5,
                    "reason": "x",
                    "source": "rule",
                }
            )

    def test_portal_sees_nothing(self):
        env = self.env(user=self.portal)
        for model in (
            "lead.scoring.model",
            "lead.scoring.rule",
            "lead.scoring.point",
            "lead.scoring.score",
            "lead.scoring.threshold",
            "lead.scoring.band",
            "lead.scoring.automation",
            "lead.scoring.conversion.report",
        ):
            with self.subTest(model=model), self.assertRaises(AccessError):
                env[model].search([])
        with self.assertRaises(AccessError):
            env["res.partner"].browse(self.portal.partner_id.id).read(["contact_score"])

    def test_other_company_scores_hidden(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        model_b = self.create_model("B", rules=[("All", "[]", 1.0)], company_id=company_b.id)
        partner_b = self.env["res.partner"].create(
            {"name": "B partner", "company_id": company_b.id}
        )
        self.ScoringModel._cron_recompute_scores()
        self.assertTrue(self.Score.search([("model_id", "=", model_b.id)]))
        env = self.env(user=self.salesman)
        self.assertFalse(env["lead.scoring.model"].search([("id", "=", model_b.id)]))
        self.assertFalse(env["lead.scoring.score"].search([("model_id", "=", model_b.id)]))
        self.assertFalse(env["lead.scoring.point"].search([("partner_id", "=", partner_b.id)]))
