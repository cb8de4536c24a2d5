from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestThresholdActions(LeadScoringCase):
    """Thresholds a marketer (a scoring manager, no administrator) sets up to
    schedule an activity when a score crosses them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = new_test_user(
            cls.env,
            login="ls_scoring_manager",
            groups="lead_scoring.group_lead_scoring_manager",
            name="Marketeer",
        )
        cls.caller = new_test_user(
            cls.env,
            login="ls_caller",
            groups="sales_team.group_sale_salesman",
            name="Beller",
        )
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")
        cls.profiel = cls.ScoringModel.with_user(cls.marketer).create(
            {"name": "Profiel", "target": "contact"}
        )
        cls.anna.user_id = cls.salesman

    def create_threshold(self, scoring_model=None, **values):
        return (
            self.env["lead.scoring.threshold"]
            .with_user(self.marketer)
            .create(
                {
                    "model_id": (scoring_model or self.profiel).id,
                    "name": "Belafspraak",
                    "score": 50,
                    "action": "schedule_activity",
                    **values,
                }
            )
        )

    def add(self, record, points, reason="Beurs", scoring_model=None):
        """Points through the ledger, then a real run (the cron's)."""
        self.Point._add_points(
            scoring_model or self.profiel, [(record.id, points, reason)], "manual"
        )
        self.recompute()

    def activities_of(self, threshold, record, **extra):
        return (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search(
                [
                    ("lead_scoring_threshold_id", "=", threshold.id),
                    ("res_model", "=", record._name),
                    ("res_id", "=", record.id),
                    *((name, "=", value) for name, value in extra.items()),
                ]
            )
        )

    def test_crossing_schedules_a_call_for_the_salesperson(self):
        threshold = self.create_threshold(
            activity_type_id=self.call.id,
            activity_summary="Bellen: afspraak inplannen",
            activity_days=3,
        )
        self.add(self.anna, 30, "Land is Nederland")
        self.assertFalse(self.activities_of(threshold, self.anna), "below: nothing yet")
        self.add(self.anna, 25, "Is een bedrijf")
        self.add(self.carl, 20)
        activity = self.activities_of(threshold, self.anna)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.activity_type_id, self.call)
        self.assertEqual(activity.summary, "Bellen: afspraak inplannen")
        self.assertEqual(activity.user_id, self.salesman, "the contact's salesperson")
        self.assertEqual(
            activity.date_deadline, fields.Date.context_today(activity) + timedelta(days=3)
        )
        self.assertIn("55", activity.note, "the score")
        self.assertIn("Land is Nederland", activity.note, "the breakdown")
        self.assertIn("Is een bedrijf", activity.note)
        self.assertIn("<li>", activity.note, "an HTML list, not escaped")
        self.assertIn(activity, self.anna.activity_ids, "on the contact, seen in its chatter")
        self.assertFalse(self.activities_of(threshold, self.carl), "below the threshold")
        # Still above: runs and points add nothing.
        self.add(self.anna, 5)
        self.recompute()
        self.assertEqual(self.activities_of(threshold, self.anna), activity)

    def test_defaults_and_assignment_fallbacks(self):
        threshold = self.create_threshold()
        self.assertEqual(threshold.activity_type_id, self.todo, "To-Do by default")
        self.assertEqual(threshold.activity_days, 0)
        self.assertEqual(self.profiel.user_id, self.marketer, "its creator by default")
        self.profiel.sudo().user_id = self.salesman
        self.add(self.bram, 60)
        activity = self.activities_of(threshold, self.bram)
        self.assertEqual(activity.activity_type_id, self.todo)
        self.assertEqual(activity.summary, "Belafspraak", "the threshold's name by default")
        self.assertEqual(activity.date_deadline, fields.Date.context_today(activity))
        self.assertEqual(
            activity.user_id,
            self.salesman,
            "no salesperson on the contact nor the threshold: the model's responsible",
        )
        threshold.with_user(self.marketer).user_id = self.caller
        self.add(self.carl, 60)
        self.add(self.anna, 60)
        self.assertEqual(self.activities_of(threshold, self.carl).user_id, self.caller)
        self.assertEqual(
            self.activities_of(threshold, self.anna).user_id,
            self.salesman,
            "the contact's salesperson before the threshold's",
        )

    def test_no_second_activity_while_the_first_is_open(self):
        threshold = self.create_threshold(activity_type_id=self.call.id)
        self.add(self.anna, 60)
        first = self.activities_of(threshold, self.anna)
        self.assertEqual(len(first), 1)
        self.add(self.anna, -20)  # 40: re-armed
        self.add(self.anna, 20)  # 60: crosses again, the call is still open
        self.assertEqual(self.activities_of(threshold, self.anna), first)
        first.with_user(self.salesman).action_feedback(feedback="Gebeld")
        self.assertFalse(self.activities_of(threshold, self.anna, active=True))
        self.add(self.anna, 10)  # still above: no new crossing
        self.assertFalse(self.activities_of(threshold, self.anna, active=True))
        self.add(self.anna, -30)  # 40: re-armed
        self.add(self.anna, 30)  # 70: crosses again with no open activity
        second = self.activities_of(threshold, self.anna, active=True)
        self.assertEqual(len(second), 1)
        self.assertNotEqual(second, first)
        self.assertIn("70", second.note)

    def test_other_thresholds_activities_do_not_block(self):
        first = self.create_threshold(name="Eerste", score=40)
        second = self.create_threshold(name="Tweede", score=50)
        self.add(self.anna, 60)
        self.assertEqual(len(self.activities_of(first, self.anna)), 1)
        self.assertEqual(len(self.activities_of(second, self.anna)), 1)

    def test_down_threshold_schedules_an_activity(self):
        engagement = self.ScoringModel.with_user(self.marketer).create(
            {"name": "Betrokkenheid", "target": "contact"}
        )
        threshold = self.create_threshold(
            engagement,
            name="Betrokkenheid zakt",
            score=10,
            direction="down",
            activity_summary="Nabellen",
        )
        self.add(self.anna, 15, scoring_model=engagement)
        self.assertFalse(self.activities_of(threshold, self.anna))
        self.add(self.anna, -10, "Verlopen", scoring_model=engagement)
        activity = self.activities_of(threshold, self.anna)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.summary, "Nabellen")
        self.assertEqual(activity.user_id, self.salesman)

    def test_deal_model_schedules_on_the_deal(self):
        deals = self.ScoringModel.with_user(self.marketer).create(
            {"name": "Dealkwaliteit", "target": "deal"}
        )
        threshold = self.create_threshold(deals, score=20, activity_type_id=self.call.id)
        lead = self.env["crm.lead"].create(
            {
                "name": "Warmtepomp",
                "type": "opportunity",
                "partner_id": self.bram.id,
                "user_id": self.caller.id,
            }
        )
        self.add(lead, 25, "Budget bevestigd", scoring_model=deals)
        activity = self.activities_of(threshold, lead)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.caller, "the deal's salesperson")
        self.assertIn("Budget bevestigd", activity.note)
        self.assertIn(activity, lead.activity_ids)

    def test_marketer_uses_the_form(self):
        with Form(self.env["lead.scoring.threshold"].with_user(self.marketer)) as form:
            form.model_id = self.profiel
            form.name = "Belafspraak"
            form.score = 50
            form.action = "schedule_activity"
            form.activity_type_id = self.call
            form.activity_summary = "Bellen"
            form.activity_days = 2
        threshold = form.record
        self.assertEqual(threshold.activity_type_id, self.call)
        self.assertEqual(threshold.activity_days, 2)
        with Form(threshold.with_user(self.marketer)) as form:
            form.action = "create_deal"
            self.assertTrue(form._get_modifier("activity_type_id", "invisible"))
            self.assertFalse(form._get_modifier("team_id", "invisible"))

    def test_salesman_cannot_create_thresholds(self):
        with self.assertRaises(AccessError):
            self.env["lead.scoring.threshold"].with_user(self.salesman).create(
                {
                    "model_id": self.profiel.id,
                    "name": "Belafspraak",
                    "score": 50,
                    "action": "schedule_activity",
                }
            )

    def test_validation(self):
        with self.assertRaises(ValidationError):
            self.create_threshold(activity_type_id=False)
        restricted = self.env["mail.activity.type"].create(
            {"name": "Deal review", "res_model": "crm.lead"}
        )
        with self.assertRaises(ValidationError):
            self.create_threshold(activity_type_id=restricted.id)
