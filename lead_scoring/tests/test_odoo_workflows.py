from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .common import LeadScoringCase
from .test_rule_engine import NL_RULE


@tagged("post_install", "-at_install")
class TestOdooWorkflows(LeadScoringCase):
    """Odoo's own screens and wizards keep working with scoring installed,
    run by an administrator who is not the superuser and by a sales rep."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = new_test_user(
            cls.env,
            login="ls_admin",
            groups="base.group_system,base.group_partner_manager,sales_team.group_sale_manager",
            name="Administrator",
        )
        cls.profiel = cls.create_model("Profiel", rules=[NL_RULE], sequence=2)
        cls.engagement = cls.create_model("Betrokkenheid", sequence=1)
        cls.threshold = cls.env["lead.scoring.threshold"].create(
            {"model_id": cls.engagement.id, "name": "Sales ready", "score": 10.0}
        )
        cls.ScoringModel._cron_recompute_scores()

    def award(self, scoring_model, record, *points, source="action"):
        self.Point._add_points(
            scoring_model,
            [(record.id, value, f"Award {value:+g}") for value in points],
            source,
        )

    def threshold_deals(self):
        return self.env["crm.lead"].search([("lead_scoring_threshold_id", "=", self.threshold.id)])

    # ------------------------------------------------------------------
    # Users, portal, import
    # ------------------------------------------------------------------

    def test_admin_creates_users(self):
        Users = self.env["res.users"].with_user(self.admin)
        user = Users.create({"name": "New Colleague", "login": "new.colleague"})
        self.assertEqual(user.partner_id.contact_score, 0.0)
        saved = Users.web_save(
            {"name": "Second Colleague", "login": "second.colleague", "contact_score": 0.0},
            specification={"name": {}, "login": {}},
        )
        self.assertEqual(saved[0]["login"], "second.colleague")
        with Form(Users, view="base.view_users_form") as form:
            form.name = "Third Colleague"
            form.login = "third.colleague"
        self.assertTrue(form.record.partner_id)

    def test_admin_grants_portal_access_to_a_scored_contact(self):
        self.recompute()
        self.assertEqual(self.anna.contact_score, 0.0)  # Betrokkenheid is primary
        self.award(self.engagement, self.anna, 5)
        wizard = (
            self.env["portal.wizard"]
            .with_user(self.admin)
            .with_context(active_model="res.partner", active_ids=self.anna.ids)
            .create({})
        )
        wizard.user_ids.action_grant_access()
        self.assertTrue(self.anna.user_ids)
        self.assertEqual(self.anna.contact_score, 5.0, "the score survives the new user")

    def test_import_with_score_columns(self):
        Partner = self.env["res.partner"].with_user(self.admin)
        result = Partner.load(
            ["name", "email", "contact_score"],
            [["Import One", "one@example.nl", "0"], ["Import Two", "two@example.nl", ""]],
        )
        self.assertEqual(result["messages"], [])
        self.assertEqual(len(result["ids"]), 2)
        with mute_logger("odoo.sql_db"):
            refused = Partner.load(["name", "contact_score"], [["Import Three", "15"]])
        self.assertFalse(refused["ids"])
        self.assertIn("score history", refused["messages"][0]["message"])

    def test_score_fields_refuse_changes_but_not_unchanged_values(self):
        self.award(self.engagement, self.bram, 5)
        bram = self.bram.with_user(self.admin)
        bram.write({"contact_score": 5.0, "name": "Bram V."})
        self.assertEqual(bram.name, "Bram V.")
        with self.assertRaises(AccessError):
            bram.write({"contact_score": 50.0})
        with self.assertRaises(AccessError):
            self.env["res.partner"].with_user(self.admin).create(
                {"name": "Cheater", "contact_score": 99.0}
            )
        copy = bram.copy()
        self.assertEqual(copy.contact_score, 0.0, "a copy earns its own points")
        self.assertEqual(self.bram.contact_score, 5.0)

    # ------------------------------------------------------------------
    # Contact merge
    # ------------------------------------------------------------------

    def merge_contacts(self, survivor, *merged):
        partners = survivor | self.env["res.partner"].union(*merged)
        wizard = (
            self.env["base.partner.merge.automatic.wizard"]
            .with_user(self.admin)
            .with_context(active_model="res.partner", active_ids=partners.ids)
            .create({})
        )
        wizard.write({"dst_partner_id": survivor.id, "partner_ids": [Command.set(partners.ids)]})
        wizard.action_merge()
        self.assertFalse(self.env["res.partner"].browse([p.id for p in merged]).exists())

    def test_contact_merge_moves_points_and_closes_rule_lines(self):
        bram = self.env["res.partner"].create(
            {"name": "Anna NL", "email": "anna@example.nl", "country_id": self.nl.id}
        )
        self.recompute()
        self.award(self.engagement, self.anna, 5)
        self.award(self.engagement, bram, 5, 5)
        self.assertEqual(len(self.threshold_deals()), 1, "the threshold fired for the second")
        deal = self.threshold_deals()
        self.assertEqual(deal.partner_id, bram)
        rule_line_bram = self.lines_of(self.profiel, bram, source="rule")
        behaviour_bram = self.lines_of(self.engagement, bram)

        self.merge_contacts(self.anna, bram)

        self.assertEqual(self.score_of(self.engagement, self.anna), 15.0)
        self.assertEqual(self.anna.contact_score, 15.0)
        self.assertEqual(self.score_of(self.profiel, self.anna), 20.0)
        self.assertEqual(behaviour_bram.partner_id, self.anna, "behaviour lines moved")
        self.assertTrue(all(behaviour_bram.mapped("is_live")))
        self.assertEqual(rule_line_bram.partner_id, self.anna, "history kept")
        self.assertTrue(rule_line_bram.closed_date)
        self.assertEqual(len(self.lines_of(self.profiel, self.anna, closed_date=False)), 1)
        self.assertEqual(deal.partner_id, self.anna)
        self.recompute()
        self.assertEqual(len(self.threshold_deals()), 1, "no second deal for the merged contact")
        self.assertEqual(self.score_of(self.engagement, self.anna), 15.0)
        note = self.anna.message_ids.filtered(lambda m: "Score history of" in (m.body or ""))
        self.assertIn("Anna NL", note.body)
        self.assertIn("+10", note.body)

    def test_contact_merge_into_a_survivor_whose_total_is_zero(self):
        # The merged-away contact has a score, the survivor ends at 0: Odoo's
        # merge copies the score field of the former, which must not count.
        self.award(self.engagement, self.anna, -10, source="manual")
        self.award(self.engagement, self.bram, 10)
        self.assertEqual(self.bram.contact_score, 10.0)
        self.merge_contacts(self.anna, self.bram)
        self.assertEqual(self.anna.contact_score, 0.0)
        self.assertEqual(self.score_of(self.engagement, self.anna), 0.0)
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 2)

    def test_contact_merge_fires_a_threshold_neither_had_reached(self):
        self.award(self.engagement, self.anna, 5)
        self.award(self.engagement, self.bram, 5)
        self.assertFalse(self.threshold_deals())
        self.merge_contacts(self.anna, self.bram)
        self.assertEqual(self.threshold_deals().partner_id, self.anna)

    # ------------------------------------------------------------------
    # Opportunities: merge, conversion with duplicates, archive, delete
    # ------------------------------------------------------------------

    def create_deals(self, deal_model, count, **values):
        return (
            self.env["crm.lead"]
            .with_user(self.salesman)
            .create(
                [
                    {
                        "name": f"Deal {i}",
                        "type": "opportunity",
                        "partner_id": self.anna.id,
                        "user_id": self.salesman.id,
                        **values,
                    }
                    for i in range(count)
                ]
            )
        )

    def test_opportunity_merge_keeps_every_point(self):
        deal_model = self.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[("Opportunity", "[('type', '=', 'opportunity')]", 3)],
        )
        deals = self.create_deals(deal_model, 2)
        self.recompute()
        for deal in deals:
            self.award(deal_model, deal, 7)
        self.assertEqual(deals.mapped("deal_score"), [10.0, 10.0])
        wizard = (
            self.env["crm.merge.opportunity"]
            .with_user(self.salesman)
            .with_context(active_model="crm.lead", active_ids=deals.ids)
            .create({})
        )
        survivor = wizard.action_merge() and (deals.exists())
        self.assertEqual(len(survivor), 1)
        self.assertEqual(self.score_of(deal_model, survivor), 17.0)
        self.assertEqual(survivor.deal_score, 17.0)
        self.assertEqual(len(self.lines_of(deal_model, survivor, closed_date=False)), 3)
        self.assertEqual(len(self.lines_of(deal_model, survivor)), 4, "closed rule line kept")
        self.recompute()
        self.assertEqual(survivor.deal_score, 17.0)

    def test_conversion_merging_duplicates_keeps_their_points(self):
        deal_model = self.create_model("Dealkwaliteit", target="deal")
        opportunity = self.create_deals(deal_model, 1, email_from="anna@example.nl")
        lead = (
            self.env["crm.lead"]
            .with_user(self.salesman)
            .create(
                {
                    "name": "Anna asks again",
                    "type": "lead",
                    "email_from": "anna@example.nl",
                    "partner_id": self.anna.id,
                    "user_id": self.salesman.id,
                }
            )
        )
        self.award(deal_model, opportunity, 7)
        self.award(deal_model, lead, 4)
        wizard = (
            self.env["crm.lead2opportunity.partner"]
            .with_user(self.salesman)
            .with_context(active_model="crm.lead", active_id=lead.id, active_ids=lead.ids)
            .create({"name": "merge"})
        )
        self.assertEqual(wizard.duplicated_lead_ids, lead | opportunity)
        wizard.action_apply()
        survivor = (lead | opportunity).exists()
        self.assertEqual(len(survivor), 1)
        self.assertEqual(self.score_of(deal_model, survivor), 11.0)
        self.assertEqual(survivor.deal_score, 11.0)

    def test_archive_and_delete_scored_records(self):
        deal_model = self.create_model(
            "Dealkwaliteit", target="deal", rules=[("All deals", "[]", 2)]
        )
        deals = self.create_deals(deal_model, 2)
        self.recompute()
        self.assertEqual(deals.mapped("deal_score"), [2.0, 2.0])
        deals[0].with_user(self.salesman).action_archive()
        self.recompute()
        self.assertEqual(self.score_of(deal_model, deals[0]), 0.0)
        self.assertFalse(self.lines_of(deal_model, deals[0], closed_date=False))
        deals[1].with_user(self.manager).unlink()
        self.assertFalse(self.lines_of(deal_model, deals[1]))
        partner = self.env["res.partner"].create({"name": "Gone", "country_id": self.nl.id})
        self.recompute()
        self.assertEqual(self.score_of(self.profiel, partner), 20.0)
        partner.with_user(self.admin).unlink()
        self.assertFalse(self.Score.search([("partner_id", "=", partner.id)]))

    # ------------------------------------------------------------------
    # Adjust score is not a button
    # ------------------------------------------------------------------

    def test_direct_run_refused_for_a_salesman(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "E-mail beantwoord",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "lead_score",
                "score_model_id": self.engagement.id,
                "score_points": 10.0,
            }
        )
        prospect = self.env["res.partner"].with_user(self.salesman).create({"name": "Prospect"})
        run = action.with_user(self.salesman).with_context(
            active_model="res.partner", active_ids=prospect.ids, active_id=prospect.id
        )
        with (
            self.assertRaises(AccessError),
            self.assertLogs("odoo.addons.lead_scoring.models.ir_actions_server", "WARNING"),
        ):
            run.run()
        self.assertFalse(self.lines_of(self.engagement, prospect))
        action.with_user(self.manager).with_context(
            active_model="res.partner", active_ids=prospect.ids
        ).run()
        self.assertEqual(self.score_of(self.engagement, prospect), 10.0)
        # The same action behind an Automation Rule still scores the
        # salesman's ordinary work.
        self.env["base.automation"].create(
            {
                "name": "E-mail beantwoord",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "on_create",
                "action_server_ids": [Command.link(action.id)],
            }
        )
        other = self.env["res.partner"].with_user(self.salesman).create({"name": "Another"})
        self.assertEqual(self.score_of(self.engagement, other), 10.0)
