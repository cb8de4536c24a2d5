from contextlib import closing
from unittest.mock import patch

from freezegun import freeze_time

from odoo.sql_db import db_connect
from odoo.tests import tagged

from ..engine import Plan, Recompute, bulk_load
from .common import LeadScoringCase


def as_if_large(cr, tables):
    """The planner's estimates of a base of a thousand contacts and deals
    with an empty ledger: what a cold build at that size would see."""
    return {table: 0 if table == "lead_scoring_point" else 1000 for table in tables}


@tagged("post_install", "-at_install")
@freeze_time("2026-06-01 08:00")
class TestBulkLoad(LeadScoringCase):
    """A cold build writes the ledger without its foreign keys and secondary
    indexes and puts them back (``engine.bulk_load``): same lines and scores
    as the usual build, the same constraints and indexes afterwards, and a
    build that died half-way is completed by the next run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.profiel = cls.create_model(
            "Profiel",
            rules=[
                ("Land is Nederland", "[('country_id.code', '=', 'NL')]", 10.0),
                ("Heeft e-mail", "[('email', '!=', False)]", 5.0),
            ],
        )

    def setUp(self):
        super().setUp()
        self.startPatcher(patch.object(bulk_load, "estimated_rows", as_if_large))
        self.startPatcher(patch.object(bulk_load, "MIN_RECORDS", 100))

    def structure(self):
        """The foreign keys and indexes of the ledger and score tables."""
        cr = self.env.cr
        return (
            [(key["name"], key["definition"]) for key in bulk_load._foreign_keys(cr)],
            [(index["name"], index["definition"]) for index in bulk_load._indexes(cr)],
        )

    def ledger(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT partner_id, rule_id, points, closed_date IS NULL FROM lead_scoring_point"
            " WHERE model_id = %s ORDER BY 1, 2",
            [self.profiel.id],
        )
        lines = self.env.cr.fetchall()
        scores = [
            (self.score_of(self.profiel, partner), partner.contact_score)
            for partner in (self.anna, self.bram, self.carl)
        ]
        return lines, scores

    def test_a_cold_build_gives_what_the_usual_build_gives(self):
        before = self.structure()
        self.assertIn("lead_scoring_point_partner_id_fkey", dict(before[0]))
        self.assertIn("lead_scoring_point_live_idx", dict(before[1]))
        with closing(self.env.cr.savepoint()), patch.object(bulk_load, "MIN_RECORDS", 10**9):
            self.assertFalse(Plan(self.profiel).cold_build())
            Recompute(self.profiel).run()
            self.env.invalidate_all()
            expected = self.ledger()
        self.env.invalidate_all()
        steps = Recompute(self.profiel).steps()
        self.assertEqual(steps[0].name, "start_bulk_load")
        self.assertEqual(steps[-1].name, "finish_bulk_load")
        self.assertEqual(steps[-1].after, [steps[-2]])
        self.assertEqual(steps[1].after, [steps[0]])
        steps[0].run()
        fks, indexes = self.structure()
        self.assertFalse(fks, "no foreign key checked while the ledger is written")
        self.assertFalse(indexes)
        self.assertTrue(bulk_load.pending(self.env))
        for step in steps[1:]:
            step.run()
        self.env.invalidate_all()
        self.assertEqual(self.ledger(), expected)
        self.assertEqual(expected[1][0], (15.0, 15.0))
        self.assertEqual(self.structure(), before)
        self.assertFalse(bulk_load.pending(self.env))
        self.assertFalse(Plan(self.profiel).cold_build(), "recomputed: no longer new")

    def test_the_next_run_completes_a_build_that_died(self):
        """Steps run up to the last one (the run died before it); meanwhile a
        contact with lines was deleted. The next run puts the foreign keys
        back first, removing what the cascade would have removed."""
        before = self.structure()
        dora = self.env["res.partner"].create({"name": "Dora", "email": "dora@example.nl"})
        steps = Recompute(self.profiel).steps()
        for step in steps[:-1]:
            step.run()
        self.env.flush_all()
        self.assertTrue(self.lines_of(self.profiel, dora))
        dora.unlink()
        self.env.cr.execute(
            "SELECT count(*) FROM lead_scoring_point WHERE partner_id = %s", [dora.id]
        )
        self.assertTrue(self.env.cr.fetchone()[0], "no cascade while the key is set aside")
        following = Recompute(self.profiel).steps()
        self.assertEqual(following[0].name, "finish_bulk_load")
        self.assertNotIn("start_bulk_load", [step.name for step in following])
        Recompute(self.profiel).run()
        self.assertEqual(self.structure(), before)
        self.env.cr.execute(
            "SELECT count(*) FROM lead_scoring_point WHERE partner_id = %s", [dora.id]
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.assertFalse(bulk_load.pending(self.env))
        self.assertEqual(self.score_of(self.profiel, self.anna), 15.0)

    def test_a_build_that_cannot_lock_the_ledger_keeps_its_indexes(self):
        before = self.structure()
        self.env.flush_all()
        with (
            db_connect(self.env.cr.dbname).cursor() as other,
            patch.object(bulk_load, "LOCK_TIMEOUT", "200ms"),
        ):
            other.execute("LOCK TABLE lead_scoring_score IN ACCESS SHARE MODE")
            self.assertFalse(bulk_load.start(self.env))
        self.assertEqual(self.structure(), before)
        self.assertFalse(bulk_load.pending(self.env))
        Recompute(self.profiel).run()
        self.assertEqual(self.score_of(self.profiel, self.anna), 15.0)
        self.assertEqual(self.structure(), before)
