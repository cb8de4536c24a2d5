"""What a score row tells a sales rep beyond the score: its trend and its
percentile, computed on read from the ledger and the score rows.

Both are computed when asked (a form, a page of a list, a filter), not kept
current: they change for everyone every day (points age, other records move),
and writing them on a million score rows would cost the daily run a minute
and a half. Reading them costs one statement each for all the rows read.

Searching them stays in PostgreSQL, no ids through Python:

- A trend filter (*Rising*, *Cooling down*) is a subquery of the search's
  own statement (``trend_search_sql``) that rebuilds the past score only of
  the records whose score can have moved since the trend moment
  (``trend_rows_sql``). Without decay a score moves only through its ledger
  lines: those dated or closed after the moment, and those expiring between
  it and now, found on indexes of the ledger by date rather than by a scan
  of it (``changed_targets_sql``). Every other record has the score it had
  then: a trend of 0, steady. Decay moves every score: a model with decay
  rebuilds them all.
- *Top 10%* compares each score with the lowest score of the top of its
  model, found by walking the (model, score) index down from the highest
  score; one statement gives the bounds of all the models
  (``percentile_bounds``), the search compares with them as numbers.

A trend is searched as shown, rounded to 2 decimals by Python
(``lowest_trend_rounding_to``): the statement compares the unrounded trend
with the bounds of that rounding, not with PostgreSQL's own rounding.
"""

import math
import struct

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


def _counted_at_sql(moment):
    """SQL condition: the ledger line ``p`` counted in a score at ``moment``
    (dated by then, neither closed nor expired by then)."""
    return SQL(
        """p.date <= %(moment)s
           AND (p.closed_date IS NULL OR p.closed_date > %(moment)s)
           AND (p.expire_date IS NULL OR p.expire_date > %(moment)s)""",
        moment=moment,
    )


def _score_then_sql(scoring_model):
    """SQL of the score then of the score row ``s``, from ``t.total``, the
    sum of its lines then: clamped, with the roll-up as it is now."""
    return model_clamp_sql(
        scoring_model, SQL("COALESCE(t.total, 0.0) + COALESCE(s.rollup_score, 0.0)")
    )


def _then_sql(scoring_model, moment, target_ids, selected):
    """``selected`` (SQL on the score row ``s`` and its lines then, ``t``)
    for each score row of the model with a record."""
    column = SQL.identifier(scoring_model._target_column())
    return SQL(
        """
        SELECT %(selected)s
          FROM lead_scoring_score s
          LEFT JOIN (
              SELECT p.%(column)s AS target_id, SUM(%(value)s) AS total
                FROM lead_scoring_point p
               WHERE p.model_id = %(model)s AND %(counted)s %(restrict_lines)s
               GROUP BY 1
          ) t ON t.target_id = s.%(column)s
         WHERE s.model_id = %(model)s AND s.%(column)s IS NOT NULL %(restrict_scores)s
        """,
        selected=selected,
        column=column,
        value=decayed_points_sql(scoring_model, moment),
        model=scoring_model.id,
        counted=_counted_at_sql(moment),
        restrict_lines=restrict_sql(SQL("p.%s", column), target_ids),
        restrict_scores=restrict_sql(SQL("s.%s", column), target_ids),
    )


def score_then_sql(scoring_model, moment, target_ids=None):
    """``(target_id, score_then)``: the score each record of a scoring model
    had at ``moment``, rebuilt from the ledger as a run at that moment would
    have computed it (lines dated by then, neither closed nor expired by
    then, decayed to then, clamped). A company's roll-up counts as it is now:
    the ledger does not keep what it was.

    :param target_ids: only these records (default: every score row)
    """
    column = SQL.identifier(scoring_model._target_column())
    selected = SQL("s.%s, %s", column, _score_then_sql(scoring_model))
    return _then_sql(scoring_model, moment, target_ids, selected)


def changed_targets_sql(scoring_model, moment, now):
    """The records of a scoring model without decay whose score can differ
    from the one they had at ``moment``: those with a ledger line dated or
    closed after it, or expiring between it and ``now`` (a line closed by
    then, or expired by then, counts on neither side). Two index ranges:
    ``lead_scoring_point_changed_idx`` (a line's last change, its date or
    its closing) and ``lead_scoring_point_live_idx`` (the expiry of open
    lines).

    The score rows of all the other records are as they were then, provided
    they are current (the engine refreshes a score when its lines change or
    expire).
    """
    return SQL(
        """
        SELECT c.%(column)s FROM lead_scoring_point c
         WHERE c.model_id = %(model)s
           AND (GREATEST(c.date, c.closed_date) > %(moment)s
                OR (c.closed_date IS NULL
                    AND c.expire_date > %(moment)s AND c.expire_date <= %(now)s))
        """,
        column=SQL.identifier(scoring_model._target_column()),
        model=scoring_model.id,
        moment=moment,
        now=now,
    )


def trend_rows_sql(scoring_model, moment, now):
    """``(id, trend)`` of the score rows of a scoring model whose trend may
    not be 0: the score minus the score at ``moment`` (as ``score_then_sql``
    rebuilds it and ``_compute_trend`` subtracts it), not rounded. Every row
    left out has a trend of 0.

    With decay, every row with a record. Without, only the rows of the
    records ``changed_targets_sql`` finds, whose lines are summed in one
    pass: a plain subquery (not a common table expression), so that
    PostgreSQL estimates their number from the ledger's statistics and reads
    the lines of a few records through the index of their record, those of
    many in one pass over the model's lines.
    """
    trend = SQL("COALESCE(s.score, 0.0) - (%s) AS trend", _score_then_sql(scoring_model))
    if scoring_model.decay_half_life_days:
        return _then_sql(scoring_model, moment, None, SQL("s.id, %s", trend))
    column = SQL.identifier(scoring_model._target_column())
    return SQL(
        """
        SELECT s.id, %(trend)s
          FROM (
              SELECT p.%(column)s AS target_id,
                     SUM(%(value)s) FILTER (WHERE %(counted)s) AS total
                FROM lead_scoring_point p
               WHERE p.model_id = %(model)s AND p.%(column)s IN (%(changed)s)
               GROUP BY 1
          ) t
          JOIN lead_scoring_score s ON s.model_id = %(model)s AND s.%(column)s = t.target_id
        """,
        trend=trend,
        column=column,
        value=decayed_points_sql(scoring_model, moment),
        counted=_counted_at_sql(moment),
        model=scoring_model.id,
        changed=changed_targets_sql(scoring_model, moment, now),
    )


def _order_key(value):
    """An integer that orders floats as their values (``-0.0`` as ``0.0``)."""
    (bits,) = struct.unpack("<Q", struct.pack("<d", value))
    return -(bits & ~(1 << 63)) if bits >> 63 else bits


def _float_of_key(key):
    bits = -key | (1 << 63) if key < 0 else key
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def lowest_trend_rounding_to(value, strict=False):
    """The lowest trend (a float) whose rounding to 2 decimals, as the trend
    shown, is at least ``value`` (above it when ``strict``); ``-inf`` when
    every trend is, ``inf`` when none is. The rounding is Python's
    ``round(trend, 2)``, which PostgreSQL's own does not always agree with
    (0.995 rounds down in Python, up in PostgreSQL): a search compares the
    unrounded trend with this bound instead."""

    def reaches(trend):
        shown = round(trend, 2)
        return shown > value if strict else shown >= value

    if math.isnan(value):
        return math.inf
    if math.isinf(value):
        return -math.inf if (value < 0) else math.inf
    margin = max(0.02, 4 * math.ulp(value))
    low, high = _order_key(value - margin), _order_key(value + margin)
    # reaches() is monotonic: below `low` it fails, from `high` on it holds.
    if reaches(_float_of_key(low)):
        return -math.inf
    if not reaches(_float_of_key(high)):
        return math.inf
    while high - low > 1:
        middle = (low + high) // 2
        if reaches(_float_of_key(middle)):
            high = middle
        else:
            low = middle
    return _float_of_key(high)


def trend_ranges(operator, value):
    """The trends ``round(trend, 2) <operator> value`` holds for, as
    half-open ranges ``[(low, high)]`` (``low <= trend < high``, infinite
    bounds for none)."""
    if math.isnan(value):
        return [(-math.inf, math.inf)] if operator == "!=" else []
    at_least = lowest_trend_rounding_to(value)
    above = lowest_trend_rounding_to(value, strict=True)
    ranges = {
        ">=": [(at_least, math.inf)],
        ">": [(above, math.inf)],
        "<": [(-math.inf, at_least)],
        "<=": [(-math.inf, above)],
        "=": [(at_least, above)],
        "!=": [(-math.inf, at_least), (above, math.inf)],
    }[operator]
    return [(low, high) for low, high in ranges if low < high]


def direction_ranges(directions):
    """The trends whose direction (``trend_direction``) is one of
    ``directions``, as ``trend_ranges`` gives them."""
    down_below = lowest_trend_rounding_to(-TREND_STEP, strict=True)
    up_from = lowest_trend_rounding_to(TREND_STEP)
    ranges = {
        "down": (-math.inf, down_below),
        "steady": (down_below, up_from),
        "up": (up_from, math.inf),
    }
    return [ranges[direction] for direction in ("down", "steady", "up") if direction in directions]


def in_ranges(trend, ranges):
    """Whether the trend (a float) is in one of ``ranges``."""
    return any(low <= trend < high for low, high in ranges)


def ranges_sql(trend, ranges):
    """SQL condition: the trend (SQL) is in one of ``ranges``."""
    conditions = []
    for low, high in ranges:
        parts = []
        if low != -math.inf:
            parts.append(SQL("%s >= %s", trend, low))
        if high != math.inf:
            parts.append(SQL("%s < %s", trend, high))
        conditions.append(SQL(" AND ").join(parts) if parts else SQL("TRUE"))
    if not conditions:
        return SQL("FALSE")
    return SQL("(%s)", SQL(" OR ").join(SQL("(%s)", condition) for condition in conditions))


def trend_search_sql(scoring_model, moment, now, ranges):
    """The ids of the score rows of a scoring model whose trend is in
    ``ranges`` (``trend_ranges``). When a trend of 0 is, the rows
    ``trend_rows_sql`` leaves out are in; else only some of its rows are."""
    rows = trend_rows_sql(scoring_model, moment, now)
    if in_ranges(0.0, ranges):
        return SQL(
            """
            SELECT s.id FROM lead_scoring_score s
              LEFT JOIN (%(rows)s) r ON r.id = s.id
             WHERE s.model_id = %(model)s AND (r.id IS NULL OR %(matches)s)
            """,
            rows=rows,
            model=scoring_model.id,
            matches=ranges_sql(SQL("r.trend"), ranges),
        )
    return SQL("SELECT r.id FROM (%s) r WHERE %s", rows, ranges_sql(SQL("r.trend"), ranges))


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


def percentile_bounds(cr, value):
    """``{model id: score}``: for each live scoring model with score rows, a
    row has a percentile of at least ``value`` (an integer above 0) exactly
    when its score is above this one. One statement for all the models.

    With ``total`` rows, a percentile of at least ``value`` is at least
    ``needed = ceil(value x total / 100)`` rows below, which a score has once
    it is above the ``needed``-th lowest: the ``total - needed + 1``-th
    highest, found walking the (model, score) index down from the top (a
    tenth of it for the top 10%, not the nine tenths below). When ``needed``
    is ``total`` or more, the bound is the highest score: no row is above it.
    """
    # Each model's rows counted on its own (an index-only range per model):
    # faster than one count grouped by model over all of them.
    cr.execute(
        SQL(
            """
            SELECT m.id,
                   (SELECT s.score FROM lead_scoring_score s
                     WHERE s.model_id = m.id
                     ORDER BY s.score DESC
                    OFFSET GREATEST(rows.total - ceil(%(value)s * rows.total / 100.0), 0)::bigint
                     LIMIT 1)
              FROM lead_scoring_model m
             CROSS JOIN LATERAL (
                   SELECT count(*) AS total FROM lead_scoring_score s WHERE s.model_id = m.id
             ) rows
             WHERE m.active AND m.state = 'live'
            """,
            value=value,
        )
    )
    return dict(cr.fetchall())
