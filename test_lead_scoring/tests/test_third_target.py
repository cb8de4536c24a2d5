from psycopg2 import IntegrityError

from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT
from odoo.addons.lead_scoring.engine import registered_targets


@tagged("post_install", "-at_install")
class TestThirdTarget(TransactionCase):
    """A model lead_scoring does not know is scored once it declares itself."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, **DISABLED_MAIL_CONTEXT))
        cls.Ticket = cls.env["test.lead.scoring.ticket"]
        cls.ScoringModel = cls.env["lead.scoring.model"]
        cls.nl = cls.env.ref("base.nl")
        cls.anna = cls.env["res.partner"].create({"name": "Anna", "country_id": cls.nl.id})
        cls.urgency = cls.ScoringModel.create(
            {
                "name": "Urgentie",
                "target": "ticket",
                "rule_ids": [
                    (0, 0, {"name": "Urgent", "domain": "[('priority', '=', '1')]", "points": 10}),
                    (
                        0,
                        0,
                        {
                            "name": "Dutch customer",
                            "domain": "[('partner_id.country_id.code', '=', 'NL')]",
                            "points": 5,
                        },
                    ),
                ],
                "band_ids": [(0, 0, {"name": "Hot", "min_score": 10})],
            }
        )
        cls.hot = cls.urgency.band_ids
        cls.urgent = cls.Ticket.create({"name": "Down", "priority": "1"})
        cls.normal = cls.Ticket.create({"name": "Question", "partner_id": cls.anna.id})

    def recompute(self):
        self.ScoringModel._cron_recompute_scores()

    def lines(self, ticket):
        return self.env["lead.scoring.point"].search([("ticket_id", "=", ticket.id)])

    def test_registered_as_a_target(self):
        targets = registered_targets(self.env)
        self.assertEqual(list(targets), ["contact", "deal", "ticket"], "in run order")
        self.assertEqual(targets["ticket"].column, "ticket_id")
        self.assertIn(("ticket", "Tickets"), self.ScoringModel._selection_target())
        self.assertEqual(self.urgency.target_model, "test.lead.scoring.ticket")

    def test_rules_score_tickets_incrementally(self):
        self.recompute()
        self.assertEqual((self.urgent.ticket_score, self.urgent.ticket_band_id), (10.0, self.hot))
        self.assertEqual(self.normal.ticket_score, 5.0)
        self.normal.priority = "1"
        self.assertIn(self.normal.id, self.env["lead.scoring.change"]._pending("ticket")[0])
        self.recompute()
        self.assertEqual(self.normal.ticket_score, 15.0)
        self.assertEqual(len(self.lines(self.normal)), 2)

    def test_related_record_changes_reach_the_ticket(self):
        self.recompute()
        self.anna.country_id = self.env.ref("base.be")
        self.recompute()
        self.assertEqual(self.normal.ticket_score, 0.0)
        self.assertTrue(self.lines(self.normal).closed_date)

    def test_adjust_score_and_threshold_on_tickets(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Reopened",
                "model_id": self.env["ir.model"]._get_id("test.lead.scoring.ticket"),
                "state": "lead_score",
                "score_model_id": self.urgency.id,
                "score_points": 25,
            }
        )
        escalate = self.env["ir.actions.server"].create(
            {
                "name": "Escalate",
                "model_id": self.env["ir.model"]._get_id("test.lead.scoring.ticket"),
                "state": "code",
                "code": "records.write({'name': 'ESCALATED'})",
            }
        )
        self.env["lead.scoring.threshold"].create(
            {
                "model_id": self.urgency.id,
                "name": "Escalation",
                "score": 20,
                "action": "server_action",
                "server_action_id": escalate.id,
            }
        )
        self.env["base.automation"].create(
            {
                "name": "Reopened",
                "model_id": self.env["ir.model"]._get_id("test.lead.scoring.ticket"),
                "trigger": "on_create",
                "action_server_ids": [(4, action.id)],
            }
        )
        ticket = self.Ticket.create({"name": "Again"})
        self.assertEqual(ticket.ticket_score, 25.0, "scored in the same transaction")
        self.assertEqual(self.lines(ticket).source, "action")
        self.recompute()
        self.assertEqual(ticket.name, "ESCALATED")
        self.assertEqual(self.urgent.name, "Down", "below the threshold")

    def test_a_line_scores_one_record_of_one_target(self):
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.env["lead.scoring.point"].create(
                {
                    "model_id": self.urgency.id,
                    "ticket_id": self.urgent.id,
                    "partner_id": self.anna.id,
                    "points": 1,
                    "reason": "Both",
                    "source": "manual",
                }
            )
