"""The SQL builders the models and the engine share: band, clamp, decay,
live totals, the rule diff, the score refresh, the primary score copy and the
history of closed opportunities. Each returns an ``odoo.tools.SQL``; none
executes anything. Statements on the contacts' own columns only (roll-up,
lead grade) live next to ``res.partner`` (``models/res_partner.py``).
"""

from odoo.osv import expression
from odoo.tools import SQL


def band_sql(model_id, score):
    """Scalar subquery: the band of ``score`` in scoring model ``model_id``
    (the band with the highest minimum at or below it; NULL below all).

    :param model_id: an id, or SQL naming a column
    :param score: SQL of the score
    """
    return SQL(
        """(SELECT b.id FROM lead_scoring_band b
             WHERE b.model_id = %s AND b.min_score <= %s
             ORDER BY b.min_score DESC, b.id LIMIT 1)""",
        model_id,
        score,
    )


def band_case_sql(bands, score):
    """``band_sql`` for one scoring model as a CASE over its bands: what the
    subquery answers, without running it once per score (3.8 s of a publish's
    refresh of 877,000 scores).

    :param bands: ``[(band id, minimum)]`` of the model, as ``model_bands`` reads them
    :param score: SQL of the score
    """
    if not bands:
        return SQL("NULL::int4")
    return SQL(
        "CASE %s END",
        SQL(" ").join(
            SQL("WHEN %s >= %s THEN %s", score, min_score, band_id) for band_id, min_score in bands
        ),
    )


def model_bands(cr, model_id):
    """``[(band id, minimum)]`` of a scoring model in ``band_sql``'s order of
    preference: the highest minimum first, then the lowest id."""
    cr.execute(
        SQL(
            """
            SELECT id, min_score FROM lead_scoring_band
             WHERE model_id = %s AND min_score IS NOT NULL
             ORDER BY min_score DESC, id
            """,
            model_id,
        )
    )
    return cr.fetchall()


def clamp_sql(expression, min_score=None, max_score=None):
    """``expression`` kept within ``min_score`` and ``max_score`` (values or
    SQL; None or SQL NULL = no bound: PostgreSQL's GREATEST/LEAST skip NULLs)."""
    if max_score is not None:
        expression = SQL("LEAST(%s, %s)", expression, max_score)
    if min_score is not None:
        expression = SQL("GREATEST(%s, %s)", expression, min_score)
    return expression


def model_clamp_sql(scoring_model, expression):
    """``expression`` clamped to the bounds a scoring model switched on."""
    return clamp_sql(
        expression,
        scoring_model.min_score if scoring_model.use_min_score else None,
        scoring_model.max_score if scoring_model.use_max_score else None,
    )


def decayed_points_sql(scoring_model, now):
    """A ledger line's value now, under the scoring model's decay (half-life)."""
    if not scoring_model.decay_half_life_days:
        return SQL("p.points")
    return SQL(
        "p.points * power(0.5, EXTRACT(EPOCH FROM (%s::timestamp - p.date)) / 86400.0 / %s)",
        now,
        scoring_model.decay_half_life_days,
    )


def score_totals_sql(scoring_model, now, target_ids=None, extra_lines=None, id_range=None):
    """``(target_id, total, rollup, old_score, old_band, old_win, has_row)``:
    for each record with live lines or a score row, the sum of its live lines
    and the roll-up kept on its score row; and what that row holds now, so
    that a refresh writes only the scores that changed.

    One aggregate over the lines and the score rows, not joins between them:
    its plan stays linear when the statistics of a ledger just filled are
    stale (a nested loop over live lines "known" to be three made the first
    refresh of 40,000 company scores take 107 s instead of 2).

    :param target_ids: only these records (default: every record of the model)
    :param id_range: only the records of this id range (see ``id_range_sql``)
    :param extra_lines: SQL returning ``(target_id, points)`` of lines that
        count too (inserted by the same statement, whose snapshot does not
        see its own inserts)
    """
    column = SQL.identifier(scoring_model._target().column)
    return SQL(
        """
        SELECT target_id, SUM(value) AS total, SUM(rollup) AS rollup,
               MAX(old_score) AS old_score, MAX(old_band) AS old_band,
               MAX(old_win) AS old_win, bool_or(has_row) AS has_row FROM (
            SELECT p.%(column)s AS target_id, %(value)s AS value, NULL::float8 AS rollup,
                   NULL::float8 AS old_score, NULL::int4 AS old_band, NULL::float8 AS old_win,
                   FALSE AS has_row
              FROM lead_scoring_point p
             WHERE p.model_id = %(model)s AND p.closed_date IS NULL
               AND (p.expire_date IS NULL OR p.expire_date > %(now)s) %(restrict_lines)s
               %(range_lines)s
             UNION ALL
            SELECT extra.target_id, extra.points, NULL::float8, NULL::float8, NULL::int4,
                   NULL::float8, FALSE
              FROM (%(extra_lines)s) extra(target_id, points)
             UNION ALL
            SELECT s.%(column)s, 0.0, s.rollup_score, s.score, s.band_id, s.win_probability, TRUE
              FROM lead_scoring_score s
             WHERE s.model_id = %(model)s %(restrict_scores)s %(range_scores)s
        ) rows
         GROUP BY target_id
        """,
        column=column,
        value=decayed_points_sql(scoring_model, now),
        model=scoring_model.id,
        now=now,
        extra_lines=extra_lines or SQL("SELECT NULL::int, NULL::float8 WHERE FALSE"),
        restrict_lines=restrict_sql(SQL("p.%s", column), target_ids),
        restrict_scores=probe_sql(SQL("s.%s", column), target_ids),
        range_lines=id_range_sql(SQL("p.%s", column), id_range),
        range_scores=id_range_sql(SQL("s.%s", column), id_range),
    )


def restrict_sql(column, ids):
    """``AND column = ANY(ids)``, or nothing when ``ids`` is None (all records).

    A list rather than a subquery: PostgreSQL then knows how few they are
    and probes an index for each instead of scanning the table.
    """
    if ids is None:
        return SQL()
    return SQL("AND %s = ANY(%s)", column, list(ids))


# Up to this many ids, probe_sql looks each one up in an index.
PROBE_MAX_IDS = 50_000


def probe_sql(column, ids):
    """``restrict_sql`` for a column that leads a unique index after
    ``model_id`` (the score rows' ``(model_id, record)``): a few thousand ids
    are looked up one by one (a nested loop over ``unnest``), where ``= ANY``
    makes PostgreSQL 15 read every score row of the model and filter them
    (80 ms against 155 ms for 12,000 of 870,000 rows). Larger lists: ``= ANY``."""
    if ids is None or len(ids) > PROBE_MAX_IDS:
        return restrict_sql(column, ids)
    return SQL("AND %s IN (SELECT unnest(%s::int4[]))", column, list(ids))


def id_range_sql(column, id_range):
    """``AND low <= column AND column < high`` for ``id_range = (low, high)``
    (inclusive-exclusive, either bound None for none), or nothing when
    ``id_range`` is None."""
    if id_range is None:
        return SQL()
    low, high = id_range
    return SQL(
        "%s%s",
        SQL() if low is None else SQL("AND %s >= %s ", column, low),
        SQL() if high is None else SQL("AND %s < %s", column, high),
    )


# The statement of ``rule_diff_sql``.
RULE_DIFF_STATEMENT = """
    WITH terms(rule_id, points, reason, expire_date, is_live) AS (VALUES %(terms)s),
    matching(rule_id, target_id) AS MATERIALIZED (%(match)s),
    open_lines AS MATERIALIZED (
        SELECT p.rule_id, p.%(column)s AS target_id
          FROM lead_scoring_point p
         WHERE p.rule_id = ANY(%(rules)s) AND p.closed_date IS NULL %(restrict)s %(range)s
    ), diff AS MATERIALIZED (
        SELECT COALESCE(m.rule_id, o.rule_id) AS rule_id,
               COALESCE(m.target_id, o.target_id) AS target_id,
               m.target_id IS NULL AS gone
          FROM matching m
          FULL JOIN open_lines o ON o.rule_id = m.rule_id AND o.target_id = m.target_id
         WHERE m.target_id IS NULL OR o.target_id IS NULL
    ), closed AS (
        UPDATE lead_scoring_point p
           SET closed_date = %(now)s, is_live = FALSE, write_date = %(now)s
          FROM diff
         WHERE diff.gone AND p.rule_id = diff.rule_id AND p.closed_date IS NULL
           AND p.%(column)s = diff.target_id
        RETURNING p.%(column)s AS target_id
    ), opened AS (
        INSERT INTO lead_scoring_point (
            model_id, rule_id, %(column)s, points, multiplier, source, reason,
            date, expire_date, is_live, create_date, write_date)
        SELECT %(model)s, diff.rule_id, diff.target_id, terms.points, 1.0, 'rule',
               terms.reason, %(now)s, terms.expire_date, terms.is_live, %(now)s, %(now)s
          FROM diff JOIN terms ON terms.rule_id = diff.rule_id
         WHERE NOT diff.gone
         ORDER BY diff.target_id
        ON CONFLICT DO NOTHING
        RETURNING %(column)s AS target_id
    ), queued AS (%(queue)s)
    SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM opened)
"""


def rule_diff_sql(rules, awards, matching, now, changed_ids=None, *, id_range=None):
    """One statement that opens a line for each record that started matching
    one of ``rules``, closes the line of each record that stopped, and queues
    both for a score refresh (unless the whole model is refreshed anyway).

    The matches and the rules' open lines are each read once (materialized)
    and diffed with one full hash join: a plan that stays linear even when the
    ledger's statistics are stale (a nested loop over a ledger "known" to be
    empty turns quadratic as the statement fills it). The two data-modifying
    parts touch disjoint lines, so one snapshot serves both. New lines are
    inserted in record order: the foreign-key checks and index insertions
    then walk the scored and ledger tables in order rather than at random (a
    tenth faster when they fit in memory, more when they do not). Returns one
    row: ``(closed count, opened count)``.

    Rule lines are the engine's: they name no user. A user column would cost
    a foreign-key check per line, a third of a cold run's millions of lines.

    :param rules: rules of one scoring model
    :param awards: ``[(rule id, points, reason, expiry or False)]``, one per rule
    :param matching: SQL of ``(rule id, record id)``: each record that matches
        a rule (once), restricted like the lines by ``changed_ids`` and ``id_range``
    :param changed_ids: evaluate only these records (None: every record)
    :param id_range: ``(low, high)``: evaluate only the records whose id is
        from ``low`` (included) to ``high`` (excluded), either None for no
        bound. Ranges that cover every id add up to one evaluation of every
        record (jobs of ``lead_scoring_queue_job`` split a full evaluation so).
    """
    scoring_model = rules.model_id
    scoring_model.ensure_one()
    column = SQL.identifier(scoring_model._target().column)
    terms = SQL(", ").join(
        SQL(
            "(%s, %s::float8, %s::varchar, %s::timestamp, %s)",
            rule_id,
            points,
            reason,
            expire_date or None,
            not expire_date or expire_date > now,
        )
        for rule_id, points, reason, expire_date in awards
    )
    return SQL(
        RULE_DIFF_STATEMENT,
        queue=rules.env["lead.scoring.refresh"]._insert_sql(
            scoring_model,
            SQL("SELECT target_id FROM closed UNION SELECT target_id FROM opened"),
        ),
        terms=terms,
        match=matching,
        column=column,
        rules=rules.ids,
        restrict=restrict_sql(SQL("p.%s", column), changed_ids),
        range=id_range_sql(SQL("p.%s", column), id_range),
        model=scoring_model.id,
        now=now,
    )


def win_probability_sql(scoring_model, score):
    """The win probability (percent) of ``score`` under the calibration the
    scoring lab stored on the model, or SQL NULL when no lab was applied.

    :param score: SQL of the score
    """
    if not scoring_model.date_lab_applied:
        return SQL("NULL::float8")
    return calibrated_probability_sql(
        scoring_model.win_calibration_intercept, scoring_model.win_calibration_slope, score
    )


def calibrated_probability_sql(intercept, slope, score):
    """The win probability (percent) of ``score`` under the calibration
    ``intercept`` + ``slope`` x score of the log-odds (values or SQL)."""
    # The log-odds are kept within ±35 so that exp() cannot overflow.
    return SQL(
        "ROUND((100.0 / (1.0 + exp(-LEAST(GREATEST(%s + %s * %s, -35.0), 35.0))))::numeric, 2)"
        "::float8",
        intercept,
        slope,
        score,
    )


# The statement of ``refresh_scores_sql``.
REFRESH_SCORES_STATEMENT = """
    WITH new_lines(target_id, points) AS (%(new_lines)s),
    expired AS (
        UPDATE lead_scoring_point p SET is_live = FALSE
         WHERE p.model_id = %(model)s AND p.closed_date IS NULL AND p.is_live
           AND p.expire_date <= %(now)s %(restrict_lines)s %(range_lines)s
    ), computed AS (
        SELECT totals.*, ROUND((%(score)s)::numeric, 4)::float8 AS score
          FROM (%(totals)s) totals
    ), valued AS (
        SELECT computed.*, %(band)s AS band_id, %(win)s AS win_probability
          FROM computed
    )
    INSERT INTO lead_scoring_score AS s (
        model_id, %(column)s, score, band_id, win_probability, date_last_change)
    SELECT %(model)s, valued.target_id, valued.score, valued.band_id,
           valued.win_probability, %(now)s
      FROM valued
     -- Unchanged scores are left out here rather than by the conflict
     -- clause, which would still look each one up and lock it.
     WHERE NOT valued.has_row
        OR valued.score IS DISTINCT FROM valued.old_score
        OR valued.band_id IS DISTINCT FROM valued.old_band
        OR valued.win_probability IS DISTINCT FROM valued.old_win
    ON CONFLICT (model_id, %(column)s) DO UPDATE
       SET score = EXCLUDED.score,
           band_id = EXCLUDED.band_id,
           win_probability = EXCLUDED.win_probability,
           date_last_change = CASE WHEN s.score IS DISTINCT FROM EXCLUDED.score
                                   THEN EXCLUDED.date_last_change
                                   ELSE s.date_last_change END
     WHERE s.score IS DISTINCT FROM EXCLUDED.score
        OR s.band_id IS DISTINCT FROM EXCLUDED.band_id
        OR s.win_probability IS DISTINCT FROM EXCLUDED.win_probability
    RETURNING s.%(column)s, s.score, s.band_id
"""


def refresh_scores_sql(
    scoring_model, now, bands, target_ids=None, new_lines=None, *, id_range=None
):
    """One statement that re-sums scores from the live lines: it marks the
    lines whose expiry has come as no longer live, gives each score its band
    and its win probability, writes only the scores whose value, band or
    probability changed and returns them as ``(target_id, score, band_id)``.

    :param bands: the model's bands (``model_bands``), or None to look each
        score's band up (``band_sql``)
    :param target_ids: only these records (default: every record of the model)
    :param new_lines: data-modifying SQL that inserts ledger lines and
        returns ``(target_id, points)``: they count in the same statement
    :param id_range: only the records of this id range (see ``id_range_sql``)
    """
    column = SQL.identifier(scoring_model._target().column)
    own_points = SQL("COALESCE(totals.total, 0.0)")
    if scoring_model.rollup != "none":
        # A company's score: its own points plus the roll-up of its contacts
        # (kept on its score row by ``rollup_sql``).
        own_points = SQL("%s + COALESCE(totals.rollup, 0.0)", own_points)
    computed_score = model_clamp_sql(scoring_model, own_points)
    return SQL(
        REFRESH_SCORES_STATEMENT,
        column=column,
        model=scoring_model.id,
        now=now,
        new_lines=new_lines or SQL("SELECT NULL::int, NULL::float8 WHERE FALSE"),
        totals=score_totals_sql(
            scoring_model,
            now,
            target_ids,
            SQL("SELECT target_id, points FROM new_lines"),
            id_range=id_range,
        ),
        score=computed_score,
        band=band_sql(scoring_model.id, SQL("computed.score"))
        if bands is None
        else band_case_sql(bands, SQL("computed.score")),
        win=win_probability_sql(scoring_model, SQL("computed.score")),
        restrict_lines=restrict_sql(SQL("p.%s", column), target_ids),
        range_lines=id_range_sql(SQL("p.%s", column), id_range),
    )


def closed_opportunities_sql(date_from=None, date_to=None):
    """``(lead_id, partner_id, company_id, team_id, lead_grade, user_id,
    date_closed, is_won, expected_revenue)`` of the opportunities closed:
    won = in a won stage, lost = archived with probability 0 (what crm's
    "Lost" does); optionally only
    those closed from ``date_from`` (included) to ``date_to`` (excluded).

    Shared by the conversion report, the scoring lab and the model health.
    """
    window = SQL()
    if date_from:
        window = SQL("%s AND l.date_closed >= %s", window, date_from)
    if date_to:
        window = SQL("%s AND l.date_closed < %s", window, date_to)
    return SQL(
        """
        SELECT l.id AS lead_id, l.partner_id, l.company_id, l.team_id, l.lead_grade,
               l.user_id, l.date_closed, COALESCE(st.is_won, FALSE) AS is_won,
               l.expected_revenue
          FROM crm_lead l
          LEFT JOIN crm_stage st ON st.id = l.stage_id
         WHERE l.type = 'opportunity' AND l.date_closed IS NOT NULL
           AND (st.is_won OR (NOT l.active AND l.probability = 0)) %s
        """,
        window,
    )


def score_at_sql(model_id, record_match, moment):
    """Scalar subquery: a record's score in a scoring model just before a
    past ``moment`` (a closing), rebuilt from the ledger: the sum of its lines
    dated before it that were still live then (no decay; clamp it with
    ``clamp_sql``).

    Lines dated at the moment or later are left out: points given when a deal
    is won are a consequence of the outcome. Lines closed or expiring at the
    moment or later still count: a lost deal is archived and leaves its
    rules, which is the outcome too. Every judgement of a model on history
    (conversion report, lab, model health, calibration, preview) uses this.

    :param model_id: an id, or SQL naming a column
    :param record_match: SQL condition on the ledger line ``p`` naming the record
    :param moment: SQL of the moment
    """
    return SQL(
        """(SELECT COALESCE(SUM(p.points), 0.0)
              FROM lead_scoring_point p
             WHERE p.model_id = %(model)s AND %(record)s
               AND p.date < %(moment)s
               AND (p.closed_date IS NULL OR p.closed_date >= %(moment)s)
               AND (p.expire_date IS NULL OR p.expire_date >= %(moment)s))""",
        model=model_id,
        record=record_match,
        moment=moment,
    )


def primary_model_sql(records, candidates, target_ids=None, id_range=None):
    """``(id, model_id)``: each record with the scoring model that gives its
    primary score, the first candidate whose company fits and whose segment
    matches (see ``lead.scoring.mixin._lead_scoring_primary_candidates``).

    :param records: the scored model, archived records included
    :param target_ids: only these records (default: every record)
    :param id_range: only the records of this id range (see ``id_range_sql``)
    """
    branches = []
    for rank, (model_id, company_id, segment) in enumerate(candidates):
        domain = list(segment or [])
        if company_id:
            domain = expression.AND([domain, [("company_id", "=", company_id)]])
        query = records._search(domain)
        if id_range is not None:
            record_id = SQL.identifier(records._table, "id")
            query.add_where(SQL("TRUE %s", id_range_sql(record_id, id_range)))
        if target_ids is not None:
            query.add_where(
                SQL("%s = ANY(%s)", SQL.identifier(records._table, "id"), list(target_ids))
            )
        branches.append(
            SQL(
                "SELECT %s AS rank, %s AS model_id, q.id FROM (%s) q",
                rank,
                model_id,
                query.select("id"),
            )
        )
    if not branches:
        return SQL("SELECT NULL::int AS id, NULL::int AS model_id WHERE FALSE")
    if len(branches) == 1:
        return SQL("SELECT id, model_id FROM (%s) c", branches[0])
    return SQL(
        "SELECT DISTINCT ON (id) id, model_id FROM (%s) c ORDER BY id, rank",
        SQL(" UNION ALL ").join(branches),
    )


def primary_score_changes_sql(
    records, candidates, target_ids=None, only_model_id=None, id_range=None
):
    """``(ARRAY[score, band], ids)`` per value: the records of a target whose
    primary score or band differ from their score in their primary model (0
    and no band when no model scores them).

    :param records: the scored model, archived records included
    :param target_ids: only these records (default: every record)
    :param only_model_id: only the records whose primary model it is
    :param id_range: only the records of this id range (see ``id_range_sql``)
    """
    only_model = SQL()
    if only_model_id is not None:
        only_model = SQL("AND p.model_id = %s", only_model_id)
    return SQL(
        """
        WITH primary_model AS MATERIALIZED (%(primary)s)
        SELECT ARRAY[new_score, new_band], array_agg(id ORDER BY id) FROM (
            SELECT t.id, COALESCE(s.score, 0.0) AS new_score,
                   s.band_id::float8 AS new_band,
                   COALESCE(t.%(score_field)s, 0.0) AS old_score,
                   t.%(band_field)s::float8 AS old_band
              FROM %(table)s t
              LEFT JOIN primary_model p ON p.id = t.id
              LEFT JOIN lead_scoring_score s
                     ON s.model_id = p.model_id AND s.%(column)s = t.id
             WHERE TRUE %(restrict)s %(range)s %(only_model)s
        ) changes
         WHERE new_score IS DISTINCT FROM old_score
            OR new_band IS DISTINCT FROM old_band
         GROUP BY new_score, new_band
        """,
        primary=primary_model_sql(records, candidates, target_ids, id_range),
        score_field=SQL.identifier(records._lead_scoring_score_field),
        band_field=SQL.identifier(records._lead_scoring_band_field),
        table=SQL.identifier(records._table),
        column=SQL.identifier(records._lead_scoring_column),
        restrict=restrict_sql(SQL("t.id"), target_ids),
        range=id_range_sql(SQL("t.id"), id_range),
        only_model=only_model,
    )
