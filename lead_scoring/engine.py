"""The scoring engine: what a recompute does, in which order, and the SQL it sends.

The models keep the data (the ledger ``lead.scoring.point``, the scores, the
change and refresh queues, the threshold crossings) and the small statements
that touch only their own table; this module owns the run order and the SQL
builders they share: band, clamp, decay, live totals and the rule diff. The
words used here (target, scored record, ledger line, open/closed, live,
change queue, refresh queue, primary score, crossing) are defined in
``readme/CONTRIBUTE.md``, with a diagram of a run.
"""

import logging
import threading
import time
from datetime import timedelta
from functools import partial
from typing import NamedTuple

from odoo import fields
from odoo.osv import expression
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# pg_advisory_lock key that keeps two recomputes of one database apart ("LSRC").
RECOMPUTE_LOCK_KEY = 0x4C535243

# Above this many changed records, and this share of all records, rules are
# evaluated on every record: one scan beats looking up that many records.
FULL_EVALUATION_MIN_CHANGES = 1000
FULL_EVALUATION_SHARE = 0.2

# Every record is evaluated again by every rule about this often, even a rule
# evaluated on changed records only: a safety net for data changed behind the
# ORM's back (SQL imports). Spread over the interval in this many slices of
# ids, one due at a time (``lead.scoring.model._safety_net_range``).
FULL_EVALUATION_INTERVAL = timedelta(days=1)
SAFETY_NET_SLICES = 6

# Contact fields a roll-up depends on besides its contacts' scores, and how
# many levels of companies of companies it follows.
ROLLUP_WATCHED = ("parent_id", "is_company")
ROLLUP_MAX_DEPTH = 5

# A run refreshes the statistics of these tables when a tenth of their rows
# changed since they were last analysed: the plans of the rule diff depend on them.
ANALYZED_TABLES = ("lead_scoring_point", "lead_scoring_score")
# A refresh writing at least this many scores re-analyses the score table at once.
ANALYZE_AFTER_ROWS = 10_000


# ----------------------------------------------------------------------
# Targets: the Odoo models that are scored
# ----------------------------------------------------------------------


class Target(NamedTuple):
    """A scored Odoo model, as it declares itself by inheriting ``lead.scoring.mixin``."""

    key: str  # value of lead.scoring.model.target: "contact", "deal"
    model_name: str  # "res.partner"
    column: str  # its column in the ledger and score tables: "partner_id"
    score_field: str  # its primary score field: "contact_score"
    band_field: str  # its primary band field: "contact_band_id"
    sequence: int  # run order: contacts before deals (their thresholds create deals)


def registered_targets(env):
    """``{key: Target}`` of the scored models, in run order (cached per registry)."""
    return env["lead.scoring.model"]._registered_targets()


def find_targets(registry):
    """``{key: Target}`` of the models of ``registry`` that declare a target, in run order."""
    found = []
    for model_name in registry:
        model_class = registry[model_name]
        key = getattr(model_class, "_lead_scoring_target", None)
        if isinstance(key, str) and not model_class._abstract:
            found.append(
                Target(
                    key,
                    model_name,
                    model_class._lead_scoring_column,
                    model_class._lead_scoring_score_field,
                    model_class._lead_scoring_band_field,
                    model_class._lead_scoring_sequence,
                )
            )
    return {target.key: target for target in sorted(found, key=lambda t: (t.sequence, t.key))}


# ----------------------------------------------------------------------
# SQL builders
# ----------------------------------------------------------------------


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
    """``(target_id, total, rollup)``: for each record with live lines or a
    score row, the sum of its live lines and the roll-up kept on its score row.

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
        SELECT target_id, SUM(value) AS total, SUM(rollup) AS rollup FROM (
            SELECT p.%(column)s AS target_id, %(value)s AS value, NULL::float8 AS rollup
              FROM lead_scoring_point p
             WHERE p.model_id = %(model)s AND p.closed_date IS NULL
               AND (p.expire_date IS NULL OR p.expire_date > %(now)s) %(restrict_lines)s
               %(range_lines)s
             UNION ALL
            SELECT extra.target_id, extra.points, NULL::float8
              FROM (%(extra_lines)s) extra(target_id, points)
             UNION ALL
            SELECT s.%(column)s, 0.0, s.rollup_score
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
        restrict_scores=restrict_sql(SQL("s.%s", column), target_ids),
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
        """
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
        """,
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


def refresh_scores_sql(scoring_model, now, target_ids=None, new_lines=None, id_range=None):
    """One statement that re-sums scores from the live lines: it marks the
    lines whose expiry has come as no longer live, gives each score its band
    and its win probability, writes only the scores whose value, band or
    probability changed and returns them as ``(target_id, score, band_id)``.

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
        """
        WITH new_lines(target_id, points) AS (%(new_lines)s),
        expired AS (
            UPDATE lead_scoring_point p SET is_live = FALSE
             WHERE p.model_id = %(model)s AND p.closed_date IS NULL AND p.is_live
               AND p.expire_date <= %(now)s %(restrict_lines)s %(range_lines)s
        ), computed AS (
            SELECT totals.target_id, ROUND((%(score)s)::numeric, 4)::float8 AS score
              FROM (%(totals)s) totals
        )
        INSERT INTO lead_scoring_score AS s (
            model_id, %(column)s, score, band_id, win_probability, date_last_change)
        SELECT %(model)s, computed.target_id, computed.score, %(band)s, %(win)s, %(now)s
          FROM computed
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
        """,
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
        band=band_sql(scoring_model.id, SQL("computed.score")),
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


ROLLUP_AGGREGATES = {"sum": "SUM", "max": "MAX", "average": "AVG"}


def rollup_sql(scoring_model, company_ids):
    """One statement that sets the roll-up part of these companies' scores
    (the aggregate of the scores of their active contacts, 0 for a contact
    without one) and returns the companies whose part changed."""
    return SQL(
        """
        WITH companies AS (
            SELECT p.id FROM res_partner p WHERE p.id = ANY(%(companies)s) AND p.is_company
        ), aggregated AS (
            SELECT c.id, COALESCE(%(aggregate)s(COALESCE(s.score, 0.0)), 0.0) AS rollup
              FROM companies c
              LEFT JOIN res_partner child ON child.parent_id = c.id AND child.active
              LEFT JOIN lead_scoring_score s
                     ON s.model_id = %(model)s AND s.partner_id = child.id
             GROUP BY c.id
        )
        INSERT INTO lead_scoring_score AS s (model_id, partner_id, score, rollup_score)
        SELECT %(model)s, aggregated.id, 0.0, ROUND(aggregated.rollup::numeric, 4)::float8
          FROM aggregated
        ON CONFLICT (model_id, partner_id) DO UPDATE
           SET rollup_score = EXCLUDED.rollup_score
         WHERE s.rollup_score IS DISTINCT FROM EXCLUDED.rollup_score
        RETURNING s.partner_id
        """,
        companies=list(company_ids),
        aggregate=SQL(ROLLUP_AGGREGATES[scoring_model.rollup]),
        model=scoring_model.id,
    )


def rollup_companies_sql(partner_ids):
    """The companies whose roll-up these contacts feed: their parents, and
    those of them that are companies themselves."""
    return SQL(
        """
        SELECT p.parent_id FROM res_partner p
         WHERE p.id = ANY(%(ids)s) AND p.parent_id IS NOT NULL
         UNION
        SELECT p.id FROM res_partner p WHERE p.id = ANY(%(ids)s) AND p.is_company
        """,
        ids=list(partner_ids),
    )


def lead_grade_changes_sql(fit_model_id, engagement_model_id, partner_ids=None):
    """``(grade, ids)`` per value: the contacts whose lead grade differs from
    the one stored. The grade is the code of the fit band followed by the code
    of the engagement band (a model without a score for the contact counts
    its score as 0); contacts scored by neither model, or bands without a
    code, give no grade."""
    return SQL(
        """
        SELECT new_grade, array_agg(id ORDER BY id) FROM (
            SELECT t.id, t.lead_grade,
                   CASE WHEN fs.id IS NOT NULL OR es.id IS NOT NULL
                        THEN fb.code || eb.code END AS new_grade
              FROM res_partner t
              LEFT JOIN lead_scoring_score fs ON fs.model_id = %(fit)s AND fs.partner_id = t.id
              LEFT JOIN lead_scoring_score es
                     ON es.model_id = %(engagement)s AND es.partner_id = t.id
              LEFT JOIN lead_scoring_band fb ON fb.id = %(fit_band)s
              LEFT JOIN lead_scoring_band eb ON eb.id = %(engagement_band)s
             WHERE TRUE %(restrict)s
        ) grades
         WHERE new_grade IS DISTINCT FROM lead_grade
         GROUP BY new_grade
        """,
        fit=fit_model_id,
        engagement=engagement_model_id,
        fit_band=band_sql(fit_model_id, SQL("COALESCE(fs.score, 0.0)")),
        engagement_band=band_sql(engagement_model_id, SQL("COALESCE(es.score, 0.0)")),
        restrict=restrict_sql(SQL("t.id"), partner_ids),
    )


# ----------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------


class Recompute:
    """One recompute of some scoring models, as a list of steps.

    Per target, in run order (contacts first: the deals their thresholds
    create are then scored by the deal models in the same run):

        change queue ─► rule diff (per model) ─► refresh queue ─► scores
        ─► primary score copy ─► thresholds ─► change queue released

    Each step is one set-based statement per rule or per scoring model. With
    ``commit`` (the cron) each step is its own short transaction: no long lock
    on the ledger, and a run that dies half-way leaves committed steps that
    the next run completes, since every step recomputes from the ledger and
    the data as they are.
    """

    def __init__(self, scoring_models, full=False):
        """:param full: evaluate every rule on every record ("Recompute now")"""
        # Drafts score nothing: no run, job or refresh ever takes them.
        scoring_models = scoring_models.filtered(lambda m: m.state != "draft")
        self.scoring_models = scoring_models.with_context(
            lead_scoring_engine=True, lead_scoring_full_evaluation=full
        )
        self.env = self.scoring_models.env
        self.full = full
        self.now = fields.Datetime.now()

    def run(self, commit=False):
        """Run every step; return False when another recompute holds the lock."""
        if not self._lock():
            _logger.info("Lead scoring: another recompute is running, this one skips")
            return False
        try:
            self.env.flush_all()
            if commit:
                self._analyze_stale_tables()
            started = time.monotonic()
            steps = self.steps()
            # Like crm's lead scoring cron: no intermediate commits under tests.
            commit = commit and not getattr(threading.current_thread(), "testing", False)
            for done, step in enumerate(steps, 1):
                step_started = time.monotonic()
                step()
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                    self.env["ir.cron"]._notify_progress(done=done, remaining=len(steps) - done)
                _logger.debug(
                    "Lead scoring: %s.%s took %.3f s",
                    getattr(step.func, "__self__", ""),
                    step.func.__name__,
                    time.monotonic() - step_started,
                )
            _logger.info(
                "Lead scoring: %d models recomputed in %.1f s (%d steps)",
                len(self.scoring_models.filtered("active")),
                time.monotonic() - started,
                len(steps),
            )
        finally:
            self._unlock()
        self.env.invalidate_all()
        return True

    def refresh(self, rewrite):
        """Rewrite the ledger with ``rewrite()`` and refresh every score of the
        scoring models at once, outside a scheduled run, under the recompute
        lock so that no run sees half of it: the scoring lab re-awards the
        open lines of its rules at their new points and changes the win
        probability calibration. Thresholds crossed fire on the next run.

        :return: False when another recompute holds the lock (nothing done)
        """
        if not self._lock():
            return False
        try:
            self.env.flush_all()
            rewrite()
            active = self.scoring_models.filtered("active")
            # Every score: the calibration changes each win probability.
            active._mark_scores_dirty(active.ids)
            for scoring_model in active:
                self._refresh_model(scoring_model)
        finally:
            self._unlock()
        return True

    def steps(self):
        """The run as a list of ``functools.partial``, in order."""
        steps = []
        active = self.scoring_models.filtered("active")
        for target in registered_targets(self.env).values():
            target_models = active.filtered(lambda m, t=target: m.target == t.key)
            steps += self._target_steps(target, target_models)
        steps += [
            partial(self._sync_primary_scores, target)
            for target in registered_targets(self.env).values()
            if target.key in self.scoring_models.mapped("target")
        ]
        return steps

    def _target_steps(self, target, scoring_models):
        if not scoring_models:
            return []
        changes = self.env["lead.scoring.change"]
        steps = [] if self.full else [partial(self._take_changes, target, scoring_models)]
        for scoring_model in scoring_models:
            rules = scoring_model.rule_ids.filtered("active")
            if rules:
                steps.append(partial(rules._evaluate, self.now))
            steps.append(partial(self._refresh_model, scoring_model))
        if len(self.env[target.model_name]._lead_scoring_primary_candidates()) > 1:
            steps.append(partial(self._sync_primary_of_changed, target))
        steps += [
            partial(threshold._fire_thresholds)
            for threshold in scoring_models.threshold_ids
            if threshold.active
        ]
        if not self.full:
            steps.append(partial(changes._release, target.key))
        return steps

    def _take_changes(self, target, scoring_models):
        """Take the records of ``target`` saved since the last run, for the
        rules to evaluate. When they are a large part of all records,
        evaluating the rules on every record is cheaper."""
        changes = self.env["lead.scoring.change"]
        changed = changes._take(target.key)
        total = changes._target_table_size(target.key)
        if changed > max(FULL_EVALUATION_MIN_CHANGES, FULL_EVALUATION_SHARE * total):
            _logger.info(
                "Lead scoring: %d of about %d records changed, rules evaluated on all",
                changed,
                total,
            )
            scoring_models.rule_ids.write({"date_full_evaluation": False})

    def _refresh_model(self, scoring_model):
        """Refresh the scores whose ledger changed, and the primary score of
        their records, in one transaction: a run that dies after it leaves
        nothing half-copied."""
        refresh_all = self._refreshes_all(scoring_model)
        changed, refreshed = self._refresh_scores(scoring_model, refresh_all)
        self._analyze_after(len(changed))
        records = scoring_model._target_records()
        if refresh_all:
            records._lead_scoring_sync_primary_score(scoring_model=scoring_model)
        else:
            records._lead_scoring_sync_primary_score(target_ids=list(changed))
        self._finish_refresh(scoring_model, changed, refresh_all, clear=refreshed)

    def _refreshes_all(self, scoring_model):
        """Whether every score of the model is refreshed, not only those queued:
        many lines changed (a new rule, the lab), or points decay."""
        return bool(scoring_model.scores_dirty or scoring_model.decay_half_life_days)

    def _refresh_scores(self, scoring_model, refresh_all, id_range=None):
        """Refresh the scores of the model, all or those queued, of the records
        in ``id_range`` (None: all); tell their records which changed.

        :return: ``({record id: (score, band id)}, refreshed)`` of the scores
            that changed, and whether any score was refreshed
        """
        scores = self.env["lead.scoring.score"]
        target_ids = None
        if refresh_all:
            changed = scores._refresh_scores(scoring_model, self.now, id_range=id_range)
        else:
            target_ids = scores._targets_to_refresh(scoring_model, self.now, id_range)
            changed = {}
            if target_ids:
                changed = scores._refresh_scores(scoring_model, self.now, target_ids)
        if changed:
            scoring_model._target_records()._lead_scoring_scores_changed(
                scoring_model, list(changed)
            )
        return changed, bool(refresh_all or target_ids)

    def _finish_refresh(self, scoring_model, changed, refresh_all, clear=True, every_company=False):
        """What follows a model's refresh: its refresh flag and queue cleared,
        the roll-up of its contacts into their companies (those of the
        contacts in ``changed``, or ``every_company``)."""
        if refresh_all:
            scoring_model.scores_dirty = False
        if clear:
            self.env["lead.scoring.refresh"]._clear(scoring_model)
        if scoring_model.rollup != "none":
            rolled = self._refresh_rollup(scoring_model, set(changed), refresh_all or every_company)
            if rolled:
                scoring_model._target_records()._lead_scoring_scores_changed(
                    scoring_model, list(rolled)
                )
            changed = {**changed, **rolled}
        _logger.info(
            "Lead scoring: model %s recomputed, %d scores changed", scoring_model.id, len(changed)
        )
        scoring_model.date_last_recompute = self.now

    def _refresh_range(self, scoring_model, id_range):
        """Refresh the model's scores of the records in ``id_range``: one part
        of a refresh split by id (jobs of ``lead_scoring_queue_job``), which
        ``_finish_split_refresh`` completes once every part is done."""
        return self._refresh_scores(scoring_model, self._refreshes_all(scoring_model), id_range)[0]

    def _finish_split_refresh(self, scoring_model):
        """Complete a refresh done in id ranges (``_refresh_range``): the
        score table's statistics, then the flag, the queue and the roll-up of
        every company (which scores changed is not known here). The primary
        scores are copied next, range by range (``_sync_primary_range``)."""
        self.env["lead.scoring.score"].flush_model()
        self.env.cr.execute(SQL("ANALYZE lead_scoring_score"))
        refresh_all = self._refreshes_all(scoring_model)
        self._finish_refresh(scoring_model, {}, refresh_all, every_company=True)

    def _sync_primary_range(self, scoring_model, id_range):
        """Copy the primary score of the records in ``id_range`` whose primary
        model is ``scoring_model`` (after a refresh split by id)."""
        scoring_model._target_records()._lead_scoring_sync_primary_score(
            scoring_model=scoring_model, id_range=id_range
        )

    def _refresh_rollup(self, scoring_model, changed_ids, every_company=False):
        """Roll the scores of contacts up into their companies' scores: the
        companies of the contacts whose score changed or that were saved
        (moved, archived; their former company is queued when they move),
        level by level up a hierarchy of companies.

        :return: ``{company id: (score, band id)}`` of the totals that changed
        """
        cr = self.env.cr
        scores = self.env["lead.scoring.score"]
        if self.full or every_company:
            cr.execute(SQL("SELECT id FROM res_partner WHERE is_company"))
        else:
            saved = self.env["lead.scoring.change"]._taken_ids(
                "contact", {*ROLLUP_WATCHED, "active", "child_ids"}
            )
            cr.execute(rollup_companies_sql(changed_ids | set(saved)))
        company_ids = {row[0] for row in cr.fetchall()}
        changed = {}
        for _level in range(ROLLUP_MAX_DEPTH):
            if not company_ids:
                break
            scores.flush_model()
            cr.execute(rollup_sql(scoring_model, company_ids))
            moved = [row[0] for row in cr.fetchall()]
            scores.invalidate_model(["rollup_score"])
            totals = scores._refresh_scores(scoring_model, self.now, moved) if moved else {}
            scoring_model._target_records()._lead_scoring_sync_primary_score(
                target_ids=list(totals)
            )
            changed.update(totals)
            if not totals:
                break
            cr.execute(rollup_companies_sql(set(totals)))
            company_ids = {row[0] for row in cr.fetchall()} - set(totals)
        return changed

    def _sync_primary_of_changed(self, target):
        """Which scoring model gives a record its primary score depends on the
        record (its company, the segments): copy it again for the records
        saved since the last run, or for every record in a full run."""
        records = self.env[target.model_name].sudo()
        if self.full:
            records._lead_scoring_sync_primary_score()
            return
        watched = self.env["lead.scoring.rule"]._active_triggers()[0].get(target.key, ())
        changed_ids = self.env["lead.scoring.change"]._taken_ids(target.key, watched)
        if changed_ids:
            records._lead_scoring_sync_primary_score(target_ids=changed_ids)

    def _sync_primary_scores(self, target):
        """Copy every record's primary score again when which scoring model
        gives it changed (a model added, archived, reordered or moved to
        another company) since the last run: the changes flag the scoring
        models of the target in the transaction that makes them. Otherwise
        each refresh has copied the scores it changed already."""
        if self.scoring_models.filtered(
            lambda m: m.target == target.key and m.primary_sync_pending
        ):
            self.env[target.model_name].sudo()._lead_scoring_sync_primary_score()
            self.env["lead.scoring.model"]._flag_primary_sync([target.key], False)

    def _analyze_stale_tables(self):
        """Refresh the statistics of the ledger and score tables when a tenth of
        their rows changed since they were last analysed: autovacuum may not
        have come by since a big run (or may have looked in the middle of one)."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT relname FROM pg_stat_user_tables
                 WHERE relname = ANY(%s)
                   AND n_mod_since_analyze > 0.1 * GREATEST(n_live_tup, 1000)
                """,
                list(ANALYZED_TABLES),
            )
        )
        for (table,) in cr.fetchall():
            cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))

    def _analyze_after(self, written):
        """Refresh the score table's statistics right after a refresh wrote
        many rows: the primary score copy that follows joins the scores, and
        with statistics that still say "no score for this model yet"
        PostgreSQL picks a nested loop that is quadratic (57 s instead of
        0.3 s for 37,000 deals). The run's own writes reach the statistics
        collector only at commit, too late for the next statement."""
        if written >= ANALYZE_AFTER_ROWS:
            self.env["lead.scoring.score"].flush_model()
            self.env.cr.execute(SQL("ANALYZE lead_scoring_score"))

    def _lock(self):
        """Take the recompute lock of this database, or return False if taken.

        A session-level advisory lock: it outlives the run's intermediate
        commits, and PostgreSQL releases it if the worker dies.
        """
        self.env.cr.execute(SQL("SELECT pg_try_advisory_lock(%s)", RECOMPUTE_LOCK_KEY))
        return self.env.cr.fetchone()[0]

    def _unlock(self):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s)", RECOMPUTE_LOCK_KEY))
