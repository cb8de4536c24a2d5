from odoo.tests import new_test_user, tagged

from ..models.crm_team import ASSIGNMENT_ORDER_PARAM
from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestAssignment(LeadScoringCase):
    """Odoo's lead assignment hands out the highest-scored leads first when
    "Assign leads by" says so; Odoo's probability order otherwise."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hot_tag = cls.env["crm.tag"].create({"name": "Heet"})
        cls.deals = cls.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[("Heet", f"[('tag_ids', 'in', [{cls.hot_tag.id}])]", 50.0)],
        )
        cls.rep = new_test_user(
            cls.env, login="ls_rep", groups="sales_team.group_sale_salesman", name="Rep"
        )
        cls.team = cls.env["crm.team"].create(
            {"name": "Binnendienst", "assignment_domain": "[]", "assignment_max": 0}
        )
        # A quota of 2 leads a day (60 a month).
        cls.env["crm.team.member"].create(
            {"crm_team_id": cls.team.id, "user_id": cls.rep.id, "assignment_max": 60}
        )

    def make_leads(self):
        """Two hot leads that Odoo's probability order would hand out last, and
        three cold ones with higher probabilities, waiting in the team."""
        Lead = self.env["crm.lead"]
        hot = Lead.create(
            [
                {"name": f"Heet {i}", "type": "lead", "tag_ids": [(6, 0, self.hot_tag.ids)]}
                for i in range(2)
            ]
        )
        cold = Lead.create([{"name": f"Koud {i}", "type": "lead"} for i in range(3)])
        (hot | cold).write({"team_id": self.team.id, "user_id": False})
        hot.write({"probability": 10})
        cold.write({"probability": 90})
        self.recompute()
        self.assertEqual(hot.mapped("deal_score"), [50.0, 50.0])
        return hot, cold

    def assign(self):
        self.team.with_user(self.manager).action_assign_leads()

    def test_deal_score_order_hands_out_the_hottest_first(self):
        self.env["ir.config_parameter"].set_param(ASSIGNMENT_ORDER_PARAM, "deal_score")
        hot, cold = self.make_leads()
        self.assign()
        self.assertEqual(hot.user_id, self.rep)
        self.assertFalse(cold.user_id, "the quota of two went to the highest scores")

    def test_contact_score_order_uses_the_customers_score(self):
        self.env["ir.config_parameter"].set_param(ASSIGNMENT_ORDER_PARAM, "contact_score")
        self.create_model("Profiel", rules=[("NL", "[('country_id.code', '=', 'NL')]", 20.0)])
        hot, cold = self.make_leads()
        (hot | cold[0]).write({"partner_id": self.bram.id})
        cold[1:].write({"partner_id": self.anna.id})
        self.recompute()
        self.assign()
        self.assertEqual(cold[1:].user_id, self.rep, "Anna (NL) scores 20, Bram 0")
        self.assertFalse((hot | cold[0]).user_id)

    def test_probability_order_stays_odoos_default(self):
        hot, cold = self.make_leads()
        self.assign()
        self.assertFalse(hot.user_id)
        self.assertEqual(len(cold.filtered("user_id")), 2)

    def test_the_setting_is_stored_as_a_parameter(self):
        settings = self.env["res.config.settings"].create(
            {"lead_scoring_assignment_order": "deal_score"}
        )
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"].get_param(ASSIGNMENT_ORDER_PARAM), "deal_score"
        )
