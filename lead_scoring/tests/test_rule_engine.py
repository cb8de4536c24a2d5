from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import SQL

from ..engine import band_sql
from .common import LeadScoringCase

NL_RULE = ("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)


@tagged("post_install", "-at_install")
class TestRuleEngine(LeadScoringCase):
    def test_match_unmatch_rematch(self):
        profiel = self.create_model(rules=[NL_RULE])
        self.recompute()
        line = self.lines_of(profiel, self.anna)
        self.assertEqual(len(line), 1)
        self.assertEqual(line.points, 20.0)
        self.assertEqual(line.source, "rule")
        self.assertEqual(line.reason, "Rule: Land is Nederland")
        self.assertTrue(line.is_live)
        self.assertEqual(self.score_of(profiel, self.anna), 20.0)
        self.assertEqual(self.anna.contact_score, 20.0)
        self.assertFalse(self.lines_of(profiel, self.bram))
        self.assertEqual(self.bram.contact_score, 0.0)

        self.anna.country_id = self.be
        self.recompute()
        self.assertTrue(line.closed_date)
        self.assertFalse(line.is_live)
        self.assertEqual(self.score_of(profiel, self.anna), 0.0)
        self.assertEqual(self.anna.contact_score, 0.0)

        self.anna.country_id = self.nl
        self.recompute()
        lines = self.lines_of(profiel, self.anna)
        self.assertEqual(len(lines), 2, "a new matching episode gets a new line")
        self.assertEqual(lines.filtered("is_live"), lines[1])
        self.assertEqual(self.anna.contact_score, 20.0)

    def test_expiry_under_frozen_time_is_not_reawarded(self):
        profiel = self.create_model(
            rules=[(*NL_RULE, {"expire_after": 2, "expire_unit": "months"})]
        )
        with freeze_time("2026-01-31 10:00:00"):
            self.recompute()
        line = self.lines_of(profiel, self.anna)
        # Calendar months: 31 January + 2 months = 31 March.
        self.assertEqual(line.expire_date, datetime(2026, 3, 31, 10, 0, 0))
        with freeze_time("2026-03-31 09:59:59"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 20.0)
        with freeze_time("2026-03-31 10:00:00"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 0.0)
            self.assertFalse(line.is_live)
            self.assertFalse(line.closed_date, "an expired rule line stays open while matching")
        with freeze_time("2026-06-01"):
            self.recompute()
            self.assertEqual(len(self.lines_of(profiel, self.anna)), 1, "no re-award")
            self.assertEqual(self.anna.contact_score, 0.0)
            # Leaving and matching again starts a new episode with fresh points.
            self.anna.country_id = self.be
            self.recompute()
            self.assertTrue(line.closed_date)
            self.anna.country_id = self.nl
            self.recompute()
            self.assertEqual(len(self.lines_of(profiel, self.anna)), 2)
            self.assertEqual(self.anna.contact_score, 20.0)

    def test_expiry_units(self):
        profiel = self.create_model(
            rules=[
                (
                    "days",
                    f"[('id', '=', {self.anna.id})]",
                    1.0,
                    {"expire_after": 10, "expire_unit": "days"},
                ),
                (
                    "weeks",
                    f"[('id', '=', {self.anna.id})]",
                    2.0,
                    {"expire_after": 2, "expire_unit": "weeks"},
                ),
                (
                    "month",
                    f"[('id', '=', {self.anna.id})]",
                    4.0,
                    {"expire_after": 1, "expire_unit": "months"},
                ),
            ]
        )
        with freeze_time("2026-01-31 00:00:00"):
            self.recompute()
        expiry = {line.points: line.expire_date for line in self.lines_of(profiel, self.anna)}
        self.assertEqual(expiry[1.0], datetime(2026, 2, 10))
        self.assertEqual(expiry[2.0], datetime(2026, 2, 14))
        self.assertEqual(expiry[4.0], datetime(2026, 2, 28))
        with freeze_time("2026-02-12"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 6.0)

    def test_negative_rule(self):
        profiel = self.create_model(
            rules=[
                NL_RULE,
                ("Land niet bediend", "[('country_id.code', 'not in', ['NL', 'BE'])]", -10.0),
            ]
        )
        self.recompute()
        self.assertEqual(self.score_of(profiel, self.carl), -10.0)
        self.assertEqual(self.carl.contact_score, -10.0)
        self.assertEqual(self.score_of(profiel, self.anna), 20.0)

    def test_two_models_are_independent(self):
        profiel = self.create_model(rules=[NL_RULE], sequence=1)
        engagement = self.create_model(
            "Betrokkenheid",
            rules=[("Heeft e-mail", "[('email', 'ilike', 'example.nl')]", 5.0)],
            sequence=2,
        )
        self.recompute()
        self.assertEqual(self.score_of(profiel, self.anna), 20.0)
        self.assertEqual(self.score_of(engagement, self.anna), 5.0)
        self.assertEqual(self.anna.contact_score, 20.0, "first model by sequence is primary")
        self.assertEqual(len(self.anna.lead_score_ids), 2)
        engagement.sequence = 0
        self.recompute()
        self.assertEqual(self.anna.contact_score, 5.0)
        engagement.active = False
        self.recompute()
        self.assertEqual(self.anna.contact_score, 20.0)

    def test_clamp(self):
        profiel = self.create_model(
            rules=[
                NL_RULE,
                ("Email", "[('email', '!=', False)]", 30.0),
                ("US", "[('country_id.code', '=', 'US')]", -50.0),
            ],
            use_max_score=True,
            max_score=40.0,
            use_min_score=True,
            min_score=0.0,
        )
        self.recompute()
        self.assertEqual(self.score_of(profiel, self.anna), 40.0)
        self.assertEqual(self.score_of(profiel, self.carl), 0.0)
        profiel.use_max_score = False
        profiel.action_recompute()
        self.assertEqual(self.score_of(profiel, self.anna), 50.0)
        with self.assertRaises(ValidationError):
            profiel.write({"use_max_score": True, "max_score": -5.0})

    def test_bands(self):
        profiel = self.create_model(
            rules=[
                NL_RULE,
                ("US", "[('country_id.code', '=', 'US')]", -10.0),
                ("BE", "[('country_id.code', '=', 'BE')]", 60.0),
            ],
            band_ids=[
                (0, 0, {"name": "Cold", "min_score": 0}),
                (0, 0, {"name": "Warm", "min_score": 20}),
                (0, 0, {"name": "Hot", "min_score": 50}),
            ],
        )
        self.recompute()
        bands = {b.name: b for b in profiel.band_ids}
        score = self.Score.search(
            [("model_id", "=", profiel.id), ("partner_id", "=", self.anna.id)]
        )
        self.assertEqual(score.band_id, bands["Warm"])
        self.assertEqual(
            self.Score.search([("partner_id", "=", self.bram.id)]).band_id, bands["Hot"]
        )
        self.assertFalse(
            self.Score.search([("partner_id", "=", self.carl.id)]).band_id, "below all bands"
        )
        self.assertEqual(bands["Warm"].score_count, 1)
        self.assertEqual(self.anna.contact_band_id, bands["Warm"], "the band shows on the contact")
        # Moving a band boundary relabels existing scores at once.
        bands["Hot"].min_score = 15
        self.assertEqual(score.band_id, bands["Warm"])
        bands["Warm"].min_score = 25
        self.assertEqual(score.band_id, bands["Hot"])
        self.assertEqual(self.anna.contact_band_id, bands["Hot"])
        self.assertEqual(
            self.env["res.partner"].search([("contact_band_id", "=", bands["Hot"].id)]),
            self.anna,
        )
        self.assertEqual(self.bram.contact_band_id, bands["Warm"], "60 is now in Warm (25+)")

    def test_band_of_a_refresh_is_the_band_query(self):
        """The refresh gives bands by a CASE over the model's bands: it must
        pick what ``band_sql`` picks, also on a boundary and between two bands
        of the same minimum (the first created)."""
        profiel = self.create_model(
            rules=[
                NL_RULE,
                ("BE", "[('country_id.code', '=', 'BE')]", 60.0),
                ("US", "[('country_id.code', '=', 'US')]", 10.0),
            ],
            band_ids=[
                (0, 0, {"name": "Hot", "min_score": 60}),
                (0, 0, {"name": "Warm", "min_score": 20}),
                (0, 0, {"name": "Warm too", "min_score": 20}),
                (0, 0, {"name": "Cold", "min_score": 10}),
            ],
        )
        self.recompute()
        bands = {b.name: b for b in profiel.band_ids}
        scores = self.Score.search([("model_id", "=", profiel.id)])
        self.assertEqual(
            {s.partner_id: (s.score, s.band_id) for s in scores},
            {
                self.anna: (20.0, bands["Warm"]),
                self.bram: (60.0, bands["Hot"]),
                self.carl: (10.0, bands["Cold"]),
            },
        )
        self.env.cr.execute(
            SQL(
                "SELECT s.id, %s FROM lead_scoring_score s WHERE s.model_id = %s",
                band_sql(profiel.id, SQL("s.score")),
                profiel.id,
            )
        )
        self.assertEqual(dict(self.env.cr.fetchall()), {s.id: s.band_id.id or None for s in scores})

    def test_deal_model(self):
        deals = self.create_model(
            "Deal fit",
            target="deal",
            rules=[("Big deal", "[('expected_revenue', '>=', 10000)]", 15.0)],
        )
        big = self.env["crm.lead"].create(
            {"name": "Big", "type": "opportunity", "expected_revenue": 25000}
        )
        small = self.env["crm.lead"].create(
            {"name": "Small", "type": "opportunity", "expected_revenue": 100}
        )
        self.recompute()
        self.assertEqual(big.deal_score, 15.0)
        self.assertEqual(small.deal_score, 0.0)
        self.assertEqual(self.lines_of(deals, big).lead_id, big)
        self.assertFalse(
            self.Point.search([("model_id", "=", deals.id), ("partner_id", "!=", False)])
        )

    def test_multi_company(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        only_b = self.create_model("B only", rules=[("All", "[]", 7.0)], company_id=company_b.id)
        shared = self.env["res.partner"].create({"name": "Shared"})
        in_a = self.env["res.partner"].create({"name": "In A", "company_id": self.company.id})
        in_b = self.env["res.partner"].create({"name": "In B", "company_id": company_b.id})
        self.recompute()
        self.assertEqual(self.score_of(only_b, in_b), 7.0)
        self.assertEqual(self.score_of(only_b, shared), 7.0)
        self.assertFalse(self.lines_of(only_b, in_a))
        self.assertEqual(in_a.contact_score, 0.0)
        self.assertEqual(in_b.contact_score, 7.0)

    def test_second_run_changes_nothing(self):
        profiel = self.create_model(
            rules=[
                NL_RULE,
                (
                    "Email",
                    "[('email', '!=', False)]",
                    3.0,
                    {"expire_after": 1, "expire_unit": "weeks"},
                ),
            ],
            band_ids=[(0, 0, {"name": "Warm", "min_score": 10})],
        )
        with freeze_time("2026-05-01 08:00"):
            self.recompute()
        state = [
            (line.id, line.is_live, line.closed_date, line.write_date)
            for line in self.Point.search([("model_id", "=", profiel.id)])
        ]
        scores = [(s.id, s.score, s.band_id, s.date_last_change) for s in self.Score.search([])]
        with freeze_time("2026-05-01 09:00"):
            self.env.invalidate_all()
            partner_writes = []
            original_write = type(self.anna).write

            def spy(records, vals):
                partner_writes.append(vals)
                return original_write(records, vals)

            with patch.object(type(self.anna), "write", spy):
                self.recompute()
        self.assertEqual(
            state,
            [
                (line.id, line.is_live, line.closed_date, line.write_date)
                for line in self.Point.search([("model_id", "=", profiel.id)])
            ],
        )
        self.assertEqual(
            scores, [(s.id, s.score, s.band_id, s.date_last_change) for s in self.Score.search([])]
        )
        self.assertFalse([v for v in partner_writes if "contact_score" in v])

    def test_archived_records_match_no_rule(self):
        profiel = self.create_model(rules=[NL_RULE])
        self.recompute()
        self.anna.active = False
        self.recompute()
        self.assertTrue(self.lines_of(profiel, self.anna).closed_date)
        self.assertEqual(self.score_of(profiel, self.anna), 0.0)

    def test_rule_archive_delete_and_points_change(self):
        profiel = self.create_model(rules=[NL_RULE, ("Email", "[('email', '!=', False)]", 3.0)])
        nl_rule, email_rule = profiel.rule_ids
        self.recompute()
        self.assertEqual(self.anna.contact_score, 23.0)
        nl_rule.points = 50.0
        self.recompute()
        self.assertEqual(self.anna.contact_score, 23.0, "changing points affects new lines only")
        nl_rule.active = False
        self.assertTrue(self.lines_of(profiel, self.anna, rule_id=nl_rule.id).closed_date)
        self.recompute()
        self.assertEqual(self.anna.contact_score, 3.0)
        nl_rule.active = True
        self.recompute()
        self.assertEqual(self.anna.contact_score, 53.0)
        email_line = self.lines_of(profiel, self.anna, rule_id=email_rule.id)
        email_rule.unlink()
        self.assertTrue(email_line.closed_date)
        self.assertFalse(email_line.rule_id)
        self.assertEqual(email_line.reason, "Rule: Email", "history keeps its reason")
        self.recompute()
        self.assertEqual(self.anna.contact_score, 50.0)

    def test_invalid_domains_refused_at_save(self):
        invalid = [
            "[('name', '=',",
            "[('no_such_field', '=', 1)]",
            "[('expected_revenue', '>', 10)]",  # a crm.lead field, on a contact model
            "__import__('os').system('true')",
            "[('credit_limit', '=', 'not a number')]",
            "{'name': 'x'}",
        ]
        count = self.ScoringModel.search_count([])
        for domain in invalid:
            with self.subTest(domain=domain), self.assertRaises(ValidationError) as caught:
                self.create_model(rules=[("Bad", domain, 5.0)])
            self.assertIn("Bad", str(caught.exception))
        self.assertEqual(self.ScoringModel.search_count([]), count, "nothing half-saved")
        profiel = self.create_model(rules=[("Email", "[('email', 'ilike', '.nl')]", 5.0)])
        with self.assertRaises(ValidationError):
            profiel.rule_ids.domain = "[('nope', '=', 1)]"
        with self.assertRaises(ValidationError):
            # crm.lead has no "email" field: the rule no longer fits the target.
            profiel.target = "deal"
        with self.assertRaises(ValidationError):
            profiel.rule_ids.points = float("inf")
        with self.assertRaises(ValidationError):
            profiel.rule_ids.expire_after = -1

    def test_domain_context_values(self):
        profiel = self.create_model(
            rules=[
                (
                    "Recent",
                    "[('create_date', '>=', "
                    "(context_today() - relativedelta(days=30)).strftime('%Y-%m-%d'))]",
                    1.0,
                ),
                ("Mine", "[('create_uid', '=', uid)]", 1.0),
            ]
        )
        self.recompute()
        self.assertEqual(self.score_of(profiel, self.anna), 2.0)

    def test_delete_model_cascades(self):
        profiel = self.create_model(
            rules=[NL_RULE],
            band_ids=[(0, 0, {"name": "Warm", "min_score": 10})],
            threshold_ids=[(0, 0, {"name": "Hot", "score": 100, "action": "create_deal"})],
        )
        self.recompute()
        self.assertEqual(self.anna.contact_score, 20.0)
        rules, bands, thresholds = profiel.rule_ids, profiel.band_ids, profiel.threshold_ids
        profiel.unlink()
        self.assertFalse(rules.exists() or bands.exists() or thresholds.exists())
        self.assertFalse(self.Point.search([("partner_id", "=", self.anna.id)]))
        self.assertFalse(self.Score.search([("partner_id", "=", self.anna.id)]))
        self.assertEqual(self.anna.contact_score, 0.0)

    def test_action_recompute_as_manager(self):
        profiel = self.create_model(rules=[NL_RULE])
        profiel.with_user(self.manager).action_recompute()
        self.assertEqual(self.anna.contact_score, 20.0)
        self.assertEqual(profiel.scored_count, 1)
        self.assertEqual(profiel.average_score, 20.0)

    def test_scores_are_refreshed_only_when_something_changed(self):
        email_rule = ("E-mail", "[('email', '!=', False)]", 3.0)
        profiel = self.create_model(
            rules=[NL_RULE, (*email_rule, {"expire_after": 1, "expire_unit": "days"})]
        )
        Score = type(self.Score)
        with freeze_time("2026-05-01 08:00"):
            self.recompute()
        self.assertFalse(profiel.scores_dirty)
        with (
            freeze_time("2026-05-01 09:00"),
            patch.object(
                Score, "_refresh_scores", autospec=True, side_effect=Score._refresh_scores
            ) as refresh,
        ):
            self.recompute()
            self.assertFalse(refresh.called, "nothing changed: no refresh")
            self.anna.country_id = self.be
            self.recompute()
            self.assertEqual(refresh.call_count, 1, "a rule closed a line")
            self.assertEqual(refresh.call_args.args[3], [self.anna.id], "Anna's score only")
            self.assertEqual(self.anna.contact_score, 3.0)
        with freeze_time("2026-05-02 08:00"):
            self.recompute()  # the e-mail points expired
        self.assertEqual(self.anna.contact_score, 0.0)
        profiel.write({"use_max_score": True, "max_score": 1.0})
        self.assertTrue(profiel.scores_dirty, "a score setting changed")
        self.anna.country_id = self.nl
        with freeze_time("2026-05-03 08:00"):
            self.recompute()
        self.assertEqual(self.anna.contact_score, 1.0)

    def test_bulk_loaded_lines_count_at_the_next_run(self):
        engagement = self.create_model("Betrokkenheid")
        self.recompute()
        self.assertFalse(engagement.scores_dirty)
        self.Point.with_context(lead_scoring_no_refresh=True).create(
            {"model_id": engagement.id, "partner_id": self.anna.id, "points": 7, "reason": "Import"}
        )
        self.assertEqual(self.anna.contact_score, 0.0, "not refreshed yet")
        self.recompute()
        self.assertEqual(self.anna.contact_score, 7.0)
