from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo.tools import SQL, mute_logger

from ..engine import evaluation
from .common import LeadScoringCase, watch_rule_statements

TWO_DAYS = {"expire_after": 2, "expire_unit": "days"}
RULES = [
    ("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0),
    ("Zakelijk e-mailadres", "[('email', 'not ilike', '@gmail.com')]", 5.0),
    ("Werkt bij een bedrijf", "[('parent_id', '!=', False)]", 10.0),
    ("Tag Beurs", "[('category_id.name', '=', 'Beurs')]", 8.0, TWO_DAYS),
    ("Niet in de VS", "[('country_id.code', '!=', 'US')]", 3.0),
    ("Amerikaans", "[('country_id.code', '=', 'US')]", -7.0),
]


@freeze_time("2026-06-01 08:00")
class TestEvaluateTogether(LeadScoringCase):
    """The rules of a scoring model evaluated on every record are diffed in one
    statement; the ledger is the one that rule by rule gives."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acme = cls.env["res.partner"].create({"name": "Acme", "is_company": True})
        cls.beurs = cls.env["res.partner.category"].create({"name": "Beurs"})
        cls.anna.write({"parent_id": cls.acme.id, "category_id": [(4, cls.beurs.id)]})
        cls.carl.email = "carl@gmail.com"
        cls.profiel = cls.create_model(rules=RULES)
        cls.rule_class = type(cls.profiel.rule_ids)

    def ledger(self):
        self.env["lead.scoring.point"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT rule_id, partner_id, points, reason, expire_date, closed_date, is_live
                  FROM lead_scoring_point WHERE model_id = %s ORDER BY rule_id, partner_id
                """,
                self.profiel.id,
            )
        )
        return self.env.cr.fetchall()

    def recompute_watching(self, full=False):
        """Recompute; return the rules of each statement diffing several rules,
        and the rule and the records (None: all) of each one-rule statement,
        but the safety net's."""
        with watch_rule_statements(self.env) as statements:
            if full:
                self.profiel._recompute_scores(full=True)
            else:
                self.recompute()
        statements = [s for s in statements if not s.is_safety_net]
        return (
            [s.rules for s in statements if len(s.rules) > 1],
            {s.rules.name: s.changed_ids for s in statements if len(s.rules) == 1},
        )

    def rule_by_rule(self, full=False):
        """Recompute with one statement per rule, the ledger and scores it leaves."""
        evaluation_groups = evaluation.evaluation_groups

        def full_ones_alone(rules, needs, full):
            return [] if full else evaluation_groups(rules, needs, full)

        with (
            self.env.cr.savepoint() as savepoint,
            patch.object(evaluation, "evaluation_groups", full_ones_alone),
        ):
            self.profiel._recompute_scores(full=full) if full else self.recompute()
            result = self.ledger(), self.scores()
            savepoint.rollback()
        self.env.invalidate_all()
        return result

    def scores(self):
        return [
            self.score_of(self.profiel, partner)
            for partner in (self.anna, self.bram, self.carl, self.acme)
        ]

    def test_first_run_diffs_together_and_writes_the_rule_by_rule_ledger(self):
        expected_ledger, expected_scores = self.rule_by_rule()
        together, alone = self.recompute_watching()
        self.assertEqual(together, [self.profiel.rule_ids], "one statement for the six rules")
        self.assertFalse(alone)
        self.assertEqual(self.ledger(), expected_ledger)
        self.assertEqual(self.scores(), expected_scores)
        # Anna: NL 20 + business e-mail 5 + works at Acme 10 + Beurs 8 + not US 3;
        # Acme, no country: its e-mail (none, so not a Gmail one) only.
        self.assertEqual(self.scores(), [46.0, 8.0, -7.0, 5.0])
        beurs = self.lines_of(self.profiel, self.anna).filtered(lambda line: line.points == 8.0)
        self.assertEqual(str(beurs.expire_date), "2026-06-03 08:00:00", "each rule its expiry")
        for rule in self.profiel.rule_ids:
            self.assertEqual(rule.evaluated_domain, repr(rule._match_domain()))
            self.assertEqual(str(rule.date_full_evaluation), "2026-06-01 08:00:00")

    def test_full_run_opens_and_closes_like_rule_by_rule(self):
        self.recompute()
        self.env.cr.execute(
            SQL(
                "UPDATE res_partner SET country_id = %s, parent_id = NULL WHERE id = %s",
                self.us.id,
                self.anna.id,
            )
        )
        self.env.cr.execute(
            SQL("UPDATE res_partner SET country_id = %s WHERE id = %s", self.nl.id, self.carl.id)
        )
        self.env.invalidate_all()
        expected_ledger, expected_scores = self.rule_by_rule(full=True)
        together, alone = self.recompute_watching(full=True)
        self.assertEqual(together, [self.profiel.rule_ids])
        self.assertFalse(alone)
        self.assertEqual(self.ledger(), expected_ledger)
        self.assertEqual(self.scores(), expected_scores)
        self.assertEqual(self.scores(), [6.0, 8.0, 23.0, 5.0], "Anna now American, Carl Dutch")
        closed = self.lines_of(self.profiel, self.anna).filtered("closed_date")
        self.assertEqual(
            sorted(closed.mapped("reason")),
            ["Rule: Land is Nederland", "Rule: Niet in de VS", "Rule: Werkt bij een bedrijf"],
        )

    def test_saved_records_are_evaluated_rule_by_rule(self):
        self.recompute()
        self.bram.country_id = self.nl
        together, alone = self.recompute_watching()
        self.assertFalse(together, "a few saved records: each rule on them")
        self.assertEqual(
            alone,
            {
                "Land is Nederland": [self.bram.id],
                "Niet in de VS": [self.bram.id],
                "Amerikaans": [self.bram.id],
                "Tag Beurs": None,
            },
            "the rules reading the country on Bram only; a tag rule reads every record",
        )
        self.assertEqual(self.score_of(self.profiel, self.bram), 28.0)

    def test_a_rule_failing_in_the_database_leaves_the_others_to_score(self):
        broken = self.profiel.rule_ids.filtered(lambda rule: rule.name == "Amerikaans")
        # Saved fine, fails in PostgreSQL (the value is no date): written behind the ORM.
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_rule SET domain = %s WHERE id = %s",
                "[('create_date', '>', 'not a date')]",
                broken.id,
            )
        )
        self.env.invalidate_all()
        with (
            mute_logger("odoo.sql_db"),
            self.assertLogs("odoo.addons.lead_scoring.engine.evaluation") as logs,
        ):
            together, alone = self.recompute_watching()
        self.assertEqual(together, [self.profiel.rule_ids], "tried together first")
        self.assertEqual(len(alone), 6, "then one by one")
        self.assertIn("one by one", logs.output[0])
        self.assertIn("skipped", "".join(logs.output))
        self.assertEqual(self.scores(), [46.0, 8.0, 0.0, 5.0], "the five others scored")
        self.assertFalse(broken.date_full_evaluation, "evaluated in full once it works again")

    def test_the_safety_net_falls_back_to_one_rule_at_a_time(self):
        self.recompute()
        self.env.cr.execute(
            SQL("UPDATE res_partner SET country_id = %s WHERE id = %s", self.nl.id, self.bram.id)
        )
        self.env.invalidate_all()
        # A pass started a day ago: every record left is due.
        self.profiel.write({"date_safety_net": "2026-05-31 08:00:00", "safety_net_id": 0})
        diff_sql = self.rule_class._diff_sql

        def together_fails(rules, domains, now, changed_ids=None, id_range=None):
            if len(rules) > 1:
                raise psycopg2.ProgrammingError("a domain that fails in the database")
            return diff_sql(rules, domains, now, changed_ids, id_range)

        with patch.object(self.rule_class, "_diff_sql", together_fails):
            self.recompute()
        self.assertEqual(
            self.score_of(self.profiel, self.bram), 28.0, "Dutch since an SQL update: NL, not US"
        )
