import logging
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged

from .common import LeadScoringCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestActivityDone(LeadScoringCase):
    """Sales signals: a salesman's call marked done scores the contact and the
    deal it was about, whichever of Odoo's ways marks it done."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.email = cls.env.ref("mail.mail_activity_data_email")
        cls.engagement = cls.create_model("Betrokkenheid", "contact")
        cls.pipeline = cls.create_model("Pijplijn", "deal")
        cls.lead = (
            cls.env["crm.lead"]
            .with_user(cls.salesman)
            .create(
                {
                    "name": "Offerte vloerverwarming",
                    "type": "opportunity",
                    "partner_id": cls.anna.id,
                    "user_id": cls.salesman.id,
                }
            )
        )

    def add_line(self, name, points, scoring_model=None, **values):
        """An "Activity done" line, set up by a marketer in the Automations tab."""
        return (
            self.env["lead.scoring.automation"]
            .with_user(self.manager)
            .create(
                {
                    "model_id": (scoring_model or self.engagement).id,
                    "name": name,
                    "trigger": "activity_done",
                    "points": points,
                    **values,
                }
            )
        )

    def schedule(self, record=None, activity_type=None, **values):
        """An activity the salesman schedules for himself from the chatter."""
        record = (record or self.lead).with_user(self.salesman)
        return record.activity_schedule(
            activity_type_id=(activity_type or self.call).id,
            user_id=self.salesman.id,
            **values,
        )

    def test_salesman_marks_his_call_done_in_the_chatter(self):
        line = self.add_line("Gesprek gevoerd", 8, activity_type_ids=[(6, 0, self.call.ids)])
        deal_line = self.add_line("Gesprek gevoerd", 3, self.pipeline)
        self.assertEqual(line.trigger_model_id.model, "mail.activity")
        self.assertFalse(line.sudo().automation_id, "fired by code: no Automation Rule")
        activity = self.schedule()

        with freeze_time("2026-03-02 14:30:00"):
            activity.with_user(self.salesman).action_feedback(feedback="Offerte besproken")

        self.assertFalse(activity.exists(), "Odoo deleted the done call as usual")
        contact_line = self.lines_of(self.engagement, self.anna)
        self.assertRecordValues(
            contact_line,
            [
                {
                    "points": 8.0,
                    "source": "action",
                    "action_id": line.sudo().action_id.id,
                    "reason": f"Gesprek gevoerd ({self.call.name})",
                    "date": freeze_time("2026-03-02 14:30:00").time_to_freeze,
                }
            ],
        )
        self.assertEqual(self.anna.contact_score, 8.0)
        self.assertEqual(self.lines_of(self.pipeline, self.lead).points, 3.0)
        self.assertEqual(self.lead.deal_score, 3.0)
        deal_point = self.lines_of(self.pipeline, self.lead)
        self.assertEqual(deal_point.action_id, deal_line.sudo().action_id)
        # Odoo's own work is untouched: the feedback is in the chatter.
        self.assertIn("Offerte besproken", str(self.lead.message_ids[0].body))

    def test_done_and_schedule_next(self):
        self.add_line("Gesprek gevoerd", 8)
        activity = self.schedule()
        action = activity.with_user(self.salesman).action_feedback_schedule_next()
        self.assertEqual(action["res_model"], "mail.activity", "Odoo opens the next one")
        self.assertEqual(self.score_of(self.engagement, self.anna), 8.0)

    def test_action_done_and_activity_on_the_contact_itself(self):
        self.add_line("Contactmoment", 2)
        activity = self.schedule(self.anna, self.email)
        activity.with_user(self.salesman).action_done()
        self.assertEqual(
            self.lines_of(self.engagement, self.anna).reason, f"Contactmoment ({self.email.name})"
        )

    def test_activity_type_filter(self):
        self.add_line("Gesprek gevoerd", 8, activity_type_ids=[(6, 0, self.call.ids)])
        self.schedule(activity_type=self.email).with_user(self.salesman).action_feedback()
        self.assertFalse(self.lines_of(self.engagement, self.anna), "an e-mail is no call")
        self.schedule().with_user(self.salesman).action_feedback()
        self.assertEqual(self.score_of(self.engagement, self.anna), 8.0)

    def test_filter_applies_to_the_activity(self):
        self.add_line("Demo gegeven", 10, filter_domain="[('summary', 'ilike', 'demo')]")
        self.schedule(summary="Opvolgen").with_user(self.salesman).action_feedback()
        self.assertFalse(self.lines_of(self.engagement, self.anna))
        self.schedule(summary="Demo op locatie").with_user(self.salesman).action_feedback()
        self.assertEqual(self.score_of(self.engagement, self.anna), 10.0)

    def test_each_activity_scores_once(self):
        """An activity kept as done (the type's "Keep done") may be marked done
        again, or brought back and done again: it scored the first time."""
        self.call.keep_done = True
        self.add_line("Gesprek gevoerd", 8)
        activity = self.schedule()
        activity.with_user(self.salesman).action_feedback()
        self.assertFalse(activity.active, "kept as done")
        activity.with_user(self.salesman).action_feedback()
        activity.with_user(self.salesman).action_unarchive()
        activity.with_user(self.salesman).action_done()
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 1)
        self.assertEqual(self.score_of(self.engagement, self.anna), 8.0)
        # Two calls are two signals.
        self.schedule().with_user(self.salesman).action_feedback()
        self.assertEqual(self.score_of(self.engagement, self.anna), 16.0)

    def test_activities_done_together_fire_each_line_once(self):
        """Several activities marked done in one call (the activities list's
        "Mark as done") are one award batch per line."""
        self.add_line("Gesprek gevoerd", 8)
        leads = self.lead + self.lead.copy({"partner_id": self.bram.id})
        leads |= self.lead.copy({"partner_id": self.carl.id})
        activities = self.env["mail.activity"]
        for lead in leads:
            activities |= self.schedule(lead)
        Action = type(self.env["ir.actions.server"])
        run = Action._lead_scoring_run
        with patch.object(Action, "_lead_scoring_run", autospec=True, side_effect=run) as fire:
            activities.with_user(self.salesman).action_done()
        self.assertEqual(fire.call_count, 1)
        for partner in self.anna + self.bram + self.carl:
            self.assertEqual(self.score_of(self.engagement, partner), 8.0)

    def test_lead_without_customer_scores_the_deal_only(self):
        self.add_line("Gesprek gevoerd", 8)
        self.add_line("Gesprek gevoerd", 3, self.pipeline)
        lead = self.lead.copy({"partner_id": False, "email_from": False})
        self.schedule(lead).with_user(self.salesman).action_feedback()
        self.assertEqual(self.lines_of(self.pipeline, lead).points, 3.0)
        self.assertFalse(self.Point.search([("model_id", "=", self.engagement.id)]))

    def mark_a_call_done(self, expected=None):
        """Schedule a call, then mark it done as the salesman with empty caches;
        return the queries that took (at most ``expected`` when given)."""
        activity = self.schedule()
        self.env.flush_all()
        self.env.invalidate_all()
        count0 = self.cr.sql_log_count
        if expected is None:
            activity.with_user(self.salesman).action_feedback()
            self.env.flush_all()
        else:
            with self.assertQueryCount(expected):
                activity.with_user(self.salesman).action_feedback()
        return self.cr.sql_log_count - count0

    def test_queries_without_a_matching_line(self):
        """No "Activity done" line, or only lines of other types: marking an
        activity done costs what it costs without them."""
        self.mark_a_call_done()  # warms Odoo's caches
        baseline = self.mark_a_call_done()
        self.add_line("Mail verstuurd", 2, activity_type_ids=[(6, 0, self.email.ids)])
        self.mark_a_call_done()  # the lines are read once, then cached
        self.mark_a_call_done(expected=baseline)
        self.assertFalse(self.Point.search([("model_id", "=", self.engagement.id)]))

    def test_queries_with_lines(self):
        """A matching line adds a handful of queries: its claim, the customer,
        the ledger line with its score."""
        self.mark_a_call_done()
        baseline = self.mark_a_call_done()
        self.add_line("Gesprek gevoerd", 8)
        self.mark_a_call_done()
        added = self.mark_a_call_done() - baseline
        _logger.info("Activity done: %s queries, %s more with one line", baseline, added)
        self.mark_a_call_done(expected=baseline + LINE_QUERIES)
        self.assertEqual(self.score_of(self.engagement, self.anna), 24.0)


# What one matching "Activity done" line may add to marking an activity done.
LINE_QUERIES = 6
