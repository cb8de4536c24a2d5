from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from odoo.addons.lead_scoring.models import lead_scoring_mixin
from odoo.addons.lead_scoring.models.lead_scoring_mixin import LeadScoringMixin

from .common import LeadScoringCase

NL_RULE = ("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)
BE_RULE = ("Land is België", "[('country_id.code', '=', 'BE')]", 60.0)


@tagged("post_install", "-at_install")
class TestPrimaryWrite(LeadScoringCase):
    """The primary score is written with SQL unless something must see the
    ORM write: both paths leave the same scores and bands. (SQL is for large
    runs; here every run counts as large.)"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(patch.object(lead_scoring_mixin, "SQL_WRITE_MIN_RECORDS", 1))
        cls.profiel = cls.create_model(
            rules=[NL_RULE, BE_RULE],
            band_ids=[
                (0, 0, {"name": "Warm", "min_score": 20}),
                (0, 0, {"name": "Hot", "min_score": 50}),
            ],
        )
        cls.bands = {band.name: band for band in cls.profiel.band_ids}

    def recompute_counting_orm_writes(self):
        """Recompute; return the ids the ORM path wrote."""
        written = []
        original = LeadScoringMixin._lead_scoring_write_orm

        def write_orm(records, ids_by_value):
            ids_by_value = list(ids_by_value)
            if records._name == "res.partner":
                written.extend(record_id for _value, ids in ids_by_value for record_id in ids)
            return original(records, ids_by_value)

        with patch.object(LeadScoringMixin, "_lead_scoring_write_orm", write_orm):
            self.recompute()
        return written

    def watch_scores(self, filter_domain=False, filter_pre_domain=False):
        """An Automation Rule that tags contacts whose score changes."""
        return self.env["base.automation"].create(
            {
                "name": "Score changed",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "on_create_or_write",
                "trigger_field_ids": [
                    Command.set(
                        self.env["ir.model.fields"]._get("res.partner", "contact_score").ids
                    )
                ],
                "filter_domain": filter_domain,
                "filter_pre_domain": filter_pre_domain,
                "action_server_ids": [
                    Command.create(
                        {
                            "name": "Mark",
                            "model_id": self.env["ir.model"]._get_id("res.partner"),
                            "state": "code",
                            "code": "records.write({'ref': 'score changed'})",
                        }
                    )
                ],
            }
        )

    def assert_scores(self):
        self.env.invalidate_all()
        self.assertEqual(self.anna.contact_score, 20.0)
        self.assertEqual(self.anna.contact_band_id, self.bands["Warm"])
        self.assertEqual(self.bram.contact_score, 60.0)
        self.assertEqual(self.bram.contact_band_id, self.bands["Hot"])
        self.assertEqual(self.carl.contact_score, 0.0)
        self.assertFalse(self.carl.contact_band_id)

    def test_sql_path_without_watcher(self):
        written = self.recompute_counting_orm_writes()
        self.assertEqual(written, [], "no Automation Rule watches the scores: SQL only")
        self.assert_scores()
        self.assertFalse(self.anna.ref)
        # A later change goes the same way.
        self.bram.country_id = self.nl
        self.recompute()
        self.env.invalidate_all()
        self.assertEqual(self.bram.contact_score, 20.0)
        self.assertEqual(self.bram.contact_band_id, self.bands["Warm"])

    def test_orm_path_for_a_watching_automation(self):
        self.watch_scores()
        written = self.recompute_counting_orm_writes()
        self.assertEqual(set(written), {self.anna.id, self.bram.id})
        self.assert_scores()
        self.assertEqual(self.anna.ref, "score changed", "the Automation Rule fired")
        self.assertEqual(self.bram.ref, "score changed")

    def test_orm_path_only_for_records_the_filter_can_see(self):
        self.watch_scores(filter_domain=f"[('country_id', '=', {self.be.id})]")
        written = self.recompute_counting_orm_writes()
        self.assertEqual(written, [self.bram.id], "Anna is outside the rule's filter: SQL")
        self.assert_scores()
        self.assertEqual(self.bram.ref, "score changed")
        self.assertFalse(self.anna.ref)

    def test_a_filter_reading_the_score_cannot_narrow_the_orm_path(self):
        self.watch_scores(filter_domain="[('contact_score', '>=', 50)]")
        written = self.recompute_counting_orm_writes()
        self.assertEqual(set(written), {self.anna.id, self.bram.id})
        self.assert_scores()
        self.assertEqual(self.bram.ref, "score changed")
        self.assertFalse(self.anna.ref, "the rule's own filter still applies")

    def test_a_precondition_reading_the_score_narrows_the_orm_path(self):
        """The precondition is tested on the score before the write: records it
        refuses cannot fire, even when the filter is the same domain."""
        below_50 = "[('contact_score', '<', 50)]"
        self.watch_scores(filter_domain=below_50, filter_pre_domain=below_50)
        self.assertEqual(set(self.recompute_counting_orm_writes()), {self.anna.id, self.bram.id})
        self.assertEqual(self.anna.ref, "score changed", "0 then 20: below 50 before and after")
        self.assertFalse(self.bram.ref, "0 then 60: above 50 after")
        (self.anna | self.bram).ref = False
        self.anna.country_id = self.be
        self.bram.country_id = self.nl
        self.assertEqual(
            self.recompute_counting_orm_writes(), [self.anna.id], "Bram was at 60: SQL"
        )
        self.env.invalidate_all()
        self.assertEqual((self.anna.contact_score, self.bram.contact_score), (60.0, 20.0))
        self.assertFalse(self.anna.ref or self.bram.ref, "Anna now above 50; Bram was above")

    def test_few_records_go_through_the_orm(self):
        with patch.object(lead_scoring_mixin, "SQL_WRITE_MIN_RECORDS", 3):
            self.assertEqual(
                set(self.recompute_counting_orm_writes()), {self.anna.id, self.bram.id}
            )
        self.assert_scores()

    def test_archived_automation_lets_sql_write(self):
        self.watch_scores().active = False
        self.assertEqual(self.recompute_counting_orm_writes(), [])
        self.assert_scores()

    def test_sql_write_still_reaches_rules_reading_the_score(self):
        """A deal rule reading the customer's contact score is evaluated
        again when that score changes, whichever path wrote it."""
        deals = self.create_model(
            name="Dealkwaliteit",
            target="deal",
            rules=[("Warme klant", "[('partner_id.contact_score', '>=', 50)]", 30.0)],
        )
        deal = self.env["crm.lead"].create(
            {"name": "Deal Anna", "type": "opportunity", "partner_id": self.anna.id}
        )
        self.recompute()
        self.assertEqual(self.score_of(deals, deal), 0.0)
        self.anna.country_id = self.be
        self.assertEqual(self.recompute_counting_orm_writes(), [])
        self.env.invalidate_all()
        self.assertEqual(self.anna.contact_score, 60.0)
        self.recompute()
        self.assertEqual(self.score_of(deals, deal), 30.0)
