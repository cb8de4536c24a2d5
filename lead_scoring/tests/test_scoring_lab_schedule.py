from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LeadScoringCase

NOW = datetime(2025, 6, 2, 9, 0)


@tagged("post_install", "-at_install")
class TestScoringLabSchedule(LeadScoringCase):
    """The scheduled lab: due models are analysed; a clearly better
    suggestion becomes a draft with a To-Do for the responsible; every
    analysis is noted in the chatter; nothing is ever published. And the
    lab's own "Create Draft"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        # 200 deals closed over 300 days: urgent ones are won 4 times in 5,
        # the others once in 5, urgent and not alternating in time.
        deals = []
        for i in range(200):
            urgent, k = i % 2 == 0, i // 2
            won = (k % 5 != 0) if urgent else (k % 5 == 0)
            deals.append(
                {
                    "name": f"Deal {i}",
                    "type": "opportunity",
                    "priority": "3" if urgent else "1",
                    "date_closed": NOW - timedelta(days=310) + timedelta(days=1.5 * i),
                    **({"stage_id": won_stage.id} if won else {"active": False, "probability": 0}),
                }
            )
        cls.env["crm.lead"].create(deals)
        urgent_rule = [("Urgent", "[('priority', '=', '3')]", -10)]
        # Wrong points: the lab suggests better ones.
        cls.wrong = cls.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=urgent_rule,
            lab_interval="monthly",
            user_id=cls.manager.id,
        )
        # Points that rank as well as any: nothing to gain.
        cls.right = cls.create_model(
            "Urgentie",
            target="deal",
            rules=[("Urgent", "[('priority', '=', '3')]", 10)],
            lab_interval="quarterly",
            user_id=cls.manager.id,
        )
        cls.never = cls.create_model("Nooit", target="deal", rules=urgent_rule)
        cls.subtype = cls.env.ref("lead_scoring.mt_scoring_lab_scheduled")
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")

    def run_cron(self, when=NOW):
        with freeze_time(when):
            self.env["lead.scoring.lab"]._cron_scoring_lab()

    def notes(self, scoring_model):
        return self.env["mail.message"].search(
            [
                ("model", "=", "lead.scoring.model"),
                ("res_id", "=", scoring_model.id),
                ("subtype_id", "=", self.subtype.id),
            ]
        )

    def activities(self, scoring_model):
        return self.env["mail.activity"].search(
            [("res_model", "=", "lead.scoring.model"), ("res_id", "=", scoring_model.id)]
        )

    def test_better_suggestion_becomes_a_draft_with_a_todo(self):
        self.run_cron()
        draft = self.wrong.draft_ids
        self.assertEqual(len(draft), 1)
        self.assertEqual(draft.state, "draft")
        new_points = draft.rule_ids.points
        self.assertGreater(new_points, 0, "urgent deals are won more often")
        self.assertEqual(self.wrong.rule_ids.points, -10, "never published by itself")
        self.assertEqual(self.wrong.version, 1)
        activity = self.activities(self.wrong)
        self.assertEqual(len(activity), 1)
        self.assertEqual((activity.user_id, activity.activity_type_id), (self.manager, self.todo))
        note = self.notes(self.wrong)
        self.assertEqual(len(note), 1)
        self.assertIn("with the current points", note.body)
        self.assertIn(f'draft "{draft.name}" holds the suggested points', note.body)
        # Nothing to gain: noted, no draft, no activity.
        self.assertFalse(self.right.draft_ids)
        self.assertFalse(self.activities(self.right))
        self.assertIn("below the minimum of 0.02: no draft was made", self.notes(self.right).body)
        # Not scheduled: left alone.
        self.assertFalse(self.notes(self.never))
        self.assertFalse(self.never.draft_ids)

    def test_minimum_gain(self):
        self.wrong.lab_min_gain = 0.99
        self.run_cron()
        self.assertFalse(self.wrong.draft_ids)
        self.assertIn("below the minimum of 0.99", self.notes(self.wrong).body)

    def test_only_due_models_are_analysed(self):
        self.run_cron()
        self.run_cron(NOW + timedelta(days=10))
        self.assertEqual((len(self.notes(self.wrong)), len(self.notes(self.right))), (1, 1))
        # A month later the monthly model is due again; it has a draft already.
        self.run_cron(NOW + relativedelta(months=1))
        self.assertEqual((len(self.notes(self.wrong)), len(self.notes(self.right))), (2, 1))
        self.assertIn("already has a draft", self.notes(self.wrong)[0].body)
        self.assertEqual(len(self.wrong.draft_ids), 1)
        self.assertEqual(len(self.activities(self.wrong)), 1, "no second To-Do")
        self.run_cron(NOW + relativedelta(months=3))
        self.assertEqual((len(self.notes(self.wrong)), len(self.notes(self.right))), (3, 2))
        self.assertFalse(self.notes(self.never))

    def test_a_failing_model_is_noted_and_the_others_go_on(self):
        empty = self.create_model(
            "Leeg",
            target="deal",
            rules=[("Urgent", "[('priority', '=', '3')]", 10)],
            domain="[('name', '=', 'no such deal')]",
            lab_interval="monthly",
            sequence=1,
        )
        contacts = self.create_model(
            "Contacten",
            rules=[("NL", "[('country_id.code', '=', 'NL')]", 10)],
            lab_interval="monthly",
            sequence=2,
        )
        self.run_cron()
        self.assertIn("Scheduled scoring lab: no analysis.", self.notes(empty).body)
        self.assertIn("Only 0 won or lost outcomes", self.notes(empty).body)
        self.assertIn("no analysis", self.notes(contacts).body)
        self.assertFalse(empty.draft_ids | contacts.draft_ids)
        self.assertTrue(self.wrong.draft_ids, "the next models were analysed")
        # Noted as analysed: not retried before the month is over.
        self.run_cron(NOW + timedelta(days=1))
        self.assertEqual(len(self.notes(empty)), 1)

    def test_lab_create_draft(self):
        lab = (
            self.env["lead.scoring.lab"].with_user(self.manager).create({"model_id": self.wrong.id})
        )
        with freeze_time(NOW):
            lab.date_from = NOW.date() - relativedelta(months=12)
            lab.date_to = NOW.date()
            with self.assertRaises(UserError):
                lab.action_create_draft()  # not analysed yet
            lab.action_analyse()
            suggested = lab.line_ids.suggested_points
            action = lab.action_create_draft()
        draft = self.wrong.draft_ids
        self.assertEqual((action["res_model"], action["res_id"]), ("lead.scoring.model", draft.id))
        self.assertEqual(draft.rule_ids.points, suggested)
        self.assertEqual(draft.rule_ids.origin_rule_id, self.wrong.rule_ids)
        self.assertEqual(self.wrong.rule_ids.points, -10, "the live model is unchanged")
        self.assertIn(
            f'draft "{draft.name}" holds the suggested points', self.wrong.message_ids[0].body
        )
        with self.assertRaisesRegex(UserError, "already has a draft"):
            lab.action_create_draft()
