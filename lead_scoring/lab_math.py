"""The scoring lab's arithmetic, in plain Python (no Odoo, no numpy).

The lab never sees one opportunity at a time: SQL hands it *groups* of
outcomes that share the same features (the same rules hit, or the same
score), each with how many of them were won and lost. Every function here
works on such groups, so its cost grows with the number of distinct groups,
not with the number of opportunities.

- ``fit_logistic``: L2-regularised logistic regression by Newton's method
  (iteratively reweighted least squares) with step halving, over weighted
  groups. ``L2_STRENGTH`` explains the choice of the penalty.
- ``scorecard_points``: coefficients as points, ``points_to_double_odds``
  points doubling the odds of winning.
- ``roc_auc``: the area under the ROC curve, ties counted as half.
- ``lift_by_decile``: won rate per tenth of the outcomes ranked by score,
  tied scores spread evenly over the tenths they straddle.
- ``information_value`` and ``lift`` of a single condition.
- ``calibrate``: score → win probability, a logistic regression on the score.
"""

import math
from collections import defaultdict
from typing import NamedTuple

LN2 = math.log(2.0)

# The penalty ½·λ·Σβ² on the coefficients (never on the intercept), added to
# the *summed* log-likelihood: a Gaussian prior N(0, 1/λ) on each rule's
# log-odds. With λ = 1 a rule needs evidence to move more than about one
# doubling of the odds from 0, and its weight in the fit shrinks as 1/n per
# outcome: on thousands of outcomes the data decide alone, while a rule with a
# handful of hits, or whose hits are all won (perfect separation, where the
# unpenalised estimate is infinite), stays finite and modest. Two identical
# (collinear) rules share the weight evenly instead of running off to ±∞.
L2_STRENGTH = 1.0
# The intercept is not penalised; this tiny ridge only keeps the Newton
# system solvable when every outcome has the same result.
INTERCEPT_RIDGE = 1e-6
MAX_ITERATIONS = 100
TOLERANCE = 1e-7
# Linear predictors beyond this are saturated: exp() stays finite.
MAX_LOG_ODDS = 35.0
# Laplace-style smoothing of the cells of the information value: an empty
# cell (a condition whose hits are all won) gives a large, finite value.
IV_SMOOTHING = 0.5
DECILES = 10
# Fewer outcomes than this tell nothing reliable: no fit, no AUC.
MIN_OUTCOMES = 30


class Fit(NamedTuple):
    intercept: float
    coefficients: list
    iterations: int
    converged: bool


def sigmoid(z):
    """1 / (1 + e^-z), without overflow."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, MAX_LOG_ODDS)))
    ez = math.exp(max(z, -MAX_LOG_ODDS))
    return ez / (1.0 + ez)


def log_sigmoid(z):
    """log(sigmoid(z)), exact for large |z| too."""
    if z >= 0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


def fit_logistic(rows, n_features, l2=L2_STRENGTH, offsets=None, start=None):
    """Maximise the L2-penalised log-likelihood of won/lost over weighted groups.

    :param rows: sequence of ``(features, won, lost)``: ``features`` is a
        tuple of ``(index, value)`` pairs (index in ``range(n_features)``,
        absent = 0), shared by ``won`` won and ``lost`` lost outcomes
    :param offsets: optional fixed part of each row's log-odds (same order)
    :param start: optional ``(intercept, coefficients)`` to start from
    :return: ``Fit``; the penalty makes the optimum unique and finite, so
        Newton's method with step halving converges on separated data and on
        constant or duplicated columns alike
    """
    size = n_features + 1  # position 0: the intercept
    data = []
    for position, (features, won, lost) in enumerate(rows):
        if won + lost <= 0:
            continue
        ordered = sorted(features)
        indexes = [0] + [index + 1 for index, _value in ordered]
        values = [1.0] + [float(value) for _index, value in ordered]
        if all(value == 1.0 for value in values):
            values = None
        offset = offsets[position] if offsets is not None else 0.0
        data.append((indexes, values, float(won), float(lost), offset))
    ridge = [INTERCEPT_RIDGE] + [l2] * n_features
    beta = [0.0] * size
    if start is not None:
        beta[0] = start[0]
        beta[1 : len(start[1]) + 1] = start[1]
    objective, etas = _objective(data, beta, ridge)
    for iteration in range(1, MAX_ITERATIONS + 1):
        gradient, hessian = _derivatives(data, etas, beta, ridge, size)
        step = _solve(hessian, gradient)
        scale = 1.0
        while True:
            candidate = [b + scale * s for b, s in zip(beta, step, strict=True)]
            new_objective, new_etas = _objective(data, candidate, ridge)
            if new_objective >= objective - 1e-12:
                break
            scale /= 2.0  # Newton overshot: halve the step until it improves
            if scale < 1e-10:
                # No step improves any more: numerically at the optimum.
                return Fit(beta[0], beta[1:], iteration, True)
        beta, etas = candidate, new_etas
        improvement = new_objective - objective
        objective = new_objective
        if max(abs(s) for s in step) * scale < TOLERANCE or abs(improvement) < 1e-12 * (
            1.0 + abs(objective)
        ):
            return Fit(beta[0], beta[1:], iteration, True)
    return Fit(beta[0], beta[1:], MAX_ITERATIONS, False)


def _objective(data, beta, ridge):
    """Penalised log-likelihood and each row's linear predictor."""
    total = 0.0
    etas = []
    for indexes, values, won, lost, offset in data:
        eta = offset
        if values is None:
            for index in indexes:
                eta += beta[index]
        else:
            for index, value in zip(indexes, values, strict=True):
                eta += beta[index] * value
        etas.append(eta)
        if won:
            total += won * log_sigmoid(eta)
        if lost:
            total += lost * log_sigmoid(-eta)
    penalty = sum(r * b * b for r, b in zip(ridge, beta, strict=True))
    return total - 0.5 * penalty, etas


def _derivatives(data, etas, beta, ridge, size):
    """Gradient and negated Hessian (positive definite) of the objective.

    The Hessian's upper triangle is summed (indexes ascend within a row) and
    mirrored at the end; rows whose values are all 1 (rule hits) skip the
    multiplications. This double loop is the lab's hot spot.
    """
    gradient = [-r * b for r, b in zip(ridge, beta, strict=True)]
    hessian = [[0.0] * size for _ in range(size)]
    for (indexes, values, won, lost, _offset), eta in zip(data, etas, strict=True):
        p = sigmoid(eta)
        residual = won - (won + lost) * p
        weight = (won + lost) * p * (1.0 - p)
        if values is None:  # binary: every value is 1
            for position, index in enumerate(indexes):
                gradient[index] += residual
                row = hessian[index]
                for other in indexes[position:]:
                    row[other] += weight
            continue
        for position, index in enumerate(indexes):
            value = values[position]
            gradient[index] += residual * value
            row = hessian[index]
            weighted = weight * value
            for other in range(position, len(indexes)):
                row[indexes[other]] += weighted * values[other]
    for i in range(size):
        for j in range(i):
            hessian[i][j] = hessian[j][i]
        hessian[i][i] += ridge[i]
    return gradient, hessian


def _solve(matrix, vector):
    """Solve ``matrix · x = vector`` for a symmetric positive definite matrix
    (Cholesky); a vanishing pivot is floored, which only damps that direction."""
    size = len(vector)
    lower = [[0.0] * size for _ in range(size)]
    for i in range(size):
        row_i = lower[i]
        for j in range(i + 1):
            row_j = lower[j]
            total = matrix[i][j] - sum(row_i[k] * row_j[k] for k in range(j))
            if i == j:
                row_i[i] = math.sqrt(max(total, 1e-12))
            else:
                row_i[j] = total / row_j[j]
    forward = [0.0] * size
    for i in range(size):
        forward[i] = (vector[i] - sum(lower[i][k] * forward[k] for k in range(i))) / lower[i][i]
    solution = [0.0] * size
    for i in reversed(range(size)):
        total = forward[i] - sum(lower[k][i] * solution[k] for k in range(i + 1, size))
        solution[i] = total / lower[i][i]
    return solution


def round_half_away(value):
    """Whole points, halves rounded away from zero (2.5 → 3, -2.5 → -3)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def scorecard_points(coefficient, points_to_double_odds):
    """Points of a log-odds coefficient: ``points_to_double_odds`` points per
    doubling of the odds (a credit scorecard's scaling), in whole points."""
    return round_half_away(coefficient * points_to_double_odds / LN2)


def merge_scores(groups, digits=6):
    """``{score: [won, lost]}`` of ``(score, won, lost)`` groups; scores that
    differ only by float noise are one score."""
    merged = defaultdict(lambda: [0, 0])
    for score, won, lost in groups:
        cell = merged[round(score, digits)]
        cell[0] += won
        cell[1] += lost
    return merged


def roc_auc(groups):
    """Area under the ROC curve of ``(score, won, lost)`` groups: the chance
    that a won outcome scores above a lost one, ties counted as half.

    :return: a float in [0, 1], or None without any won or any lost outcome
    """
    merged = merge_scores(groups)
    won_total = sum(cell[0] for cell in merged.values())
    lost_total = sum(cell[1] for cell in merged.values())
    if not won_total or not lost_total:
        return None
    pairs = 0.0
    lost_below = 0
    for score in sorted(merged):
        won, lost = merged[score]
        pairs += won * (lost_below + 0.5 * lost)
        lost_below += lost
    return pairs / (won_total * lost_total)


def lift_by_decile(groups, deciles=DECILES):
    """Won rate and lift per tenth of the outcomes ranked by score, highest first.

    Outcomes with the same score cannot be ranked: a tie that straddles two
    tenths is spread over them in proportion, with its own won rate.

    :return: list of ``(decile, outcomes, won, won rate, lift)`` (decile 1 =
        the highest scores; outcomes and won may be fractional), empty when
        there are no outcomes
    """
    merged = merge_scores(groups)
    total = sum(won + lost for won, lost in merged.values())
    won_total = sum(won for won, _lost in merged.values())
    if not total:
        return []
    base_rate = won_total / total
    counts = [0.0] * deciles
    wins = [0.0] * deciles
    position = 0.0
    for score in sorted(merged, reverse=True):
        won, lost = merged[score]
        size = won + lost
        left = float(size)
        while left > 1e-9:
            decile = min(int(position * deciles / total + 1e-9), deciles - 1)
            room = (decile + 1) * total / deciles - position
            taken = min(left, room) if decile < deciles - 1 else left
            counts[decile] += taken
            wins[decile] += won * taken / size
            position += taken
            left -= taken
    result = []
    for decile in range(deciles):
        rate = wins[decile] / counts[decile] if counts[decile] else 0.0
        result.append(
            (
                decile + 1,
                counts[decile],
                wins[decile],
                rate,
                rate / base_rate if base_rate else 0.0,
            )
        )
    return result


def lift(won_hits, lost_hits, won_total, lost_total):
    """Won rate among the hits over the overall won rate (0 without hits)."""
    hits = won_hits + lost_hits
    total = won_total + lost_total
    if not hits or not won_total:
        return 0.0
    return (won_hits / hits) / (won_total / total)


def information_value(won_hits, lost_hits, won_total, lost_total, smoothing=IV_SMOOTHING):
    """Information value of a yes/no condition: Σ (%won - %lost) · ln(%won / %lost)
    over its two cells (hit, not hit), each cell smoothed by ``smoothing``
    outcomes of each kind so that an empty cell stays finite."""
    if not won_total or not lost_total:
        return 0.0
    cells = ((won_hits, lost_hits), (won_total - won_hits, lost_total - lost_hits))
    value = 0.0
    for won, lost in cells:
        share_won = (won + smoothing) / (won_total + 2 * smoothing)
        share_lost = (lost + smoothing) / (lost_total + 2 * smoothing)
        value += (share_won - share_lost) * math.log(share_won / share_lost)
    return value


def calibrate(groups, l2=L2_STRENGTH):
    """Win probability of a score: ``(a, b)`` of P(won) = 1 / (1 + e^-(a + b·score)),
    a logistic regression on the score over ``(score, won, lost)`` groups
    (the slope lightly penalised, so a score that separates won from lost
    perfectly gives a steep but finite curve)."""
    merged = merge_scores(groups)
    rows = [(((0, score),), won, lost) for score, (won, lost) in merged.items()]
    fit = fit_logistic(rows, 1, l2=l2)
    return fit.intercept, fit.coefficients[0]


def win_probability(intercept, slope, score):
    """Percent chance of winning at ``score`` under a calibration."""
    return 100.0 * sigmoid(intercept + slope * score)
