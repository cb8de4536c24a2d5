from freezegun import freeze_time

from odoo.tests import tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestInsight(LeadScoringCase):
    """Trend, percentile and next steps of a score row, as a sales rep reads them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engagement = cls.create_model(
            "Betrokkenheid",
            rules=[
                ("NL", "[('country_id.code', '=', 'NL')]", 10.0),
                ("Bedrijf", "[('is_company', '=', True)]", 25.0),
                ("Geen e-mail", "[('email', '=', False)]", -5.0),
            ],
            threshold_ids=[(0, 0, {"name": "Klaar voor sales", "score": 30.0})],
        )
        cls.line = cls.env["lead.scoring.automation"].create(
            {
                "model_id": cls.engagement.id,
                "name": "Offerte aangevraagd",
                "trigger_model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "trigger": "on_create",
                "points": 8,
                "cooldown_hours": 24,
            }
        )

    def row(self, partner, user=None):
        return self.Score.with_user(user or self.salesman).search(
            [("model_id", "=", self.engagement.id), ("partner_id", "=", partner.id)]
        )

    def test_trend_compares_with_the_score_a_period_ago(self):
        with freeze_time("2026-01-01 09:00:00"):
            self.recompute()  # Anna 10 (NL)
        with freeze_time("2026-01-20 09:00:00"):
            self.env["crm.lead"].create({"name": "Offerte", "partner_id": self.anna.id})
            self.bram.country_id = self.nl
            self.recompute()  # Anna 18, Bram 10
        with freeze_time("2026-02-05 09:00:00"):
            anna, bram = self.row(self.anna), self.row(self.bram)
            # 30 days back is 6 January: Anna had 10, Bram nothing yet.
            self.assertEqual((anna.score, anna.trend, anna.trend_direction), (18.0, 8.0, "up"))
            self.assertEqual((bram.score, bram.trend), (10.0, 10.0))
            Score = self.Score.with_user(self.salesman)
            self.assertEqual(Score.search([("trend_direction", "=", "up")]), anna | bram, "Rising")
            self.assertFalse(Score.search([("trend_direction", "=", "down")]))
            self.anna.country_id = self.be
            self.recompute()  # Anna 8
            anna.invalidate_recordset()
            self.assertEqual((anna.trend, anna.trend_direction), (-2.0, "down"))
            self.assertEqual(Score.search([("trend_direction", "=", "down")]), anna)

    def test_percentile_counts_the_rows_below(self):
        Partner = self.env["res.partner"]
        extra = Partner.create(
            [{"name": f"Klant {i}", "email": f"k{i}@example.nl"} for i in range(7)]
        )
        (extra[:4]).write({"country_id": self.nl.id})
        extra[4:6].write({"country_id": self.nl.id, "is_company": True})
        self.recompute()
        rows = self.Score.with_user(self.salesman).search([("model_id", "=", self.engagement.id)])
        total = len(rows)
        self.assertGreater(total, 6)
        for row in rows:
            below = len(rows.filtered(lambda r, s=row.score: r.score < s))
            self.assertEqual(row.percentile, 100 * below // total, row.score)
        top_rows = rows.filtered(lambda r: r.percentile >= 70)
        self.assertIn(extra[4].id, top_rows.partner_id.ids, "35 points is in the top 30%")
        self.assertNotEqual(top_rows, rows)
        Score = self.Score.with_user(self.salesman)
        self.assertEqual(Score.search([("percentile", ">=", 70)]), top_rows)
        self.assertEqual(
            Score.search([("percentile", ">", 69)]), top_rows, "> 69 is >= 70 for integers"
        )
        self.assertEqual(
            self.env["res.partner"]
            .with_user(self.salesman)
            .search([("lead_score_ids", "any", [("percentile", ">=", 70)])]),
            top_rows.partner_id,
            "the Top filter on contacts",
        )

    def test_next_steps_and_points_to_next(self):
        with freeze_time("2026-01-01 09:00:00"):
            self.recompute()
            anna = self.row(self.anna)
            self.assertEqual(
                (anna.next_threshold_id.name, anna.points_to_next), ("Klaar voor sales", 20.0)
            )
            steps = anna._lead_scoring_next_steps()
            self.assertEqual(
                [(step["name"], step["points"]) for step in steps],
                [("Bedrijf", 25.0), ("Offerte aangevraagd", 8.0)],
                "rules not matched and lines allowed, largest first; no negative rule",
            )
            html = str(anna.next_steps_html)
            self.assertIn("To reach Klaar voor sales: 20 points", html)
            self.assertIn("<li>Bedrijf: +25</li>", html)
            self.env["crm.lead"].create({"name": "Offerte", "partner_id": self.anna.id})
            self.recompute()
            anna.invalidate_recordset()
            self.assertEqual(
                [step["name"] for step in anna._lead_scoring_next_steps()],
                ["Bedrijf"],
                "the line is in its cooldown",
            )
