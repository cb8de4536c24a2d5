from odoo.tests import tagged

from .common import LeadScoringHttpCase


@tagged("post_install", "-at_install")
class TestUi(LeadScoringHttpCase):
    """The screens, driven in headless Chromium."""

    def test_marketer_configures_and_reads_a_score(self):
        self.start_tour(
            "/odoo/action-lead_scoring.lead_scoring_model_action?debug=1",
            "lead_scoring_marketer_tour",
            login="ls_manager",
        )
        tour_model = self.env["lead.scoring.model"].search([("name", "=", "Tour Profiel")])
        self.assertEqual(tour_model.rule_ids.domain, "[('country_id.code', '=', 'NL')]")
        self.assertEqual(self.anna.contact_score, 20.0)
        self.start_tour(
            f"/odoo/res.partner/{self.anna.id}", "lead_scoring_partner_tour", login="ls_manager"
        )

    def test_salesman_reads_deal_scores(self):
        self.create_model(
            "Tour Profiel", rules=[("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)]
        )
        self.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[("Grote deal", "[('expected_revenue', '>=', 10000)]", 15.0)],
        )
        lead = self.env["crm.lead"].create(
            {
                "name": "Zonnepanelen",
                "type": "opportunity",
                "partner_id": self.anna.id,
                "expected_revenue": 20000,
                "user_id": self.salesman.id,
            }
        )
        self.env["lead.scoring.model"]._cron_recompute_scores()
        self.start_tour(
            f"/odoo/crm.lead/{lead.id}", "lead_scoring_salesman_tour", login="ls_salesman"
        )
