from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestAutomationTab(LeadScoringCase):
    """Lead-scoring managers set up behaviour triggers without Settings rights."""

    def test_manager_sets_up_a_scoring_trigger(self):
        self.assertFalse(self.manager.has_group("base.group_system"))
        env = self.env(user=self.manager)
        engagement = env["lead.scoring.model"].create(
            {"name": "Betrokkenheid", "target": "contact"}
        )
        line = env["lead.scoring.automation"].create(
            {
                "model_id": engagement.id,
                "name": "Lead aangemaakt",
                "trigger_model_id": self.env["ir.model"]._get_id("crm.lead"),
                "trigger": "on_create",
                "points": 5,
                "expire_after": 2,
                "expire_unit": "months",
                "cooldown_hours": 24,
            }
        )
        automation, action = line.sudo().automation_id, line.sudo().action_id
        self.assertEqual(automation.trigger, "on_create")
        self.assertEqual(automation.action_server_ids, action)
        self.assertEqual(action.state, "lead_score")
        self.assertEqual(action.score_points, 5)
        self.assertEqual(action.score_cooldown_hours, 24)

        lead = (
            self.env["crm.lead"]
            .with_user(self.salesman)
            .create({"name": "Offerte", "partner_id": self.anna.id})
        )
        self.assertEqual(self.anna.contact_score, 5.0)
        line_point = self.lines_of(engagement, self.anna)
        self.assertEqual(line_point.reason, f"Lead aangemaakt: {lead.display_name}")

        line.points = 8
        self.assertEqual(action.score_points, 8)
        line.active = False
        self.assertFalse(automation.active)
        line.unlink()
        self.assertFalse(automation.exists() or action.exists())

    def test_manager_cannot_run_other_action_types(self):
        env = self.env(user=self.manager)
        with self.assertRaises(AccessError):
            env["ir.actions.server"].create(
                {
                    "name": "Sneaky",
                    "model_id": self.env["ir.model"]._get_id("res.partner"),
                    "state": "code",
                    "code": "env['res.users'].search([]).unlink()",
                }
            )
        with self.assertRaises(AccessError):
            env["base.automation"].create(
                {
                    "name": "x",
                    "model_id": self.env["ir.model"]._get_id("res.partner"),
                    "trigger": "on_create",
                }
            )
        engagement = env["lead.scoring.model"].create({"name": "E", "target": "contact"})
        line = env["lead.scoring.automation"].create(
            {
                "model_id": engagement.id,
                "name": "x",
                "trigger_model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "on_create",
                "points": 1,
            }
        )
        # The backing records stay out of the manager's reach.
        with self.assertRaises(AccessError):
            line.action_id.write({"state": "code", "code": "raise Exception()"})
        self.assertEqual(line.sudo().action_id.state, "lead_score")

    def test_archiving_the_model_pauses_its_triggers(self):
        engagement = self.create_model("E")
        line = self.env["lead.scoring.automation"].create(
            {
                "model_id": engagement.id,
                "name": "x",
                "trigger_model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "on_create",
                "points": 1,
            }
        )
        engagement.active = False
        self.assertFalse(line.automation_id.active)
        engagement.active = True
        self.assertTrue(line.automation_id.active)
