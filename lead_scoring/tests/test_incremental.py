import math
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.lead_scoring import engine as lead_scoring_engine
from odoo.addons.lead_scoring.engine import Recompute
from odoo.addons.lead_scoring.tracking import is_watched

from .common import LeadScoringCase, watch_rule_statements


@tagged("post_install", "-at_install")
class TestIncrementalRecompute(LeadScoringCase):
    """The cron evaluates rules on the records saved since its last run, and
    on every record where that could give another result."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Change = cls.env["lead.scoring.change"]
        cls.profiel = cls.create_model(
            rules=[("Land is Nederland", f"[('country_id', '=', {cls.nl.id})]", 20.0)]
        )

    def set_country_by_sql(self, partner, country):
        """Change a contact behind the ORM's back, as an import through SQL does."""
        self.env.cr.execute(
            SQL(
                "UPDATE res_partner SET country_id = %s WHERE id = %s",
                country.id,
                partner.id,
            )
        )
        partner.invalidate_recordset(["country_id"])

    def queued_ids(self):
        self.Change._write_recorded("contact")
        return self.Change.search([]).mapped("res_id")

    def scores(self):
        return [p.contact_score for p in (self.anna, self.bram, self.carl)]

    def recompute_and_watch_rules(self):
        """Run the cron; return each rule statement it sent as (rules, ids of
        the records it evaluated, None for every record), but the safety net's."""
        with watch_rule_statements(self.env) as statements:
            self.recompute()
        return [(s.rules, s.changed_ids) for s in statements if not s.is_safety_net]

    def traceable(self, domain):
        return self.profiel.rule_ids._fields_read(domain) is not None

    def hourly_runs(self, start, count):
        """Run the cron ``count`` times an hour apart from ``start``; return
        the id range of each run's safety net statement (None: none)."""
        ranges = []
        for hour in range(count):
            with (
                freeze_time(start + timedelta(hours=hour)),
                watch_rule_statements(self.env) as statements,
            ):
                self.recompute()
            nets = [s.id_range for s in statements if s.is_safety_net]
            self.assertLessEqual(len(nets), 1, "one safety net statement a run")
            ranges.append(nets[0] if nets else None)
        return ranges

    def last_partner_id(self):
        self.env.cr.execute("SELECT max(id) FROM res_partner")
        return self.env.cr.fetchone()[0]

    @freeze_time("2026-06-01 08:00")
    def test_cron_evaluates_the_saved_records_and_daily_all(self):
        self.recompute()
        self.assertEqual(self.scores(), [20.0, 0.0, 0.0])
        self.set_country_by_sql(self.anna, self.be)
        self.set_country_by_sql(self.bram, self.nl)
        self.carl.country_id = self.nl
        self.anna.function = "Inkoper"  # no rule reads it: nothing to re-evaluate
        self.assertEqual(self.queued_ids(), [self.carl.id])
        self.assertEqual(self.hourly_runs(fields.Datetime.now(), 1), [None])
        self.assertEqual(self.scores(), [20.0, 0.0, 20.0], "only Carl was saved")
        self.assertFalse(self.queued_ids(), "the run used up the changes")
        # The safety net's pass started with that run: a sixth of the records
        # every 4 hours, in order, up to the last one within the day.
        ranges = self.hourly_runs(fields.Datetime.now() + timedelta(hours=1), 24)
        self.assertEqual(self.scores(), [0.0, 20.0, 20.0], "the day's pass found them")
        hours = [hour for hour, id_range in enumerate(ranges, 9) if id_range]
        self.assertEqual(hours, [12, 16, 20, 24, 28, 32])
        slices = [id_range for id_range in ranges if id_range]
        self.assertEqual(slices[0][0], 1)
        self.assertEqual([low for low, _high in slices[1:]], [high for _low, high in slices[:-1]])
        self.assertEqual(slices[-1][1], self.last_partner_id() + 1)
        self.assertEqual(
            slices[0][1], math.ceil(self.last_partner_id() / 6) + 1, "a sixth of the ids"
        )
        self.assertEqual(
            self.profiel.rule_ids.date_full_evaluation,
            fields.Datetime.now(),
            "the slices are no full evaluation",
        )

    @freeze_time("2026-06-01 08:00")
    def test_safety_net_takes_the_rest_when_runs_were_missed(self):
        self.recompute()
        self.recompute()  # the pass starts
        self.set_country_by_sql(self.bram, self.nl)
        later = fields.Datetime.now() + timedelta(days=2)
        ranges = self.hourly_runs(later, 5)
        last_id = self.last_partner_id()
        self.assertEqual(
            ranges,
            [(1, last_id + 1), None, None, None, (1, math.ceil(last_id / 6) + 1)],
            "all that is due at once; then the next pass, a sixth 4 hours later",
        )
        self.assertEqual(self.scores(), [20.0, 20.0, 0.0])

    @freeze_time("2026-06-01 08:00")
    def test_recompute_now_evaluates_every_record(self):
        self.recompute()
        self.set_country_by_sql(self.bram, self.nl)
        self.profiel.with_user(self.manager).action_recompute()
        self.assertEqual(self.scores(), [20.0, 20.0, 0.0])

    @freeze_time("2026-06-01 08:00")
    def test_archived_and_moved_records_are_saved_records(self):
        self.recompute()
        self.anna.active = False
        self.recompute()
        self.assertEqual(self.score_of(self.profiel, self.anna), 0.0)
        self.assertTrue(self.lines_of(self.profiel, self.anna).closed_date)
        own_company, other_company = self.env["res.company"].create(
            [{"name": "Eigen BV"}, {"name": "Ander BV"}]
        )
        self.profiel.company_id = own_company
        self.recompute()
        self.bram.write({"country_id": self.nl.id, "company_id": own_company.id})
        self.carl.write({"country_id": self.nl.id, "company_id": other_company.id})
        self.recompute()
        self.assertEqual(self.score_of(self.profiel, self.bram), 20.0)
        self.assertEqual(self.score_of(self.profiel, self.carl), 0.0, "another company's")

    @freeze_time("2026-06-01 08:00")
    def test_rules_on_related_records(self):
        acme = self.env["res.partner"].create({"name": "Acme", "is_company": True})
        self.anna.parent_id = acme
        self.bram.parent_id = acme
        via_company = self.create_model(
            "Bedrijf",
            rules=[
                ("Bedrijf in NL", f"[('parent_id.country_id', '=', {self.nl.id})]", 5.0),
                ("Bij Acme", f"[('id', 'child_of', {acme.id}), ('is_company', '=', False)]", 1.0),
            ],
        )
        self.recompute()
        self.assertEqual(self.score_of(via_company, self.bram), 1.0)
        # Only the company is saved: its contacts are not, yet their match changes.
        acme.country_id = self.nl
        self.carl.parent_id = acme
        statements = self.recompute_and_watch_rules()
        evaluated_on = dict(statements)
        self.assertEqual(
            sorted(evaluated_on[via_company.rule_ids[0]]),
            sorted((self.anna | self.bram | self.carl).ids),
            "the company's contacts, found through parent_id",
        )
        self.assertIsNone(evaluated_on[via_company.rule_ids[1]], "child_of: every record")
        self.assertEqual(self.score_of(via_company, self.bram), 6.0)
        self.assertEqual(self.score_of(via_company, self.carl), 6.0)

    @freeze_time("2026-06-01 08:00")
    def test_deal_rule_on_the_customer_follows_the_customer(self):
        nl_rule = ("Klant in NL", "[('partner_id.country_id.code', '=', 'NL')]", 8.0)
        kwaliteit = self.create_model("Dealkwaliteit", target="deal", rules=[nl_rule])
        Lead = self.env["crm.lead"]
        deal_bram, deal_carl = Lead.create(
            [
                {"name": "Offerte Bram", "type": "opportunity", "partner_id": self.bram.id},
                {"name": "Offerte Carl", "type": "opportunity", "partner_id": self.carl.id},
            ]
        )
        self.recompute()
        self.assertEqual(deal_bram.deal_score, 0.0)
        self.bram.country_id = self.nl  # the deal itself is not saved
        statements = self.recompute_and_watch_rules()
        deal_rule = kwaliteit.rule_ids
        self.assertEqual(dict(statements)[deal_rule], [deal_bram.id], "Bram's deal only")
        self.assertEqual(deal_bram.deal_score, 8.0)
        self.assertEqual(deal_carl.deal_score, 0.0)

    @freeze_time("2026-06-01 08:00")
    def test_tags_changed_from_either_side_are_saved_records(self):
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        vip_rule = ("VIP", f"[('category_id', 'in', {vip.ids})]", 7.0)
        tags = self.create_model("Tags", rules=[vip_rule])
        self.recompute()
        self.anna.category_id = [Command.link(vip.id)]
        vip.partner_ids = [Command.link(self.bram.id)]  # from the tag's side
        self.assertEqual(sorted(self.queued_ids()), sorted((self.anna | self.bram).ids))
        statements = self.recompute_and_watch_rules()
        self.assertEqual(
            [(rule, sorted(ids)) for rule, ids in statements],
            [(tags.rule_ids, sorted((self.anna | self.bram).ids))],
            "the tag rule looked at Anna and Bram only; the country rule did not run",
        )
        self.assertEqual(self.score_of(tags, self.anna), 7.0)
        self.assertEqual(self.score_of(tags, self.bram), 7.0)

    def test_relative_dates_are_evaluated_on_every_record_when_the_day_turns(self):
        overdue_rule = (
            "Deadline 30 dagen voorbij",
            "[('date_deadline', '<', "
            "(context_today() - relativedelta(days=30)).strftime('%Y-%m-%d'))]",
            4.0,
        )
        urgentie = self.create_model("Urgentie", target="deal", rules=[overdue_rule])
        deal = self.env["crm.lead"].create(
            {"name": "Offerte", "type": "opportunity", "date_deadline": "2026-05-02"}
        )
        with freeze_time("2026-06-01 23:00"):
            self.recompute()
        self.assertEqual(self.score_of(urgentie, deal), 0.0)
        with freeze_time("2026-06-02 01:00"):
            self.recompute()  # two hours later, but another day: another domain
        self.assertEqual(self.score_of(urgentie, deal), 4.0)
        self.assertEqual(deal.deal_score, 4.0)

    def test_which_domains_can_be_evaluated_on_changed_records(self):
        nl = self.nl.id
        for domain, traceable in [
            ([("country_id", "=", nl)], True),
            (["|", ("email", "=ilike", "%.nl"), ("is_company", "=", True)], True),
            ([("email_normalized", "=ilike", "%.nl")], True),  # computed from email only
            ([("country_id.code", "=", "NL")], True),  # a country's code change is told
            ([("parent_id.country_id", "=", nl)], True),
            ([("id", "child_of", 1)], False),
            ([("category_id", "in", [1])], True),  # told from the tag's side too
            ([("child_ids", "!=", False)], False),  # a contact's parent is another record
            ([("commercial_partner_id", "=", 1)], False),  # computed up the hierarchy
            ([("contact_address", "ilike", "x")], False),  # not stored
        ]:
            with self.subTest(domain=domain):
                self.assertEqual(self.traceable(domain), traceable)

    @freeze_time("2026-06-01 08:00")
    def test_a_record_saved_during_a_run_is_evaluated_by_the_next(self):
        self.recompute()
        steps = Recompute(self.ScoringModel.search([])).steps()
        steps[0]()  # the run takes the changes
        self.bram.country_id = self.nl  # saved after that, before the rules look
        for step in steps[1:]:
            step()
        self.assertEqual(self.queued_ids(), [self.bram.id])
        self.assertEqual(self.bram.contact_score, 0.0)
        self.recompute()
        self.assertEqual(self.bram.contact_score, 20.0)

    @freeze_time("2026-06-01 08:00")
    def test_many_changes_evaluate_every_record(self):
        self.recompute()
        self.set_country_by_sql(self.bram, self.nl)
        self.carl.country_id = self.nl
        self.anna.country_id = self.nl  # saved, still matching
        self.env.cr.execute(SQL("ANALYZE res_partner"))  # the share is of the estimated size
        with (
            patch.object(lead_scoring_engine.recompute, "FULL_EVALUATION_MIN_CHANGES", 1),
            patch.object(lead_scoring_engine.recompute, "FULL_EVALUATION_SHARE", 0.01),
        ):
            self.recompute()
        self.assertEqual(self.scores(), [20.0, 20.0, 20.0], "Bram too: all were evaluated")

    @freeze_time("2026-06-01 08:00")
    def test_no_changes_no_rule_statement(self):
        self.recompute()
        self.recompute()  # caches warm, as in a running worker
        with watch_rule_statements(self.env) as statements, self.assertQueryCount(16):
            self.recompute()
        self.assertFalse(statements, "no safety net slice is due either")
        self.bram.country_id = self.nl
        self.recompute()
        self.assertEqual(self.bram.contact_score, 20.0)

    def test_change_tracking_hooks_only_the_models_rules_read(self):
        registry = self.env.registry
        self.assertFalse(
            [
                cls
                for cls in type(self.env["res.groups"]).__mro__
                if "modified" in vars(cls) and "lead_scoring" in cls.__module__
            ],
            "no override of base: a model no rule reads pays nothing",
        )
        self.env["lead.scoring.rule"]._update_watched_models()  # earlier tests rolled back
        self.assertFalse(is_watched(registry["res.country"]))
        rule = self.profiel.rule_ids.create(
            {
                "model_id": self.profiel.id,
                "name": "Land heet Nederland",
                "domain": "[('country_id.name', '=', 'Netherlands')]",
                "points": 5,
            }
        )
        self.assertTrue(is_watched(registry["res.country"]), "hooked when a rule reads it")
        self.assertFalse(is_watched(registry["res.country.state"]))
        self.recompute()
        self.nl.name = "Nederland"
        self.assertEqual(self.queued_ids(), [self.anna.id], "its contacts are queued")
        rule.active = False
        self.assertFalse(is_watched(registry["res.country"]), "unhooked with the last rule")
