from urllib.parse import urlsplit

from odoo.tests import new_test_user

from odoo.addons.mass_mailing.tests.common import MassMailCommon

# Two tracked links, so that clicks can be counted per link.
BODY = (
    '<p>Hallo <t t-out="object.name"/>,</p>'
    '<p><a id="shop" href="https://www.example.com/shop">Naar de winkel</a> of '
    '<a id="prices" href="https://www.example.com/prijzen">bekijk de prijzen</a>.</p>'
)

REPLY = """From: {email_from}
To: {email_to}
Subject: Re: {subject}
Message-ID: <{message_ref}@mail.example.nl>
In-Reply-To: {in_reply_to}
Date: Tue, 04 Mar 2025 10:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Graag ontvang ik een offerte.
"""


class MailingScoringCommon(MassMailCommon):
    """A marketer, a contact scoring model, two contacts and a mailing to them,
    sent for real with Odoo's mail gateway mocked (MassMailCommon)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = new_test_user(
            cls.env,
            login="ls_marketer",
            name="Marketeer",
            groups="lead_scoring.group_lead_scoring_manager,mass_mailing.group_mass_mailing_user,"
            "sales_team.group_sale_salesman_all_leads",
        )
        cls.engagement = (
            cls.env["lead.scoring.model"]
            .with_user(cls.marketer)
            .create({"name": "Betrokkenheid", "target": "contact"})
        )
        Partner = cls.env["res.partner"]
        cls.anna = Partner.create({"name": "Anna de Vries", "email": "anna@example.nl"})
        cls.bram = Partner.create({"name": "Bram Peeters", "email": "bram@example.be"})
        cls.mailing = cls.create_mailing("Black Friday", "res.partner", cls.anna + cls.bram)

    @classmethod
    def create_mailing(cls, subject, model, records=None, lists=None):
        values = {
            "subject": subject,
            "body_html": BODY,
            "mailing_model_id": cls.env["ir.model"]._get_id(model),
            "mailing_type": "mail",
            # Answers land in the recipient's chatter through the catchall.
            "reply_to_mode": "update",
        }
        if records is not None:
            values["mailing_domain"] = repr([("id", "in", records.ids)])
        if lists is not None:
            values["contact_list_ids"] = [(6, 0, lists.ids)]
        return cls.env["mailing.mailing"].with_user(cls.marketer).create(values)

    def add_line(self, trigger, points, scoring_model=None, **values):
        """An Automations-tab line, created by the marketer as in the form."""
        return (
            self.env["lead.scoring.automation"]
            .with_user(self.marketer)
            .create(
                {
                    "model_id": (scoring_model or self.engagement).id,
                    "name": values.pop("name", dict(self.triggers())[trigger]),
                    "trigger": trigger,
                    "points": points,
                    **values,
                }
            )
        )

    def triggers(self):
        return self.env["lead.scoring.automation"]._fields["trigger"].selection

    def send(self, mailing):
        with self.mock_mail_gateway(mail_unlink_sent=False):
            mailing.with_user(self.marketer).action_send_mail()
        self.env.invalidate_all()

    def trace_of(self, mailing, record):
        return mailing.mailing_trace_ids.filtered(
            lambda trace: trace.model == record._name and trace.res_id == record.id
        )

    def score_hits(self):
        """Run the batch that scores the recorded opens and clicks (the
        scheduled action does every minute)."""
        self.env.flush_all()
        self.env["lead.scoring.mailing.hit"].sudo()._score_hits()
        self.env.invalidate_all()

    def lines_of(self, scoring_model, record, score=True):
        """The ledger lines of ``record``, once the recorded hits are scored
        (``score``)."""
        if score:
            self.score_hits()
        column = scoring_model._target_column()
        return self.env["lead.scoring.point"].search(
            [("model_id", "=", scoring_model.id), (column, "=", record.id)], order="id"
        )

    def path_of(self, url):
        """The path and query of a URL built on the database's base URL."""
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def link_path(self, mailing, record, anchor_id):
        """The tracked link ``anchor_id`` of the e-mail sent to ``record``, as
        the recipient gets it (the mail adds its trace when it is sent)."""
        mail = self._find_mail_mail_wrecord(record)
        code = self._get_code_from_short_url(self._get_href_from_anchor_id(mail.body, anchor_id))
        return f"/r/{code.code}/m/{self.trace_of(mailing, record).id}"

    def reply(self, mailing, record):
        """An answer to the mailing's e-mail, through the mail gateway."""
        mail = self._find_mail_mail_wrecord(record)
        message = REPLY.format(
            email_from=record.email,
            email_to=mail.reply_to,
            subject=mailing.subject,
            message_ref=f"reply-{record._name}-{record.id}",
            in_reply_to=mail.message_id,
        )
        self.env["mail.thread"].sudo().message_process(False, message)
        self.env.invalidate_all()
