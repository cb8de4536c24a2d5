"""What a score row tells a sales rep beyond the score: its trend and its
percentile, computed on read from the ledger and the score rows.

Both are computed when asked (a form, a page of a list, a filter), not kept
current: they change for everyone every day (points age, other records move),
and writing them on a million score rows would cost the daily run a minute
and a half. Computing them costs one statement per scoring model, shared by
all the rows read.
"""

import math

from odoo.tools import SQL

from .engine import decayed_points_sql, model_clamp_sql, restrict_sql

# A trend of at least this many points (either way) is a direction.
TREND_STEP = 1.0
# How a trend direction is shown beside the score.
ARROWS = {"up": "▲", "down": "▼", "steady": "▶"}


def trend_direction(trend):
    """``up`` for a trend of at least TREND_STEP, ``down`` for at most
    -TREND_STEP, else ``steady``."""
    if trend >= TREND_STEP:
        return "up"
    if trend <= -TREND_STEP:
        return "down"
    return "steady"


def score_then_sql(scoring_model, moment, target_ids=None):
    """``(target_id, score_then)``: the score each record of a scoring model
    had at ``moment``, rebuilt from the ledger as a run at that moment would
    have computed it (lines dated by then, neither closed nor expired by
    then, decayed to then, clamped). A company's roll-up counts as it is now:
    the ledger does not keep what it was.

    :param target_ids: only these records (default: every score row)
    """
    column = SQL.identifier(scoring_model._target_column())
    lines_then = SQL(
        """
        SELECT p.%(column)s AS target_id, SUM(%(value)s) AS total
          FROM lead_scoring_point p
         WHERE p.model_id = %(model)s AND p.date <= %(moment)s
           AND (p.closed_date IS NULL OR p.closed_date > %(moment)s)
           AND (p.expire_date IS NULL OR p.expire_date > %(moment)s) %(restrict)s
         GROUP BY 1
        """,
        column=column,
        value=decayed_points_sql(scoring_model, moment),
        model=scoring_model.id,
        moment=moment,
        restrict=restrict_sql(SQL("p.%s", column), target_ids),
    )
    return SQL(
        """
        SELECT s.%(column)s, %(score)s
          FROM lead_scoring_score s
          LEFT JOIN (%(lines_then)s) t ON t.target_id = s.%(column)s
         WHERE s.model_id = %(model)s %(restrict)s
        """,
        column=column,
        score=model_clamp_sql(
            scoring_model, SQL("COALESCE(t.total, 0.0) + COALESCE(s.rollup_score, 0.0)")
        ),
        lines_then=lines_then,
        model=scoring_model.id,
        restrict=restrict_sql(SQL("s.%s", column), target_ids),
    )


def lower_counts(cr, scores_by_model):
    """``{model id: (total, {score: rows below})}``: how many score rows each
    scoring model has, and how many have a lower score than each of its
    ``scores`` (``{model id: scores}``): one pass over those models' rows,
    one statement for all of them."""
    branches = []
    for model_id, scores in scores_by_model.items():
        # width_bucket(x, bounds): how many bounds are at or below x.
        branches.append(
            SQL(
                """
                SELECT %(model)s, width_bucket(score, %(bounds)s::float8[]), count(*)
                  FROM lead_scoring_score WHERE model_id = %(model)s GROUP BY 2
                """,
                bounds=sorted(set(scores)),
                model=model_id,
            )
        )
    if not branches:
        return {}
    cr.execute(SQL(" UNION ALL ").join(branches))
    per_bucket = {}
    for model_id, bucket, count in cr.fetchall():
        per_bucket.setdefault(model_id, {})[bucket] = count
    result = {}
    for model_id, scores in scores_by_model.items():
        buckets = per_bucket.get(model_id, {})
        below, lower = 0, {}
        for index, bound in enumerate(sorted(set(scores))):
            below += buckets.get(index, 0)
            lower[bound] = below
        result[model_id] = (sum(buckets.values()), lower)
    return result


def percentile(lower, total):
    """The percentage of a model's score rows with a lower score (0..100)."""
    return math.floor(100 * lower / total) if total else 0


def lowest_score_at_percentile(cr, model_id, value):
    """``(score, strict)``: a score row of the model has a percentile of at
    least ``value`` exactly when its score is above ``score`` (``strict``) or
    at least it; None when no row can reach it."""
    cr.execute(SQL("SELECT count(*) FROM lead_scoring_score WHERE model_id = %s", model_id))
    total = cr.fetchone()[0]
    # percentile >= value  <=>  rows below >= needed.
    needed = math.ceil(value * total / 100)
    if needed <= 0:
        return (float("-inf"), False) if total else None
    if needed >= total:
        return None
    # Rows below a score reach `needed` once the score is above the
    # `needed`-th lowest one.
    cr.execute(
        SQL(
            """
            SELECT score FROM lead_scoring_score WHERE model_id = %s
             ORDER BY score OFFSET %s LIMIT 1
            """,
            model_id,
            needed - 1,
        )
    )
    return cr.fetchone()[0], True
