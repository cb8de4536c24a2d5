from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestThreshold(LeadScoringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["crm.team"].create({"name": "Inside Sales"})
        cls.tag = cls.env["crm.tag"].create({"name": "Hot lead"})
        cls.engagement = cls.create_model("Betrokkenheid")
        cls.threshold = cls.env["lead.scoring.threshold"].create(
            {
                "model_id": cls.engagement.id,
                "name": "Sales ready",
                "score": 75,
                "action": "create_deal",
                "team_id": cls.team.id,
                "tag_ids": [(6, 0, cls.tag.ids)],
            }
        )
        cls.anna.user_id = cls.salesman

    def add(self, partner, points, reason="Beurs"):
        return self.Point.with_user(self.manager).create(
            {
                "model_id": self.engagement.id,
                "partner_id": partner.id,
                "points": points,
                "reason": reason,
            }
        )

    def deals_of(self, partner):
        return (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search(
                [
                    ("lead_scoring_threshold_id", "=", self.threshold.id),
                    ("partner_id", "=", partner.id),
                ]
            )
        )

    def test_crossing_creates_one_deal(self):
        self.add(self.anna, 50, "Webinar")
        self.assertFalse(self.deals_of(self.anna))
        self.add(self.anna, 30, "Demo aangevraagd")
        deal = self.deals_of(self.anna)
        self.assertEqual(len(deal), 1, "fires right after the line that crossed")
        self.assertEqual(deal.type, "opportunity")
        self.assertIn("Betrokkenheid", deal.name)
        self.assertIn("80", deal.name)
        self.assertEqual(deal.team_id, self.team)
        self.assertEqual(deal.user_id, self.salesman, "the contact's salesperson")
        self.assertEqual(deal.tag_ids, self.tag)
        self.assertIn("Demo aangevraagd", deal.description)
        self.assertIn("Webinar", deal.description)
        note = self.anna.message_ids.filtered(lambda m: "Sales ready" in (m.body or ""))
        self.assertTrue(note, "chatter note on the contact")
        self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
        self.assertIn(f'data-oe-id="{deal.id}"', note.body, "a link to the deal, not escaped")
        # Still above: nothing more, neither from points nor from the cron.
        self.add(self.anna, 10)
        self.recompute()
        self.recompute()
        self.assertEqual(len(self.deals_of(self.anna)), 1)

    def test_rearm_only_below_and_no_second_open_deal(self):
        self.add(self.anna, 80)
        deal = self.deals_of(self.anna)
        self.add(self.anna, -20)  # 60: re-armed
        self.add(self.anna, 30)  # 90: fires again, but the first deal is still open
        self.assertEqual(self.deals_of(self.anna), deal)
        won = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        deal.stage_id = won
        self.add(self.anna, -50)  # 40: re-armed
        self.assertEqual(self.deals_of(self.anna), deal)
        self.add(self.anna, 50)  # 90: crosses again with no open deal
        deals = self.deals_of(self.anna)
        self.assertEqual(len(deals), 2)
        self.assertEqual(
            len(
                self.env["lead.scoring.threshold.crossing"].search(
                    [("threshold_id", "=", self.threshold.id)]
                )
            ),
            1,
        )

    def test_lost_deal_is_not_open(self):
        self.add(self.anna, 80)
        self.deals_of(self.anna).action_set_lost()
        self.add(self.anna, -10)
        self.add(self.anna, 10)
        self.assertEqual(len(self.deals_of(self.anna)), 2)

    def test_records_already_above_fire_on_next_run(self):
        self.add(self.bram, 100)
        late = self.env["lead.scoring.threshold"].create(
            {"model_id": self.engagement.id, "name": "Late", "score": 90, "action": "create_deal"}
        )
        self.assertFalse(self.env["crm.lead"].search([("lead_scoring_threshold_id", "=", late.id)]))
        self.recompute()
        deal = self.env["crm.lead"].search([("lead_scoring_threshold_id", "=", late.id)])
        self.assertEqual(deal.partner_id, self.bram)
        self.assertFalse(deal.user_id, "no salesperson on the threshold nor the contact")

    def test_server_action_threshold(self):
        mark = self.env["ir.actions.server"].create(
            {
                "name": "Mark VIP",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "object_write",
                "update_path": "ref",
                "value": "VIP",
            }
        )
        self.env["lead.scoring.threshold"].create(
            {
                "model_id": self.engagement.id,
                "name": "VIP",
                "score": 40,
                "action": "server_action",
                "server_action_id": mark.id,
            }
        )
        self.add(self.bram, 45)
        self.add(self.carl, 10)
        self.assertEqual(self.bram.ref, "VIP")
        self.assertFalse(self.carl.ref)

    def test_deal_model_threshold(self):
        deals = self.create_model("Deal fit", target="deal")
        prioritise = self.env["ir.actions.server"].create(
            {
                "name": "Prioritise",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "state": "object_write",
                "update_path": "priority",
                "value": "3",
            }
        )
        self.env["lead.scoring.threshold"].create(
            {
                "model_id": deals.id,
                "name": "Top",
                "score": 10,
                "action": "server_action",
                "server_action_id": prioritise.id,
            }
        )
        lead = self.env["crm.lead"].create({"name": "Deal", "type": "opportunity"})
        self.Point.create(
            {"model_id": deals.id, "lead_id": lead.id, "points": 12, "reason": "Budget bevestigd"}
        )
        self.assertEqual(lead.priority, "3")

    def test_invalid_thresholds(self):
        deals = self.create_model("Deal fit", target="deal")
        with self.assertRaises(ValidationError):
            self.env["lead.scoring.threshold"].create(
                {"model_id": deals.id, "name": "x", "score": 1, "action": "create_deal"}
            )
        with self.assertRaises(ValidationError):
            self.env["lead.scoring.threshold"].create(
                {"model_id": self.engagement.id, "name": "x", "score": 1, "action": "server_action"}
            )

    def test_second_run_scores_nothing_new_after_deals_were_created(self):
        """Deals created by a threshold are scored in the same run."""
        deals = self.create_model("Deal fit", target="deal", rules=[("Any deal", "[]", 1.0)])
        self.Point.sudo().with_context(lead_scoring_no_refresh=True).create(
            {
                "model_id": self.engagement.id,
                "partner_id": self.bram.id,
                "points": 90,
                "reason": "Import",
            }
        )
        self.recompute()
        deal = self.deals_of(self.bram)
        self.assertEqual(deal.deal_score, 1.0, "the new deal is scored in the run that created it")
        lines = self.Point.search_count([])
        scores = [(s.id, s.score, s.date_last_change) for s in self.Score.search([])]
        self.recompute()
        self.assertEqual(self.Point.search_count([]), lines)
        self.assertEqual(
            [(s.id, s.score, s.date_last_change) for s in self.Score.search([])], scores
        )
        self.assertTrue(self.lines_of(deals, deal))
