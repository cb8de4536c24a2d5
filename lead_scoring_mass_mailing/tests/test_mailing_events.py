from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import MailingScoringCommon

NOW = datetime(2025, 3, 4, 10, 0, 0)


@tagged("post_install", "-at_install")
class TestMailingEvents(MailingScoringCommon):
    """Replies and bounces through the mail gateway, recipients of mailings on
    leads, lines limited to mailings or lists, and the line's configuration."""

    def test_reply_through_the_gateway(self):
        self.add_line("mailing_open", 5)
        self.add_line("mailing_reply", 10, expire_after=2, expire_unit="months")
        self.send(self.mailing)
        with freeze_time(NOW):
            self.reply(self.mailing, self.anna)
            self.score_hits()  # the open a reply implies, within the minute
        trace = self.trace_of(self.mailing, self.anna)
        self.assertEqual(trace.trace_status, "reply")
        points = self.lines_of(self.engagement, self.anna)
        self.assertEqual(
            sorted(points.mapped("reason")),
            ["Email opened: Black Friday", "Email replied: Black Friday"],
            "a reply implies an open, as Odoo's statistics count it",
        )
        self.assertEqual(points.filtered(lambda p: p.points == 10).date, NOW)
        self.assertEqual(self.anna.contact_score, 15.0)
        # The same answer delivered twice by the mail server is one reply.
        trace.set_replied()
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 2)

    @mute_logger("odoo.addons.mail.models.mail_thread")
    def test_bounce_through_the_gateway(self):
        line = self.add_line("mailing_bounce", -5)
        self.send(self.mailing)
        self.gateway_mail_trace_bounce(self.mailing, self.bram)
        self.assertEqual(self.trace_of(self.mailing, self.bram).trace_status, "bounce")
        point = self.lines_of(self.engagement, self.bram)
        self.assertRecordValues(
            point,
            [
                {
                    "points": -5.0,
                    "reason": "Email bounced: Black Friday",
                    "action_id": line.sudo().action_id.id,
                }
            ],
        )
        self.gateway_mail_trace_bounce(self.mailing, self.bram)
        self.assertEqual(self.lines_of(self.engagement, self.bram), point, "one bounce per trace")
        self.assertFalse(self.lines_of(self.engagement, self.anna))

    def test_mailing_on_leads_scores_the_lead_or_its_customer(self):
        deal_model = self.env["lead.scoring.model"].create(
            {"name": "Dealkwaliteit", "target": "deal"}
        )
        self.add_line("mailing_open", 5)
        self.add_line("mailing_open", 7, scoring_model=deal_model)
        carl = self.env["res.partner"].create({"name": "Carl", "email": "carl@example.com"})
        Lead = self.env["crm.lead"]
        solar, heat_pump, unknown = Lead.create(
            [
                {
                    "name": "Zonnepanelen",
                    "partner_id": self.anna.id,
                    "email_from": "anna@example.nl",
                },
                {
                    "name": "Warmtepomp",
                    "partner_id": self.anna.id,
                    "email_from": "a.devries@work.nl",
                },
                {"name": "Offerte", "email_from": "Carl <carl@example.com>"},
            ]
        )
        mailing = self.create_mailing("Voorjaarsactie", "crm.lead", solar + heat_pump + unknown)
        self.send(mailing)
        traces = mailing.mailing_trace_ids
        self.assertEqual(len(traces), 3)
        traces.set_opened()
        self.score_hits()

        # Contact model: the lead's customer, once although two of her leads opened it.
        self.assertEqual(self.lines_of(self.engagement, self.anna).points, 5.0)
        self.assertEqual(self.anna.contact_score, 5.0)
        # A lead without customer: the contact with its e-mail.
        self.assertEqual(
            self.lines_of(self.engagement, carl).reason, "Email opened: Voorjaarsactie"
        )
        # Deal model: each lead.
        for lead in solar + heat_pump + unknown:
            self.assertEqual(self.lines_of(deal_model, lead).points, 7.0)

        # The second lead's trace opened later, alone: still counted.
        self.trace_of(mailing, heat_pump).set_opened()
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 1)

    def test_same_mailing_twice_to_one_recipient_scores_once(self):
        self.add_line("mailing_open", 5)
        self.send(self.mailing)
        # Sent again (e.g. a copy of the trace list re-sent by hand): a second trace.
        first = self.trace_of(self.mailing, self.anna)
        second = first.copy({"trace_status": "sent"})
        first.set_opened()
        second.set_opened()
        self.assertEqual(second.trace_status, "open")
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 1)
        # Another mailing is another event.
        other = self.create_mailing("Cyber Monday", "res.partner", self.anna)
        self.send(other)
        self.trace_of(other, self.anna).set_opened()
        self.assertEqual(
            self.lines_of(self.engagement, self.anna).mapped("reason"),
            ["Email opened: Black Friday", "Email opened: Cyber Monday"],
        )

    def test_lines_limited_to_mailings_or_lists(self):
        newsletter, webinars = self.env["mailing.list"].create(
            [
                {
                    "name": "Nieuwsbrief",
                    "contact_ids": [(0, 0, {"name": "A", "email": "anna@example.nl"})],
                },
                {
                    "name": "Webinars",
                    "contact_ids": [(0, 0, {"name": "A", "email": "anna@example.nl"})],
                },
            ]
        )
        other = self.create_mailing("Cyber Monday", "res.partner", self.anna)
        letter = self.create_mailing("Nieuwsbrief maart", "mailing.list", lists=newsletter)
        self.add_line("mailing_open", 1, name="Andere mailing", mailing_ids=other.ids)
        self.add_line("mailing_open", 2, name="Deze mailing", mailing_ids=self.mailing.ids)
        self.add_line("mailing_open", 4, name="Webinarlijst", mailing_list_ids=webinars.ids)
        self.add_line("mailing_open", 8, name="Nieuwsbrieflijst", mailing_list_ids=newsletter.ids)
        self.send(self.mailing)
        self.send(letter)
        self.trace_of(self.mailing, self.anna).set_opened()
        self.score_hits()
        self.assertEqual(self.anna.contact_score, 2.0, "only the line of this mailing")
        letter.mailing_trace_ids.set_opened()
        self.score_hits()
        self.assertEqual(self.anna.contact_score, 10.0, "only the line of the newsletter list")

    def test_archived_line_or_archived_model_does_not_score(self):
        line = self.add_line("mailing_open", 5)
        self.send(self.mailing)
        line.active = False
        self.trace_of(self.mailing, self.anna).set_opened()
        self.assertFalse(self.lines_of(self.engagement, self.anna))
        line.active = True
        self.engagement.active = False
        self.trace_of(self.mailing, self.bram).set_opened()
        self.assertFalse(self.lines_of(self.engagement, self.bram))
        # Neither counted the event: active again, the next mailing scores.
        self.engagement.active = True
        self.score_hits()
        self.assertFalse(self.env["lead.scoring.mailing.event"].search([]))

    def test_one_open_query_budget(self):
        """A pixel hit with a line to fire costs Odoo's own queries only (the
        open is marked in Odoo's UPDATE of the trace, no ledger line), caches
        warm as on a server that already tracked an open; the batch scores it."""
        self.add_line("mailing_open", 5, expire_after=2, expire_unit="months")
        self.send(self.mailing)
        Trace = self.env["mailing.trace"].sudo()
        self.trace_of(self.mailing, self.bram).set_opened()
        self.score_hits()
        mail_id = self.trace_of(self.mailing, self.anna).mail_mail_id_int
        self.env.flush_all()
        self.env.invalidate_all()
        with self.assertQueryCount(3):
            Trace.set_opened(domain=[("mail_mail_id_int", "in", [mail_id])])
            self.env.flush_all()
        self.assertFalse(self.lines_of(self.engagement, self.anna, score=False))
        self.score_hits()
        self.assertEqual(self.anna.contact_score, 5.0)

    def test_marketer_sets_up_a_mailing_trigger(self):
        line = self.add_line("mailing_open", 5, expire_after=2, expire_unit="months")
        self.assertEqual(line.trigger_model_id.model, "mailing.trace")
        action = line.sudo().action_id
        self.assertFalse(line.sudo().automation_id, "fired by the tracking, no Automation Rule")
        self.assertRecordValues(
            action,
            [
                {
                    "state": "lead_score",
                    "model_id": self.env["ir.model"]._get_id("mailing.trace"),
                    "score_model_id": self.engagement.id,
                    "score_points": 5.0,
                    "score_expire_after": 2,
                    "score_expire_unit": "months",
                }
            ],
        )
        with self.assertRaises(ValidationError):
            line.trigger_model_id = self.env["ir.model"]._get("res.partner")
        # Back to an Odoo trigger: an Automation Rule takes over.
        line.write(
            {
                "trigger": "on_create",
                "trigger_model_id": self.env["ir.model"]._get_id("res.partner"),
            }
        )
        self.assertEqual(line.sudo().automation_id.action_server_ids, action)

    def test_form_sets_the_trigger_model(self):
        form = Form(
            self.env["lead.scoring.automation"]
            .with_user(self.marketer)
            .with_context(default_model_id=self.engagement.id),
            view="lead_scoring.lead_scoring_automation_view_form",
        )
        form.trigger = "mailing_click"
        self.assertEqual(form.trigger_model_id.model, "mailing.trace")
        self.assertEqual(form.name, "Link clicked")
        form.points = 3
        form.mailing_ids.add(self.mailing)
        line = form.save()
        self.assertEqual(line.mailing_ids, self.mailing)
        self.assertEqual(line.trigger_model_id.model, "mailing.trace")

    def test_salesman_reads_lines_without_mailing_rights(self):
        salesman = self.env["res.users"].create(
            {
                "name": "Verkoper",
                "login": "ls_verkoper",
                "groups_id": [(6, 0, self.env.ref("sales_team.group_sale_salesman").ids)],
            }
        )
        self.add_line("mailing_open", 5, mailing_ids=self.mailing.ids)
        engagement = self.engagement.with_user(salesman)
        self.assertEqual(engagement.automation_ids.mapped("trigger"), ["mailing_open"])
        self.assertNotIn("mailing_ids", engagement.automation_ids.fields_get())
