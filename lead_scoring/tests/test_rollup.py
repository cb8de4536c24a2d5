from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestRollup(LeadScoringCase):
    """A company's score rolls up from its people: its own points plus the
    sum, highest or average score of its active contacts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.acme = Partner.create({"name": "Acme BV", "is_company": True})
        cls.globex = Partner.create({"name": "Globex NV", "is_company": True})
        cls.anna.parent_id = cls.acme
        cls.bram.parent_id = cls.acme
        cls.accounts = cls.create_model(
            "Accounts",
            rollup="sum",
            threshold_ids=[(0, 0, {"name": "Account ready", "score": 25})],
        )

    def award(self, partner, points):
        self.Point._add_points(self.accounts, [(partner.id, points, "Engaged")], "action")

    def rollup_of(self, partner):
        return self.Score.search(
            [("model_id", "=", self.accounts.id), ("partner_id", "=", partner.id)]
        ).rollup_score

    def deals_of(self, partner):
        return self.env["crm.lead"].search([("partner_id", "=", partner.id)])

    def test_sum_max_average(self):
        self.award(self.anna, 10)
        self.award(self.bram, 4)
        self.award(self.acme, 1)
        self.recompute()
        self.assertEqual(
            (self.score_of(self.accounts, self.acme), self.rollup_of(self.acme)), (15.0, 14.0)
        )
        self.assertEqual(self.acme.contact_score, 15.0, "primary score is the total")
        self.accounts.rollup = "max"
        self.recompute()
        self.assertEqual(self.score_of(self.accounts, self.acme), 11.0)
        self.accounts.rollup = "average"
        self.recompute()
        self.assertEqual(self.score_of(self.accounts, self.acme), 8.0)
        self.assertEqual(self.score_of(self.accounts, self.anna), 10.0, "contacts keep theirs")

    def test_archived_and_moved_contacts(self):
        self.award(self.anna, 10)
        self.award(self.bram, 4)
        self.recompute()
        self.assertEqual(self.rollup_of(self.acme), 14.0)
        self.bram.active = False
        self.recompute()
        self.assertEqual(self.rollup_of(self.acme), 10.0, "archived contacts do not count")
        self.anna.parent_id = self.globex
        self.recompute()
        self.assertEqual(self.rollup_of(self.acme), 0.0, "the former company loses her")
        self.assertEqual(self.score_of(self.accounts, self.globex), 10.0)

    def test_threshold_fires_once_on_the_company_total(self):
        self.award(self.anna, 15)
        self.recompute()
        self.assertFalse(self.deals_of(self.acme))
        self.award(self.bram, 12)
        self.recompute()
        self.assertEqual(len(self.deals_of(self.acme)), 1, "a company crossing 25 gets a deal")
        self.award(self.bram, 5)
        self.recompute()
        self.assertEqual(len(self.deals_of(self.acme)), 1)

    def test_only_contact_models_roll_up(self):
        with self.assertRaises(ValidationError):
            self.create_model("Deals", target="deal", rollup="sum")
