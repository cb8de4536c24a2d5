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

    def test_salesman_marks_his_call_done_in_the_chatter(self):
        engagement = self.create_model("Betrokkenheid")
        call = self.env.ref("mail.mail_activity_data_call")
        self.env["lead.scoring.automation"].with_user(self.manager).create(
            {
                "model_id": engagement.id,
                "name": "Gesprek gevoerd",
                "trigger": "activity_done",
                "activity_type_ids": [(6, 0, call.ids)],
                "points": 8,
            }
        )
        lead = (
            self.env["crm.lead"]
            .with_user(self.salesman)
            .create(
                {
                    "name": "Offerte vloerverwarming",
                    "type": "opportunity",
                    "partner_id": self.anna.id,
                    "user_id": self.salesman.id,
                }
            )
        )
        lead.activity_schedule(
            activity_type_id=call.id, summary="Klant terugbellen", user_id=self.salesman.id
        )
        self.start_tour(
            f"/odoo/crm.lead/{lead.id}", "lead_scoring_activity_done_tour", login="ls_salesman"
        )
        line = self.env["lead.scoring.point"].search([("model_id", "=", engagement.id)])
        self.assertEqual(
            (line.partner_id, line.points, line.reason),
            (self.anna, 8.0, "Gesprek gevoerd (Call)"),
        )
        self.assertEqual(self.anna.contact_score, 8.0)
