from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LeadScoringCase

B2B = "[('is_company', '=', True)]"
B2C = "[('is_company', '=', False)]"


@tagged("post_install", "-at_install")
class TestSegments(LeadScoringCase):
    """A scoring model scores the records of its segment only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acme = cls.env["res.partner"].create(
            {"name": "Acme BV", "is_company": True, "country_id": cls.nl.id}
        )
        cls.b2b = cls.create_model(
            "Zakelijk",
            rules=[("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)],
            domain=B2B,
            sequence=1,
        )
        cls.b2c = cls.create_model(
            "Particulier",
            rules=[("Land is Nederland", "[('country_id.code', '=', 'NL')]", 5.0)],
            domain=B2C,
            sequence=2,
        )

    def award(self, scoring_model, *records, points=7):
        self.Point._add_points(
            scoring_model, [(r.id, points, "Webinar attended") for r in records], "action"
        )

    def test_rules_score_their_segment_only(self):
        self.recompute()
        self.assertEqual(self.score_of(self.b2b, self.acme), 20.0)
        self.assertEqual(self.score_of(self.b2b, self.anna), 0.0, "Anna is a person")
        self.assertEqual(self.score_of(self.b2c, self.anna), 5.0)
        self.assertFalse(self.lines_of(self.b2c, self.acme))
        self.assertEqual(
            self.b2b.segment_count,
            self.env["res.partner"].search_count([("is_company", "=", True)]),
        )

    def test_primary_score_from_the_model_of_the_record_segment(self):
        self.recompute()
        self.assertEqual(self.acme.contact_score, 20.0)
        self.assertEqual(self.anna.contact_score, 5.0, "from the second model: her segment")
        self.assertEqual(self.carl.contact_score, 0.0)

    def test_automations_and_manual_points_skip_records_outside(self):
        self.award(self.b2b, self.acme, self.anna)
        self.assertEqual(self.score_of(self.b2b, self.acme), 7.0)
        self.assertFalse(self.lines_of(self.b2b, self.anna), "outside: no line")
        wizard = (
            self.env["lead.scoring.point.manual"]
            .with_user(self.manager)
            .with_context(active_model="res.partner", active_ids=(self.anna | self.acme).ids)
            .create({"model_id": self.b2b.id, "points": 3, "reason": "Fair"})
        )
        wizard.action_add_points()
        self.assertEqual(self.score_of(self.b2b, self.acme), 10.0)
        self.assertFalse(self.lines_of(self.b2b, self.anna))

    def test_leaving_and_reentering_the_segment(self):
        self.recompute()
        self.award(self.b2b, self.acme)
        self.assertEqual(self.acme.contact_score, 27.0)
        self.acme.is_company = False  # leaves Zakelijk, enters Particulier
        self.recompute()
        rule_line = self.lines_of(self.b2b, self.acme, source="rule")
        self.assertTrue(rule_line.closed_date, "its rule line is closed")
        self.assertEqual(self.score_of(self.b2b, self.acme), 7.0, "earned points stay")
        self.assertEqual(self.acme.contact_score, 5.0, "primary now from Particulier")
        self.acme.is_company = True
        self.recompute()
        self.assertEqual(len(self.lines_of(self.b2b, self.acme, source="rule")), 2)
        self.assertEqual(self.acme.contact_score, 27.0)

    def test_primary_score_follows_a_record_that_only_changes_segment(self):
        # No rule line changes (no rule reads is_company), yet the primary
        # model does: the contact score follows.
        engagement = self.create_model("Betrokkenheid", domain=B2B, sequence=0)
        self.award(engagement, self.acme, points=9)
        self.recompute()
        self.assertEqual(self.acme.contact_score, 9.0)
        self.acme.is_company = False
        self.recompute()
        self.assertEqual(self.acme.contact_score, 5.0)

    def test_segment_per_company(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        local = self.create_model(
            "Company B persons", domain=B2C, company_id=company_b.id, sequence=0
        )
        self.award(local, self.bram, points=4)
        self.bram.company_id = company_b
        self.recompute()
        self.assertEqual(self.bram.contact_score, 4.0, "first model of his company and segment")
        self.assertEqual(self.anna.contact_score, 5.0)

    def test_invalid_segments_refused(self):
        for domain in ("[('no_such_field', '=', 1)]", "[('name', '=',", "42"):
            with self.subTest(domain=domain), self.assertRaises(ValidationError):
                self.b2b.domain = domain
