from datetime import datetime

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import MailingScoringCommon

NOW = datetime(2025, 3, 4, 10, 0, 0)
TWO_MONTHS_LATER = datetime(2025, 5, 4, 10, 0, 0)


@tagged("post_install", "-at_install")
class TestMailingTracking(MailingScoringCommon, HttpCase):
    """Odoo's own tracking routes (pixel, tracked link, unsubscribe page) score
    the recipient as the Automations tab says."""

    def open_pixel(self, record):
        """The pixel of ``record``'s e-mail loaded, and the hit scored by the
        batch within the minute."""
        mail = self._find_mail_mail_wrecord(record)
        response = self.url_open(self.path_of(mail._get_tracking_url()))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.score_hits()

    def click(self, mailing, record, anchor_id):
        """A tracked link followed, and the hits scored by the batch."""
        response = self.url_open(self.link_path(mailing, record, anchor_id), allow_redirects=False)
        self.assertEqual(response.status_code, 301)
        self.env.invalidate_all()
        self.score_hits()

    def unsubscribe(self, mailing, document, email):
        token = mailing._generate_mailing_recipient_token(document.id, email)
        response = self.url_open(
            f"/mailing/{mailing.id}/unsubscribe?email={email}"
            f"&document_id={document.id}&hash_token={token}"
        )
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()

    def test_open_scores_once_with_reason_date_and_expiry(self):
        line = self.add_line("mailing_open", 5, expire_after=2, expire_unit="months")
        self.send(self.mailing)
        with freeze_time(NOW):
            self.open_pixel(self.anna)
        self.assertEqual(self.trace_of(self.mailing, self.anna).trace_status, "open")
        point = self.lines_of(self.engagement, self.anna)
        self.assertEqual(len(point), 1)
        self.assertRecordValues(
            point,
            [
                {
                    "points": 5.0,
                    "source": "action",
                    "action_id": line.sudo().action_id.id,
                    "reason": "Email opened: Black Friday",
                    "date": NOW,
                    "expire_date": TWO_MONTHS_LATER,
                    "is_live": True,
                }
            ],
        )
        self.assertEqual(self.anna.contact_score, 5.0)
        self.assertFalse(self.lines_of(self.engagement, self.bram), "Bram did not open it")

        # Mail clients load the pixel again at each reading: no second award.
        with freeze_time(datetime(2025, 3, 5, 9, 0, 0)):
            self.open_pixel(self.anna)
        self.assertEqual(self.lines_of(self.engagement, self.anna), point)
        self.assertEqual(self.anna.contact_score, 5.0)

    def test_each_link_scores_once(self):
        self.add_line("mailing_open", 5)
        self.add_line("mailing_click", 3, expire_after=2, expire_unit="months")
        self.send(self.mailing)
        with freeze_time(NOW):
            self.click(self.mailing, self.anna, "shop")
        trace = self.trace_of(self.mailing, self.anna)
        self.assertEqual(trace.trace_status, "open", "a click implies an open")
        points = self.lines_of(self.engagement, self.anna)
        self.assertEqual(
            sorted(points.mapped("reason")),
            [
                "Email opened: Black Friday",
                "Link clicked: Black Friday → https://www.example.com/shop",
            ],
        )
        self.assertEqual(self.anna.contact_score, 8.0)

        with freeze_time(NOW):
            self.click(self.mailing, self.anna, "shop")
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 2, "same link again")
        with freeze_time(NOW):
            self.click(self.mailing, self.anna, "prices")
        last = self.lines_of(self.engagement, self.anna)[-1]
        self.assertEqual(
            last.reason, "Link clicked: Black Friday → https://www.example.com/prijzen"
        )
        self.assertEqual(last.points, 3.0)
        with freeze_time(NOW):
            self.assertEqual(self.anna.contact_score, 11.0)
        self.assertEqual(len(trace.links_click_ids), 3, "Odoo still counts every click")

    def test_unsubscribe_from_a_mailing_on_contacts(self):
        line = self.add_line("mailing_unsubscribe", -10)
        self.send(self.mailing)
        with freeze_time(NOW):
            self.unsubscribe(self.mailing, self.anna, self.anna.email_normalized)
        self.assertTrue(self.anna.is_blacklisted)
        point = self.lines_of(self.engagement, self.anna)
        self.assertRecordValues(
            point,
            [
                {
                    "points": -10.0,
                    "reason": "Unsubscribed: Black Friday",
                    "action_id": line.sudo().action_id.id,
                    "date": NOW,
                    "expire_date": False,
                }
            ],
        )
        # The page reloaded, or the link followed again: already blocklisted.
        self.unsubscribe(self.mailing, self.anna, self.anna.email_normalized)
        self.assertEqual(self.lines_of(self.engagement, self.anna), point)

    def test_unsubscribe_from_a_mailing_list(self):
        newsletter, webinars = self.env["mailing.list"].create(
            [
                {
                    "name": "Nieuwsbrief",
                    "contact_ids": [
                        (0, 0, {"name": "Anna", "email": "anna@example.nl"}),
                        (0, 0, {"name": "Onbekend", "email": "nobody@example.org"}),
                    ],
                },
                {"name": "Webinars"},
            ]
        )
        self.add_line("mailing_unsubscribe", -10)
        self.add_line(
            "mailing_unsubscribe", -3, name="Webinars opgezegd", mailing_list_ids=webinars.ids
        )
        mailing = self.create_mailing("Nieuwsbrief maart", "mailing.list", lists=newsletter)
        self.send(mailing)
        contact = newsletter.contact_ids.filtered(lambda c: c.email == "anna@example.nl")
        with freeze_time(NOW):
            self.unsubscribe(mailing, contact, contact.email)
        self.assertTrue(
            newsletter.subscription_ids.filtered(lambda s: s.contact_id == contact).opt_out
        )
        point = self.lines_of(self.engagement, self.anna)
        self.assertEqual(len(point), 1, "the line limited to another list does not fire")
        self.assertEqual(point.points, -10.0)
        self.assertEqual(point.reason, "Unsubscribed: Nieuwsbrief maart (Nieuwsbrief)")
        self.assertEqual(point.date, NOW)

        # Subscribed again, then unsubscribed again: one opt-out per list counts.
        contact.subscription_ids.opt_out = False
        self.unsubscribe(mailing, contact, contact.email)
        self.assertEqual(self.lines_of(self.engagement, self.anna), point)

    @mute_logger("odoo.addons.lead_scoring.models.ir_actions_server")
    def test_recipient_without_contact_is_skipped(self):
        newsletter = self.env["mailing.list"].create(
            {
                "name": "Nieuwsbrief",
                "contact_ids": [
                    (0, 0, {"name": "Anna", "email": "anna@example.nl"}),
                    (0, 0, {"name": "Onbekend", "email": "nobody@example.org"}),
                ],
            }
        )
        self.add_line("mailing_open", 5)
        mailing = self.create_mailing("Nieuwsbrief maart", "mailing.list", lists=newsletter)
        self.send(mailing)
        anna_contact, nobody = newsletter.contact_ids.sorted("id")
        self.open_pixel(nobody)
        self.assertEqual(self.trace_of(mailing, nobody).trace_status, "open")
        self.assertFalse(
            self.env["lead.scoring.point"].search([("model_id", "=", self.engagement.id)])
        )
        # The list contact with Anna's e-mail address scores Anna.
        self.open_pixel(anna_contact)
        self.assertEqual(
            self.lines_of(self.engagement, self.anna).reason, "Email opened: Nieuwsbrief maart"
        )
