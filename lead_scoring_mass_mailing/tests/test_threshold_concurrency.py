import time

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.lead_scoring.tests.common import CommittedCursorCase

from ..models.lead_scoring_threshold import LIST_LOCK

# Two contacts per e-mail, one in each id range: a company and its person
# sharing info@, and two contacts of an e-mail that already has a mailing
# contact (not on the list yet).
INFO = "info@gelijktijdig.example"
SALES = "verkoop@gelijktijdig.example"


@tagged("post_install", "-at_install")
class TestThresholdListConcurrency(CommittedCursorCase):
    """Two id ranges of a cold run fire "Add to a mailing list" side by side,
    each in its own transaction (as ``lead_scoring_queue_job`` runs them), on
    the real database: the data is committed, then removed."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            mailing_list = env["mailing.list"].create({"name": "Gelijktijdig"})
            scoring_model = env["lead.scoring.model"].create(
                {"name": "Gelijktijdig", "target": "contact"}
            )
            threshold = env["lead.scoring.threshold"].create(
                {
                    "model_id": scoring_model.id,
                    "name": "Gelijktijdig",
                    "score": 10,
                    "action": "add_to_list",
                    "mailing_list_id": mailing_list.id,
                }
            )
            env["mailing.contact"].create({"name": "Verkoop", "email": SALES})
            Partner = env["res.partner"]
            company = Partner.create({"name": "Gelijktijdig BV", "is_company": True, "email": INFO})
            shop = Partner.create({"name": "Winkel BV", "is_company": True, "email": SALES})
            person = Partner.create(
                {"name": "Ingrid Jansen", "parent_id": company.id, "email": INFO}
            )
            seller = Partner.create({"name": "Kees Smit", "email": SALES.upper()})
            self.list_id, self.model_id, self.threshold_id = (
                mailing_list.id,
                scoring_model.id,
                threshold.id,
            )
            # {e-mail: (the contact in the first range, the one in the second)}
            self.pairs = {INFO: (company.id, person.id), SALES: (shop.id, seller.id)}
        self.addCleanup(self.remove_data)

    def remove_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["mailing.contact"].search([("email_normalized", "in", [INFO, SALES])]).unlink()
            env["lead.scoring.threshold"].browse(self.threshold_id).unlink()
            env["lead.scoring.model"].browse(self.model_id).unlink()
            env["mailing.list"].browse(self.list_id).unlink()
            partners = env["res.partner"].browse([i for pair in self.pairs.values() for i in pair])
            partners.child_ids.unlink()
            partners.exists().unlink()

    def add(self, env, emails, position):
        """What a range job does when its contacts with ``emails`` cross (those
        of the first range, ``position`` 0, or of the second, 1): the
        threshold's action."""
        threshold = env["lead.scoring.threshold"].browse(self.threshold_id)
        threshold._run(env["res.partner"].browse([self.pairs[e][position] for e in emails]))
        env.flush_all()

    def start_range(self, env, emails):
        """A range job reads its records first: its snapshot is taken here."""
        partners = env["res.partner"].browse([self.pairs[e][1] for e in emails])
        self.assertEqual(len(partners.mapped("name")), len(emails))

    def waits_for_the_list(self, timeout=10):
        """Whether a transaction waits for the list's lock (within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.registry.cursor() as cr:
                cr.execute(
                    SQL(
                        """
                        SELECT count(*) FROM pg_locks
                         WHERE locktype = 'advisory' AND NOT granted
                           AND classid = %s AND objid = %s AND objsubid = 2
                        """,
                        LIST_LOCK,
                        self.list_id,
                    )
                )
                if cr.fetchone()[0]:
                    return True
            time.sleep(0.05)
        return False

    def assert_once_on_the_list(self, emails):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            for email in emails:
                contacts = env["mailing.contact"].search([("email_normalized", "=", email)])
                self.assertEqual(len(contacts), 1, f"one mailing contact with {email}")
                self.assertEqual(contacts.subscription_ids.list_id.ids, [self.list_id])
            self.assertEqual(env["mailing.list"].browse(self.list_id).contact_count, len(emails))
            if SALES in emails:
                sales = env["mailing.contact"].search([("email_normalized", "=", SALES)])
                self.assertEqual(sales.name, "Verkoop", "the existing mailing contact, reused")

    def in_turn(self, emails):
        """The second range started before the first committed, and fires
        after: its snapshot cannot show what the first added."""
        with self.registry.cursor() as cr2:
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            self.start_range(env2, emails)
            with self.registry.cursor() as cr1:
                self.add(api.Environment(cr1, SUPERUSER_ID, {}), emails, 0)
            self.add(env2, emails, 1)

    @mute_logger("odoo.sql_db")
    def test_new_email_in_two_ranges(self):
        """info@ has no mailing contact: the first range creates one, the
        second does not create another."""
        self.in_turn([INFO])
        self.assert_once_on_the_list([INFO])

    @mute_logger("odoo.sql_db")
    def test_existing_mailing_contact_in_two_ranges(self):
        """verkoop@ has a mailing contact: the first range subscribes it, the
        second does not subscribe it again (which Odoo refuses)."""
        self.in_turn([SALES])
        self.assert_once_on_the_list([SALES])

    @mute_logger("odoo.sql_db")
    def test_ranges_side_by_side_one_waits(self):
        """The second range fires while the first has not committed: it waits
        for the list, then leaves the first's e-mails alone."""
        emails = [INFO, SALES]
        with self.registry.cursor() as cr1:
            self.add(api.Environment(cr1, SUPERUSER_ID, {}), emails, 0)

            def second(env):
                self.start_range(env, emails)
                self.add(env, emails, 1)

            thread, errors = self.in_thread(second, retry=False)
            try:
                self.assertTrue(self.waits_for_the_list(), "the second range waits")
            finally:
                cr1.commit()
        thread.join(60)
        self.assertFalse(thread.is_alive())
        self.assertFalse(errors)
        self.assert_once_on_the_list(emails)
