from odoo.tests import Form, tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestLeadGrade(LeadScoringCase):
    """Fit x engagement: a contact's lead grade is its fit band code followed
    by its engagement band code (A1 = best fit, most engaged)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        bands = [
            (0, 0, {"name": n, "code": c, "min_score": m})
            for n, c, m in (("Poor", "C", -1000), ("Good", "B", 10), ("Ideal", "A", 20))
        ]
        cls.fit = cls.create_model(
            "Profiel",
            rules=[("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)],
            band_ids=bands,
        )
        cls.engagement = cls.create_model(
            "Betrokkenheid",
            band_ids=[
                (0, 0, {"name": n, "code": c, "min_score": m})
                for n, c, m in (("Cold", "3", -1000), ("Warm", "2", 5), ("Hot", "1", 15))
            ],
        )
        cls.env["res.config.settings"].create(
            {
                "lead_scoring_fit_model_id": cls.fit.id,
                "lead_scoring_engagement_model_id": cls.engagement.id,
            }
        ).execute()

    def engage(self, partner, points):
        self.Point._add_points(self.engagement, [(partner.id, points, "Opened")], "action")

    def test_grade_from_both_bands_and_on_the_opportunity(self):
        self.recompute()
        self.engage(self.anna, 0.0001)
        self.assertEqual(self.anna.lead_grade, "A3")
        deal = self.env["crm.lead"].create(
            {"name": "Offerte", "type": "opportunity", "partner_id": self.anna.id}
        )
        self.engage(self.anna, 20)  # Hot, in the same transaction
        self.assertEqual(self.anna.lead_grade, "A1")
        self.assertEqual(deal.lead_grade, "A1", "through its customer")
        self.assertEqual(
            self.env["crm.lead"].search([("lead_grade", "=", "A1"), ("id", "=", deal.id)]), deal
        )
        groups = self.env["res.partner"]._read_group(
            [("id", "in", (self.anna | self.bram).ids)], ["lead_grade"], ["__count"]
        )
        self.assertIn(("A1", 1), groups)

    def test_no_grade_without_both_bands_and_band_names_readable(self):
        self.engage(self.bram, 20)
        self.recompute()
        self.assertEqual(self.bram.lead_grade, "C1")
        self.assertFalse(self.carl.lead_grade, "no engagement score: no band, no grade")
        poor = self.fit.band_ids.filtered(lambda band: band.code == "C")
        self.assertEqual(poor.display_name, "Profiel / Poor", "readable next to other models")

    def test_band_codes_and_settings_changes_regrade(self):
        self.engage(self.bram, 20)
        self.recompute()
        self.engagement.band_ids.filtered(lambda b: b.code == "1").code = "H"
        self.assertEqual(self.bram.lead_grade, "CH")
        settings = Form(self.env["res.config.settings"])
        settings.lead_scoring_engagement_model_id = self.env["lead.scoring.model"]
        settings.save().execute()
        self.assertFalse(self.bram.lead_grade)

    def test_scores_tab_shows_no_progress_without_a_threshold_ahead(self):
        self.env["lead.scoring.threshold"].create(
            {"model_id": self.engagement.id, "name": "Hot", "score": 10}
        )
        self.engage(self.anna, 20)
        score = self.Score.search(
            [("model_id", "=", self.engagement.id), ("partner_id", "=", self.anna.id)]
        )
        self.assertFalse(score.next_threshold_id)
        self.assertEqual(score.threshold_progress, 0.0)
