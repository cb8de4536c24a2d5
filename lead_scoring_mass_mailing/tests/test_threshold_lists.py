from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, TransactionCase, new_test_user, tagged

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT


@tagged("post_install", "-at_install")
class TestThresholdLists(TransactionCase):
    """Nurture lists a marketer (a scoring manager, no administrator, no
    Email Marketing rights) sets up on thresholds: a crossing adds the contact
    to a mailing list or takes it off."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, **DISABLED_MAIL_CONTEXT))
        cls.marketer = new_test_user(
            cls.env,
            login="ls_list_marketer",
            groups="lead_scoring.group_lead_scoring_manager",
            name="Marketeer",
        )
        cls.salesman = new_test_user(
            cls.env, login="ls_list_salesman", groups="sales_team.group_sale_salesman"
        )
        ScoringModel = cls.env["lead.scoring.model"].with_user(cls.marketer)
        cls.interest = ScoringModel.create({"name": "Interesse productgroep", "target": "contact"})
        cls.engagement = ScoringModel.create({"name": "Betrokkenheid", "target": "contact"})
        cls.product_list = cls.env["mailing.list"].create({"name": "Productmailing"})
        cls.nurture = cls.env["mailing.list"].create({"name": "Nurture"})
        Partner = cls.env["res.partner"]
        cls.anna = Partner.create({"name": "Anna de Vries", "email": "Anna@Example.nl"})
        cls.bram = Partner.create({"name": "Bram Peeters", "email": "bram@example.be"})
        cls.carl = Partner.create({"name": "Carl Zonder"})

    def create_threshold(self, scoring_model=None, **values):
        return (
            self.env["lead.scoring.threshold"]
            .with_user(self.marketer)
            .create(
                {
                    "model_id": (scoring_model or self.interest).id,
                    "name": "Productmailing",
                    "score": 15,
                    "action": "add_to_list",
                    "mailing_list_id": self.product_list.id,
                    **values,
                }
            )
        )

    def add(self, awards, scoring_model=None):
        """Points through the ledger ({record: points}), then a real run."""
        self.env["lead.scoring.point"]._add_points(
            scoring_model or self.interest,
            [(record.id, points, "Productpagina bekeken") for record, points in awards.items()],
            "manual",
        )
        self.env["lead.scoring.model"]._cron_recompute_scores()

    def contacts_of(self, email):
        return self.env["mailing.contact"].search([("email_normalized", "=", email)])

    def subscription(self, email, mailing_list=None):
        return self.env["mailing.subscription"].search(
            [
                ("contact_id.email_normalized", "=", email),
                ("list_id", "=", (mailing_list or self.product_list).id),
            ]
        )

    def test_crossing_subscribes_the_contact(self):
        existing = self.env["mailing.contact"].create(
            {"name": "B. Peeters", "email": "bram@example.be"}
        )
        self.create_threshold()
        self.add({self.anna: 10, self.bram: 20})
        self.assertFalse(self.subscription("anna@example.nl"), "below: not yet")
        self.assertEqual(self.subscription("bram@example.be").contact_id, existing, "reused")
        self.assertEqual(len(self.contacts_of("bram@example.be")), 1, "no duplicate")
        self.add({self.anna: 10})
        contact = self.contacts_of("anna@example.nl")
        self.assertEqual(len(contact), 1, "created")
        self.assertEqual(contact.name, "Anna de Vries")
        self.assertEqual(contact.email, "Anna@Example.nl")
        self.assertEqual(contact.list_ids, self.product_list)
        self.assertFalse(self.subscription("anna@example.nl").opt_out)
        self.assertEqual(self.product_list.contact_count, 2)

    def test_opt_out_is_never_undone(self):
        contact = self.env["mailing.contact"].create({"name": "Anna", "email": "anna@example.nl"})
        subscription = self.env["mailing.subscription"].create(
            {"contact_id": contact.id, "list_id": self.nurture.id, "opt_out": True}
        )
        self.create_threshold(
            self.engagement,
            mailing_list_id=self.nurture.id,
            score=10,
            direction="down",
            name="Nurture",
        )
        self.create_threshold(
            self.engagement,
            mailing_list_id=self.nurture.id,
            score=25,
            action="remove_from_list",
            name="Weer betrokken",
        )
        self.add({self.anna: 30, self.bram: 30}, self.engagement)  # armed; above 25
        self.assertEqual(contact.subscription_ids, subscription, "opt-out kept")
        self.add({self.anna: -25, self.bram: -25}, self.engagement)  # 5: falls below 10
        self.assertTrue(subscription.opt_out, "never subscribed again")
        self.assertEqual(self.subscription("anna@example.nl", self.nurture), subscription)
        self.assertEqual(len(self.contacts_of("anna@example.nl")), 1)
        self.assertTrue(self.subscription("bram@example.be", self.nurture), "bram added")
        self.assertFalse(self.subscription("bram@example.be", self.nurture).opt_out)
        self.add({self.anna: 25, self.bram: 25}, self.engagement)  # 30: back above 25
        self.assertFalse(self.subscription("bram@example.be", self.nurture), "taken off")
        self.assertTrue(self.contacts_of("bram@example.be"), "the mailing contact stays")
        self.assertEqual(
            self.subscription("anna@example.nl", self.nurture),
            subscription,
            "the opt-out stays: it keeps her off the list for good",
        )
        self.add({self.anna: -25}, self.engagement)  # falls again
        self.assertTrue(subscription.opt_out)
        self.assertEqual(self.subscription("anna@example.nl", self.nurture), subscription)

    def test_blacklist_and_no_email(self):
        self.env["mail.blacklist"].create({"email": "bram@example.be"})
        threshold = self.create_threshold()
        self.add({self.anna: 20, self.bram: 20, self.carl: 20})
        self.assertTrue(self.subscription("anna@example.nl"))
        self.assertFalse(self.subscription("bram@example.be"), "blacklisted")
        self.assertFalse(self.contacts_of("bram@example.be"), "no mailing contact either")
        self.assertFalse(self.env["mailing.contact"].search([("name", "=", "Carl Zonder")]))
        note = self.interest.message_ids.filtered(lambda m: threshold.name in (m.body or ""))
        self.assertEqual(len(note), 1, "one note on the scoring model per run")
        self.assertIn("1 contacts without an e-mail", note.body)

    def test_deal_model_subscribes_the_customer(self):
        deals = (
            self.env["lead.scoring.model"]
            .with_user(self.marketer)
            .create({"name": "Dealkwaliteit", "target": "deal"})
        )
        self.create_threshold(deals)
        Lead = self.env["crm.lead"]
        won_over = Lead.create({"name": "Zonnepanelen", "partner_id": self.anna.id})
        lonely = Lead.create({"name": "Zonder klant", "email_from": "x@example.com"})
        self.add({won_over: 20, lonely: 20}, deals)
        contact = self.contacts_of("anna@example.nl")
        self.assertEqual(contact.name, "Anna de Vries", "the customer, not the deal")
        self.assertEqual(contact.list_ids, self.product_list)
        self.assertEqual(self.product_list.contact_count, 1, "a deal without customer: skipped")

    def test_one_batch_per_run(self):
        """The queries of a firing do not grow with the number of contacts."""
        threshold = self.create_threshold()
        Partner = self.env["res.partner"]

        def partners(prefix, count):
            return Partner.create(
                [
                    {"name": f"{prefix} {i}", "email": f"{prefix}{i}@example.nl"}
                    for i in range(count)
                ]
            )

        few, many = partners("few", 3), partners("many", 60)
        self.env.flush_all()
        counts = []
        for group in (few, many):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            threshold.sudo()._run(group)
            self.env.flush_all()
            counts.append(self.env.cr.sql_log_count - before)
        self.assertEqual(self.product_list.contact_count, 63)
        self.assertLessEqual(counts[1], counts[0] + 5, counts)

    def test_marketer_uses_the_form(self):
        with Form(self.env["lead.scoring.threshold"].with_user(self.marketer)) as form:
            form.model_id = self.engagement
            form.name = "Nurture"
            form.score = 10
            form.direction = "down"
            form.action = "add_to_list"
            self.assertTrue(form._get_modifier("mailing_list_id", "required"))
            self.assertTrue(form._get_modifier("activity_type_id", "invisible"))
            self.assertTrue(form._get_modifier("server_action_id", "invisible"))
            form.mailing_list_id = self.nurture
        self.assertEqual(form.record.mailing_list_id, self.nurture)
        self.assertEqual(form.record.mailing_list_id.with_user(self.marketer).name, "Nurture")
        with Form(form.record.with_user(self.marketer)) as edit:
            edit.action = "schedule_activity"
            self.assertTrue(edit._get_modifier("mailing_list_id", "invisible"))

    def test_rights_and_validation(self):
        with self.assertRaises(AccessError):
            self.env["lead.scoring.threshold"].with_user(self.salesman).create(
                {
                    "model_id": self.interest.id,
                    "name": "Productmailing",
                    "score": 15,
                    "action": "add_to_list",
                    "mailing_list_id": self.product_list.id,
                }
            )
        with self.assertRaises(ValidationError):
            self.create_threshold(mailing_list_id=False)
        remove = self.create_threshold(action="remove_from_list", direction="down")
        self.assertEqual(remove.action, "remove_from_list")
