from contextlib import closing

from freezegun import freeze_time

from odoo import fields
from odoo.tests import BaseCase, tagged

from odoo.addons.lead_scoring.engine import Recompute

from ..recompute_graph import RecomputeGraph, range_size
from .common import QueueJobCase


@tagged("post_install", "-at_install")
@freeze_time("2025-03-10 09:00:00")
class TestIdRanges(QueueJobCase):
    """``rule._evaluate(now, id_range=...)``: ranges that cover every id give
    exactly the ledger of one evaluation of every record."""

    def evaluate(self, rules, id_ranges=(None,)):
        now = fields.Datetime.now()
        self.env.flush_all()  # as a job does first: the rule diff reads the tables
        rules = rules.with_context(lead_scoring_engine=True, lead_scoring_full_evaluation=True)
        for id_range in id_ranges:
            rules._evaluate(now, id_range=id_range)
        return self.snapshot()["lines"]

    def ranges(self):
        graph = RecomputeGraph(self.profiel)
        return [
            (low, high) for low, high, _first, _last in graph._id_ranges(self.profiel._target())
        ]

    def assert_ranges_add_up(self):
        rules = self.profiel.rule_ids
        ranges = self.ranges()
        with closing(self.env.cr.savepoint()):
            whole = self.evaluate(rules)
        in_ranges = self.evaluate(rules, ranges)
        self.assertEqual(in_ranges, whole)
        return in_ranges

    def test_ranges_add_up_to_one_full_evaluation(self):
        ranges = self.ranges()
        self.assertGreaterEqual(len(ranges), 3)
        self.assertEqual((ranges[0][0], ranges[-1][1]), (None, None), "no id left out")
        lines = self.assert_ranges_add_up()
        countries = {(line[1], line[2]) for line in lines if line[1].startswith("Land")}
        self.assertEqual(
            countries,
            {
                ("Land is Nederland", self.anna.id),
                ("Land is Nederland", self.dirk.id),
                ("Land is Nederland", self.eva.id),
                ("Land is België", self.bram.id),
            },
        )
        for rule in self.profiel.rule_ids:
            self.assertFalse(rule.date_full_evaluation, "marked by the caller, once all are done")

    def test_ranges_close_and_open_like_a_full_evaluation(self):
        self.evaluate(self.profiel.rule_ids)
        # Records that stop matching in one range and start in another.
        (self.anna | self.dirk).country_id = self.be
        self.eva.email = "eva@example.nl"
        lines = self.assert_ranges_add_up()
        closed = {(line[1], line[2]) for line in lines if line[7]}
        self.assertEqual(
            closed, {("Land is Nederland", self.anna.id), ("Land is Nederland", self.dirk.id)}
        )

    def test_a_range_restricts_both_sides_of_the_diff(self):
        rule = self.profiel.rule_ids[0]
        self.evaluate(rule)
        self.anna.country_id = self.be
        self.eva.country_id = self.be
        # A range holding Eva only: Anna's line stays open, Eva's closes.
        self.evaluate(rule, [(self.eva.id, self.eva.id + 1)])
        self.assertTrue(
            self.lines_of(self.profiel, self.anna).filtered(lambda p: not p.closed_date)
        )
        self.assertFalse(
            self.lines_of(self.profiel, self.eva).filtered(lambda p: not p.closed_date)
        )

    def test_thresholds_in_ranges_fire_what_the_whole_fires(self):
        """Crossings are per record: thresholds fired range by range leave the
        crossings, re-armed records and deals of one call for every record."""
        self.threshold.active = False  # the run scores, the test fires
        Recompute(self.profiel, full=True).run()
        self.threshold.active = True
        # Eva (10) fired once and fell below since: she re-arms.
        self.env["lead.scoring.threshold.crossing"].create(
            {"threshold_id": self.threshold.id, "res_id": self.eva.id, "score": 15.0}
        )
        # Anna, Bram (with Carl, who stays below), Dirk and Eva each in a range.
        cuts = [self.bram.id, self.dirk.id, self.eva.id]
        ranges = list(zip([None, *cuts], [*cuts, None], strict=True))
        with closing(self.env.cr.savepoint()):
            self.threshold._fire_thresholds()
            whole = self.snapshot()
        self.env.invalidate_all()
        for id_range in ranges:
            self.threshold._fire_thresholds(id_range=id_range)
        self.assertEqual(self.snapshot(), whole)
        crossed = {res_id for _threshold, res_id, _date, _score in whole["crossings"]}
        self.assertEqual(crossed, {self.anna.id, self.bram.id, self.dirk.id})
        deals = {partner for partner, threshold, _score in whole["deals"] if threshold}
        self.assertEqual(deals, crossed, "one deal each, in three ranges")


class TestRangeSize(BaseCase):
    def test_range_size(self):
        """At most the configured size, at least 16 ranges of a large table,
        no range under 10,000 records unless configured so."""
        self.assertEqual(range_size(1_000_000, 100_000), 62_500)
        self.assertEqual(range_size(200_000, 100_000), 12_500)
        self.assertEqual(range_size(40_000, 100_000), 10_000)
        self.assertEqual(range_size(5_000_000, 100_000), 100_000)
        self.assertEqual(range_size(7, 2), 2)
        self.assertEqual(range_size(0, 100_000), 10_000)
