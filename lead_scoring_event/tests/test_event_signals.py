from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT


@tagged("post_install", "-at_install")
class TestEventSignals(TransactionCase):
    """Registrations and attendance score the attendee's contact, as the event
    manager works: registering people, importing attendees, marking them
    attended at the door or all at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, **DISABLED_MAIL_CONTEXT))
        cls.marketer = new_test_user(
            cls.env,
            login="ls_marketer",
            name="Marketeer",
            groups="sales_team.group_sale_manager,event.group_event_registration_desk",
        )
        cls.event_manager = new_test_user(
            cls.env,
            login="ls_event_manager",
            name="Evenementen",
            groups="event.group_event_manager",
        )
        cls.engagement = (
            cls.env["lead.scoring.model"]
            .with_user(cls.marketer)
            .create({"name": "Betrokkenheid", "target": "contact"})
        )
        Partner = cls.env["res.partner"]
        cls.anna = Partner.create({"name": "Anna de Vries", "email": "anna@example.nl"})
        cls.bram = Partner.create({"name": "Bram Peeters", "email": "bram@example.be"})
        cls.webinar_type = cls.env["event.type"].create({"name": "Webinar"})
        now = fields.Datetime.now()
        Event = cls.env["event.event"].with_user(cls.event_manager)
        cls.webinar = Event.create(
            {
                "name": "Webinar warmtepompen",
                "event_type_id": cls.webinar_type.id,
                "date_begin": now - timedelta(hours=1),
                "date_end": now + timedelta(hours=1),
            }
        )
        cls.open_day = Event.create(
            {
                "name": "Open dag Utrecht",
                "date_begin": now - timedelta(hours=1),
                "date_end": now + timedelta(hours=5),
            }
        )

    def add_line(self, trigger, points, name=None, **values):
        """An Automations-tab line, created by the marketer as in the form."""
        return (
            self.env["lead.scoring.automation"]
            .with_user(self.marketer)
            .create(
                {
                    "model_id": self.engagement.id,
                    "name": name or trigger,
                    "trigger": trigger,
                    "points": points,
                    **values,
                }
            )
        )

    def register(self, event=None, **values):
        return (
            self.env["event.registration"]
            .with_user(self.event_manager)
            .create({"event_id": (event or self.webinar).id, **values})
        )

    def lines_of(self, partner):
        return self.env["lead.scoring.point"].search(
            [("model_id", "=", self.engagement.id), ("partner_id", "=", partner.id)], order="id"
        )

    def score_of(self, partner):
        return sum(self.lines_of(partner).filtered("is_live").mapped("points"))

    def test_registration_and_attendance_score_once(self):
        registered = self.add_line("event_registered", 5, "Aangemeld voor evenement")
        attended = self.add_line("event_attended", 15, "Webinar bijgewoond")
        self.assertEqual(registered.trigger_model_id.model, "event.registration")
        self.assertFalse(attended.sudo().automation_id, "fired by code: no Automation Rule")

        registration = self.register(partner_id=self.anna.id)
        self.assertRecordValues(
            self.lines_of(self.anna),
            [{"points": 5.0, "reason": "Aangemeld voor evenement: Webinar warmtepompen"}],
        )
        registration.with_user(self.event_manager).action_set_done()
        self.assertEqual(
            self.lines_of(self.anna)[1:].reason, "Webinar bijgewoond: Webinar warmtepompen"
        )
        self.assertEqual(self.anna.contact_score, 20.0)

        # Back and forth: each registration fires each line once.
        registration.with_user(self.event_manager).action_set_draft()
        registration.with_user(self.event_manager).action_confirm()
        registration.with_user(self.event_manager).action_set_done()
        self.assertEqual(len(self.lines_of(self.anna)), 2)
        # Cancelling takes nothing back.
        registration.with_user(self.event_manager).action_cancel()
        self.assertEqual(self.anna.contact_score, 20.0)
        # Another event is another registration.
        self.register(self.open_day, partner_id=self.anna.id).action_set_done()
        self.assertEqual(self.anna.contact_score, 40.0)

    def test_unconfirmed_registration_scores_when_confirmed(self):
        self.add_line("event_registered", 5)
        registration = self.register(partner_id=self.bram.id, state="draft")
        self.assertFalse(self.lines_of(self.bram))
        registration.with_user(self.event_manager).action_confirm()
        self.assertEqual(self.score_of(self.bram), 5.0)

    def test_registration_by_email_scores_the_existing_contact(self):
        self.add_line("event_attended", 15)
        partners = self.env["res.partner"].search_count([])
        self.register(name="Anna", email="  Anna@Example.NL ").action_set_done()
        self.assertEqual(self.score_of(self.anna), 15.0)
        self.register(name="Onbekend", email="nobody@example.org").action_set_done()
        self.assertEqual(self.env["res.partner"].search_count([]), partners, "none created")
        self.assertEqual(len(self.env["lead.scoring.point"].search([])), 1)

    def test_event_and_template_filters(self):
        self.add_line("event_attended", 15, event_type_ids=[(6, 0, self.webinar_type.ids)])
        self.add_line("event_attended", 3, event_ids=[(6, 0, self.open_day.ids)])
        self.register(self.open_day, partner_id=self.anna.id).action_set_done()
        self.assertEqual(self.score_of(self.anna), 3.0)
        self.register(self.webinar, partner_id=self.bram.id).action_set_done()
        self.assertEqual(self.score_of(self.bram), 15.0)

    def test_import_and_mark_a_thousand_attended_at_once(self):
        """One award batch per line for a whole import and a whole event
        marked attended, whatever the number of attendees."""
        self.add_line("event_registered", 5)
        self.add_line("event_attended", 15)
        partners = self.env["res.partner"].create(
            [{"name": f"Deelnemer {i}", "email": f"deelnemer{i}@example.nl"} for i in range(1000)]
        )
        Action = type(self.env["ir.actions.server"])
        run = Action._lead_scoring_run
        with patch.object(Action, "_lead_scoring_run", autospec=True, side_effect=run) as fire:
            result = (
                self.env["event.registration"]
                .with_user(self.event_manager)
                .load(
                    ["event_id/.id", "name", "email"],
                    [[str(self.webinar.id), p.name, p.email] for p in partners],
                )
            )
            self.assertFalse(result["messages"])
            self.assertEqual(fire.call_count, 1, "one award batch for the whole import")
            registrations = self.env["event.registration"].browse(result["ids"])

            fire.reset_mock()
            registrations.with_user(self.event_manager).action_set_done()
            self.assertEqual(fire.call_count, 1, "one award batch for the whole event")
        points = self.env["lead.scoring.point"].search([("partner_id", "in", partners.ids)])
        self.assertEqual(len(points), 2000)
        self.assertEqual(set(partners.mapped("contact_score")), {20.0})

    def test_attendance_costs_the_same_for_ten_or_a_hundred(self):
        self.add_line("event_attended", 15)
        partners = self.env["res.partner"].create(
            [{"name": f"Deelnemer {i}", "email": f"d{i}@example.nl"} for i in range(110)]
        )
        registrations = self.env["event.registration"].create(
            [{"event_id": self.webinar.id, "partner_id": p.id} for p in partners]
        )

        def queries(batch):
            self.env.flush_all()
            self.env.invalidate_all()
            count0 = self.cr.sql_log_count
            batch.with_user(self.event_manager).action_set_done()
            self.env.flush_all()
            return self.cr.sql_log_count - count0

        queries(registrations[:5])  # warms the caches
        ten, hundred = queries(registrations[5:15]), queries(registrations[15:])
        self.assertLessEqual(hundred, ten + 2, f"10 attendees: {ten} queries, 100: {hundred}")
        self.assertEqual(len(self.env["lead.scoring.point"].search([])), 110)
