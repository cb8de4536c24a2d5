import math

from odoo.tests import BaseCase, tagged

from .. import lab_math


def exact_cells(intercept, weights, per_cell):
    """Groups of every hit pattern of ``len(weights)`` rules, each with
    ``per_cell`` outcomes won exactly in proportion to the true model."""
    rows = []
    for mask in range(2 ** len(weights)):
        hits = tuple(i for i in range(len(weights)) if mask >> i & 1)
        p = lab_math.sigmoid(intercept + sum(weights[i] for i in hits))
        won = round(per_cell * p)
        rows.append((tuple((i, 1.0) for i in hits), won, per_cell - won))
    return rows


@tagged("post_install", "-at_install")
class TestLabMath(BaseCase):
    def test_auc_counts_ties_as_half(self):
        # Won at 10 and 5, lost at 5 and 0: pairs (10>5), (10>0), (5=5: ½), (5>0).
        groups = [(10, 1, 0), (5, 1, 1), (0, 0, 1)]
        self.assertAlmostEqual(lab_math.roc_auc(groups), 3.5 / 4)
        self.assertEqual(lab_math.roc_auc([(1, 5, 5)]), 0.5, "one score for all: a coin toss")
        self.assertEqual(lab_math.roc_auc([(1, 5, 0), (7, 0, 3)]), 0.0)
        self.assertIsNone(lab_math.roc_auc([(1, 5, 0), (2, 3, 0)]), "no lost outcome")
        # Scores that differ by float noise are one score.
        self.assertEqual(lab_math.roc_auc([(0.1 + 0.2, 1, 0), (0.3, 0, 1)]), 0.5)

    def test_lift_by_decile_spreads_ties(self):
        # 100 outcomes, 20 won: the top 10 all won, 90 tied with 10 won among them.
        deciles = lab_math.lift_by_decile([(9, 10, 0), (1, 10, 80)])
        self.assertEqual(len(deciles), 10)
        first, second = deciles[0], deciles[1]
        self.assertEqual(first[:3], (1, 10.0, 10.0))
        self.assertAlmostEqual(first[4], 5.0, msg="all won against 20% on average")
        # The tie fills deciles 2-10 evenly, at its own won rate (1/9).
        self.assertAlmostEqual(second[3], 1 / 9)
        self.assertAlmostEqual(deciles[-1][3], 1 / 9)
        self.assertAlmostEqual(sum(d[1] for d in deciles), 100.0)
        self.assertAlmostEqual(sum(d[2] for d in deciles), 20.0)
        self.assertEqual(lab_math.lift_by_decile([]), [])

    def test_information_value_and_lift_of_a_perfect_condition_stay_finite(self):
        # 25 hits, all won: the unsmoothed IV is infinite.
        iv = lab_math.information_value(25, 0, 100, 400)
        self.assertTrue(math.isfinite(iv) and iv > 0.5)
        self.assertLess(lab_math.information_value(20, 80, 100, 400), 0.001, "no signal")
        self.assertEqual(lab_math.lift(25, 0, 100, 400), 5.0)
        self.assertEqual(lab_math.lift(0, 0, 100, 400), 0.0)

    def test_fit_recovers_known_weights(self):
        weights = [math.log(4), -math.log(2), 0.0]
        fit = lab_math.fit_logistic(exact_cells(-1.0, weights, 400), 3)
        self.assertTrue(fit.converged)
        for found, true in zip(fit.coefficients, weights, strict=True):
            self.assertAlmostEqual(found, true, delta=0.05)
        self.assertAlmostEqual(fit.intercept, -1.0, delta=0.05)
        points = [lab_math.scorecard_points(c, 20) for c in fit.coefficients]
        self.assertEqual(points, [40, -20, 0], "log(4) doubles the odds twice: 2 x 20 points")

    def test_fit_converges_on_separated_and_constant_columns(self):
        rows = [
            (((0, 1.0),), 30, 0),  # rule 0: every hit won (perfect separation)
            (((1, 1.0),), 0, 25),  # rule 1: every hit lost
            ((), 40, 60),
        ]
        # Rule 2 hits nothing, rule 3 hits everything (the intercept's twin).
        rows = [((*features, (3, 1.0)), won, lost) for features, won, lost in rows]
        fit = lab_math.fit_logistic(rows, 4)
        self.assertTrue(fit.converged)
        separated, never_lost, empty, constant = fit.coefficients
        self.assertTrue(2.0 < separated < 6.0, f"finite and capped: {separated}")
        self.assertTrue(-6.0 < never_lost < -2.0, f"finite and capped: {never_lost}")
        self.assertEqual(empty, 0.0)
        self.assertAlmostEqual(constant, 0.0, delta=1e-6, msg="the intercept takes it all")

    def test_collinear_rules_share_the_weight(self):
        cells = exact_cells(-1.0, [math.log(4)], 500)
        duplicated = [(f + tuple((1, v) for _i, v in f), won, lost) for f, won, lost in cells]
        fit = lab_math.fit_logistic(duplicated, 2)
        self.assertTrue(fit.converged)
        self.assertAlmostEqual(fit.coefficients[0], fit.coefficients[1], places=6)
        self.assertAlmostEqual(sum(fit.coefficients), math.log(4), delta=0.05)

    def test_skewed_classes_and_tiny_cells(self):
        # 2% won; a rule with 3 hits, all won, must not dominate.
        rows = [((), 20, 1000), (((0, 1.0),), 3, 0), (((1, 1.0),), 30, 470)]
        fit = lab_math.fit_logistic(rows, 2)
        self.assertTrue(fit.converged)
        self.assertLess(fit.coefficients[0], 3.5, "three hits are shrunk")
        # The shrunk rule leaves a little of its wins to the intercept.
        self.assertAlmostEqual(fit.intercept, math.log(20 / 1000), delta=0.2)

    def test_offset_fit_finds_what_a_condition_adds(self):
        # With the rules' log-odds held fixed, a condition that doubles the odds.
        base = [-1.0, 0.5]
        rows, offsets = [], []
        for offset in base:
            for hit in (0, 1):
                p = lab_math.sigmoid(offset + hit * math.log(2))
                rows.append((((0, 1.0),) if hit else (), round(1000 * p), 1000 - round(1000 * p)))
                offsets.append(offset)
        fit = lab_math.fit_logistic(rows, 1, offsets=offsets)
        self.assertAlmostEqual(fit.coefficients[0], math.log(2), delta=0.02)
        self.assertAlmostEqual(fit.intercept, 0.0, delta=0.02)

    def test_calibration_and_rounding(self):
        groups = [
            (score, won, 100 - won)
            for score in range(0, 101, 10)
            for won in [round(100 * lab_math.sigmoid(-2 + 0.05 * score))]
        ]
        intercept, slope = lab_math.calibrate(groups)
        self.assertAlmostEqual(intercept, -2.0, delta=0.1)
        self.assertAlmostEqual(slope, 0.05, delta=0.005)
        low, high = (lab_math.win_probability(intercept, slope, s) for s in (0, 100))
        self.assertLess(low, 15.0)
        self.assertGreater(high, 90.0)
        self.assertEqual(lab_math.round_half_away(2.5), 3)
        self.assertEqual(lab_math.round_half_away(-2.5), -3)
        self.assertEqual(lab_math.scorecard_points(math.log(2), 20), 20)
