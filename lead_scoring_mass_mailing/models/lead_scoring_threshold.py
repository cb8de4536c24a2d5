import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# No "created" note, no tracking, no follower on the mailing contacts a
# threshold creates: a cold run may create thousands.
QUIET = {"mail_create_nolog": True, "mail_create_nosubscribe": True, "tracking_disable": True}
# pg_advisory_xact_lock(LIST_LOCK, mailing list id): one transaction at a time
# adds contacts to a list ("LSML"; not lead_scoring's RECOMPUTE_LOCK_KEY, which
# keys the scoring models' locks).
LIST_LOCK = 0x4C534D4C


class LeadScoringThreshold(models.Model):
    """Nurture lists: a crossing puts the contact on a mailing list, or takes
    it off. The crossing contact is the record of a contact model and the
    customer of a deal; the list holds a ``mailing.contact`` of its e-mail."""

    _inherit = "lead.scoring.threshold"

    action = fields.Selection(
        selection_add=[
            ("add_to_list", "Add to a mailing list"),
            ("remove_from_list", "Remove from a mailing list"),
        ],
        ondelete={"add_to_list": "cascade", "remove_from_list": "cascade"},
    )
    mailing_list_id = fields.Many2one(
        "mailing.list",
        ondelete="restrict",
        help="The contact is added to this list (or removed from it) with its name and "
        "e-mail. A contact who unsubscribed from the list is never added again; "
        "blacklisted e-mails and contacts without an e-mail are left out.",
    )

    @api.constrains("action", "mailing_list_id")
    def _check_mailing_list(self):
        for threshold in self:
            if (
                threshold.action in ("add_to_list", "remove_from_list")
                and not threshold.mailing_list_id
            ):
                raise ValidationError(
                    self.env._(
                        'Threshold "%(threshold)s" needs a mailing list.',
                        threshold=threshold.name,
                    )
                )

    # ------------------------------------------------------------------
    # Actions (see lead.scoring.threshold._run)
    # ------------------------------------------------------------------

    def _list_partners(self, records):
        """The contacts a list action acts on: the records of a contact model,
        the customers of deals (or of any record with a ``partner_id``)."""
        if records._name == "res.partner":
            return records
        if "partner_id" in records._fields and records._fields["partner_id"].comodel_name == (
            "res.partner"
        ):
            return records.partner_id
        return self.env["res.partner"]

    def _list_emails(self, records):
        """Normalized e-mail -> partner, for the crossing records' contacts.

        :return: (emails, skipped): skipped counts the records left without a
            contact or without a valid e-mail
        """
        partners = self._list_partners(records).sudo()
        partners.fetch(["name", "email", "email_normalized"])
        emails = {}
        for partner in partners:
            if partner.email_normalized:
                emails.setdefault(partner.email_normalized, partner)
        with_email = set(partners.filtered("email_normalized").ids)
        if records._name == "res.partner":
            skipped = len(records) - len(with_email)
        else:
            skipped = len(records.filtered(lambda record: record.partner_id.id not in with_email))
        return emails, skipped

    def _list_subscriptions(self, emails, **domain):
        """Subscriptions to the threshold's list of contacts with these e-mails."""
        return (
            self.env["mailing.subscription"]
            .sudo()
            .search_fetch(
                [
                    ("list_id", "=", self.mailing_list_id.id),
                    ("contact_id.email_normalized", "in", list(emails)),
                    *((name, "=", value) for name, value in domain.items()),
                ],
                ["contact_id", "opt_out"],
            )
        )

    def _run_add_to_list(self, records):
        """Subscribe the crossing contacts to the list, in a few statements
        for the whole batch.

        Left out: e-mails already on the list (subscribed, or opted out: an
        opt-out is never undone), blacklisted e-mails, contacts without an
        e-mail (counted in the scoring model's chatter). A mailing contact
        with the e-mail is reused (the oldest); otherwise one is created with
        the contact's name and e-mail. Runs side by side (id ranges) add to a
        list one at a time (``_lock_list``): no e-mail twice on a list.

        :return: the new subscriptions
        """
        self.ensure_one()
        emails, skipped = self._list_emails(records)
        if emails:
            self._lock_list()
        blacklisted = set(
            self.env["mail.blacklist"]
            .sudo()
            .search_fetch([("email", "in", list(emails))], ["email"])
            .mapped("email")
        )
        subscribed = self._list_subscriptions(emails)
        opted_out = {s.contact_id.email_normalized for s in subscribed if s.opt_out}
        done = set(subscribed.contact_id.mapped("email_normalized"))
        todo = [email for email in emails if email not in blacklisted and email not in done]
        if todo:
            on_list = self._emails_on_list_committed(todo)
            todo = [email for email in todo if email not in on_list]
        subscriptions, new_contacts = self._subscribe_emails(
            {email: emails[email] for email in todo}
        )
        _logger.info(
            "Lead scoring: threshold %s added %d contacts to mailing list %s "
            "(%d new mailing contacts; left out: %d opted out, %d blacklisted, %d without e-mail)",
            self.id,
            len(subscriptions),
            self.mailing_list_id.id,
            len(new_contacts),
            len(opted_out),
            len(blacklisted),
            skipped,
        )
        self._log_skipped(skipped)
        return subscriptions

    def _lock_list(self):
        """Wait until no other transaction is adding contacts to the list, and
        keep the others waiting until this one commits or rolls back.

        The id ranges of a cold run fire their thresholds side by side, each in
        its own transaction (``lead_scoring_queue_job``), and two contacts with
        one e-mail (a person and its company, two persons sharing info@) may
        sit in two ranges: both would find no mailing contact and both create
        one, or both subscribe the same one (which Odoo refuses). Under the
        lock the find-or-create of a list is one transaction at a time. The
        lock alone is not enough: Odoo's transactions are REPEATABLE READ, so
        one that waited still reads the snapshot it took before the other
        committed; ``_emails_on_list_committed`` reads what is on the list
        again after the lock is held. Together: never two mailing contacts with
        one e-mail on a list, however the ranges interleave.
        """
        self.env.cr.execute(
            SQL("SELECT pg_advisory_xact_lock(%s, %s)", LIST_LOCK, self.mailing_list_id.id)
        )

    def _emails_on_list_committed(self, emails):
        """The e-mails among ``emails`` on the list (subscribed or opted out)
        by what is committed now, in a transaction of its own: the current one
        cannot see what another committed after its first statement. Call it
        under ``_lock_list``: the transactions that held the lock before have
        committed, and no other adds to the list until this one commits.

        A mailing contact committed meanwhile but not on the list cannot be
        reused (this transaction cannot see it): one is created for the list.
        A subscription this transaction removed (a "Remove from a mailing
        list" threshold of the same run, same list and e-mail) still counts as
        on the list: it is not committed yet.
        """
        with self.env.registry.cursor() as cr:
            cr.execute(
                SQL(
                    """
                    SELECT contact.email_normalized
                      FROM mailing_subscription subscription
                      JOIN mailing_contact contact ON contact.id = subscription.contact_id
                     WHERE subscription.list_id = %s
                       AND contact.email_normalized = ANY(%s)
                    """,
                    self.mailing_list_id.id,
                    list(emails),
                )
            )
            return {email for (email,) in cr.fetchall()}

    def _subscribe_emails(self, partners_by_email):
        """Subscribe each e-mail of ``{e-mail: contact}`` to the list: the
        oldest mailing contact with the e-mail, else a new one with the
        contact's name and e-mail. ``(subscriptions, new mailing contacts)``."""
        todo = list(partners_by_email)
        MailingContact = self.env["mailing.contact"].sudo()
        contacts = {}
        for contact in MailingContact.search_fetch(
            [("email_normalized", "in", todo)], ["email_normalized"], order="id"
        ):
            contacts.setdefault(contact.email_normalized, contact)
        subscriptions = (
            self.env["mailing.subscription"]
            .sudo()
            .create(
                [
                    {"contact_id": contacts[email].id, "list_id": self.mailing_list_id.id}
                    for email in todo
                    if email in contacts
                ]
            )
        )
        new_contacts = MailingContact.with_context(**QUIET).create(
            [
                {
                    "name": partners_by_email[email].name,
                    "email": partners_by_email[email].email,
                    "subscription_ids": [
                        fields.Command.create({"list_id": self.mailing_list_id.id})
                    ],
                }
                for email in todo
                if email not in contacts
            ]
        )
        return subscriptions | new_contacts.subscription_ids, new_contacts

    def _run_remove_from_list(self, records):
        """Take the crossing contacts off the list: their subscriptions go,
        except opt-outs, which stay to keep them off the list for good.

        :return: the number of subscriptions removed
        """
        self.ensure_one()
        emails, skipped = self._list_emails(records)
        subscriptions = self._list_subscriptions(emails, opt_out=False)
        count = len(subscriptions)
        subscriptions.unlink()
        _logger.info(
            "Lead scoring: threshold %s removed %d contacts from mailing list %s "
            "(%d without e-mail)",
            self.id,
            count,
            self.mailing_list_id.id,
            skipped,
        )
        self._log_skipped(skipped)
        return count

    def _log_skipped(self, skipped):
        """One note on the scoring model per run, where the marketer who set up
        the threshold sees it, rather than one per contact."""
        if not skipped:
            return
        self.model_id.sudo()._message_log(
            body=self.env._(
                'Threshold "%(threshold)s" (%(list)s): %(count)s contacts without an e-mail '
                "address were skipped.",
                threshold=self.name,
                list=self.mailing_list_id.name,
                count=skipped,
            )
        )
