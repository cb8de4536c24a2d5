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
from functools import partial
from typing import NamedTuple

from odoo import fields
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# pg_advisory_lock key that keeps two recomputes of one database apart ("LSRC").
RECOMPUTE_LOCK_KEY = 0x4C535243

# Above this many changed records, and this share of all records, rules are
# evaluated on every record: one scan beats looking up that many records.
FULL_EVALUATION_MIN_CHANGES = 1000
FULL_EVALUATION_SHARE = 0.2

# A run refreshes the statistics of these tables when a tenth of their rows
# changed since they were last analysed: the plans of the rule diff depend on them.
ANALYZED_TABLES = ("lead_scoring_point", "lead_scoring_score")


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


def live_totals_sql(scoring_model, now, target_ids=None, extra_lines=None):
    """``(target_id, total)``: the sum of each scored record's live lines.

    :param target_ids: only these records (default: every record of the model)
    :param extra_lines: SQL returning ``(target_id, points)`` of lines that
        count too (inserted by the same statement, whose snapshot does not
        see its own inserts)
    """
    column = SQL.identifier(scoring_model._target().column)
    return SQL(
        """
        SELECT target_id, SUM(value) AS total FROM (
            SELECT p.%(column)s AS target_id, %(value)s AS value
              FROM lead_scoring_point p
             WHERE p.model_id = %(model)s AND p.closed_date IS NULL
               AND (p.expire_date IS NULL OR p.expire_date > %(now)s) %(restrict)s
             UNION ALL
            %(extra_lines)s
        ) lines
         GROUP BY target_id
        """,
        column=column,
        value=decayed_points_sql(scoring_model, now),
        model=scoring_model.id,
        now=now,
        restrict=restrict_sql(SQL("p.%s", column), target_ids),
        extra_lines=extra_lines or SQL("SELECT NULL::int, NULL::float8 WHERE FALSE"),
    )


def restrict_sql(column, ids):
    """``AND column = ANY(ids)``, or nothing when ``ids`` is None (all records).

    A list rather than a subquery: PostgreSQL then knows how few they are
    and probes an index for each instead of scanning the table.
    """
    if ids is None:
        return SQL()
    return SQL("AND %s = ANY(%s)", column, list(ids))


def rule_diff_sql(rule, match_query, now, expire_date, changed_ids=None):
    """One statement that opens a line for each record that started matching
    ``rule``, closes the line of each record that stopped, and queues both
    for a score refresh (unless the whole model is refreshed anyway).

    The matching records and the rule's open lines are each read once
    (materialized) and diffed with hash set operations: a plan that stays
    linear even when the ledger's statistics are stale (a nested loop over a
    ledger "known" to be empty turns quadratic as the statement fills it).
    The two data-modifying parts touch disjoint records, so one snapshot
    serves both. Returns one row: ``(closed count, opened count)``.

    :param match_query: the rule's records (``Query`` of ids)
    :param changed_ids: evaluate only these records (None: every record)
    """
    scoring_model = rule.model_id
    column = SQL.identifier(scoring_model._target().column)
    return SQL(
        """
        WITH matching AS MATERIALIZED (%(match)s),
        open_lines AS MATERIALIZED (
            SELECT p.id, p.%(column)s AS target_id
              FROM lead_scoring_point p
             WHERE p.rule_id = %(rule)s AND p.closed_date IS NULL %(restrict)s
        ), closed AS (
            UPDATE lead_scoring_point p
               SET closed_date = %(now)s, is_live = FALSE,
                   write_date = %(now)s, write_uid = %(uid)s
              FROM (SELECT target_id FROM open_lines
                    EXCEPT SELECT id FROM matching) gone
             WHERE p.rule_id = %(rule)s AND p.closed_date IS NULL
               AND p.%(column)s = gone.target_id
            RETURNING p.%(column)s AS target_id
        ), opened AS (
            INSERT INTO lead_scoring_point (
                model_id, rule_id, %(column)s, points, source, reason,
                date, expire_date, is_live,
                create_uid, create_date, write_uid, write_date)
            SELECT %(model)s, %(rule)s, new.id, %(points)s, 'rule', %(reason)s,
                   %(now)s, %(expire)s, %(live)s,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM (SELECT id FROM matching EXCEPT SELECT target_id FROM open_lines) new
            ON CONFLICT DO NOTHING
            RETURNING %(column)s AS target_id
        ), queued AS (%(queue)s)
        SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM opened)
        """,
        queue=rule.env["lead.scoring.refresh"]._insert_sql(
            scoring_model,
            SQL("SELECT target_id FROM closed UNION SELECT target_id FROM opened"),
        ),
        match=match_query,
        column=column,
        restrict=restrict_sql(SQL("p.%s", column), changed_ids),
        model=scoring_model.id,
        rule=rule.id,
        points=rule.points,
        reason=rule._reason(),
        now=now,
        expire=expire_date or None,
        live=not expire_date or expire_date > now,
        uid=rule.env.uid,
    )


def win_probability_sql(scoring_model, score):
    """The win probability (percent) of ``score`` under the calibration the
    scoring lab stored on the model, or SQL NULL when no lab was applied.

    :param score: SQL of the score
    """
    if not scoring_model.date_lab_applied:
        return SQL("NULL::float8")
    # The log-odds are kept within ±35 so that exp() cannot overflow.
    return SQL(
        "ROUND((100.0 / (1.0 + exp(-LEAST(GREATEST(%s + %s * %s, -35.0), 35.0))))::numeric, 2)"
        "::float8",
        scoring_model.win_calibration_intercept,
        scoring_model.win_calibration_slope,
        score,
    )


def refresh_scores_sql(scoring_model, now, target_ids=None, new_lines=None):
    """One statement that re-sums scores from the live lines: it marks the
    lines whose expiry has come as no longer live, gives each score its band
    and its win probability, writes only the scores whose value, band or
    probability changed and returns them as ``(target_id, score, band_id)``.

    :param target_ids: only these records (default: every record of the model)
    :param new_lines: data-modifying SQL that inserts ledger lines and
        returns ``(target_id, points)``: they count in the same statement
    """
    column = SQL.identifier(scoring_model._target().column)
    computed_score = model_clamp_sql(scoring_model, SQL("COALESCE(live.total, 0.0)"))
    return SQL(
        """
        WITH new_lines(target_id, points) AS (%(new_lines)s),
        expired AS (
            UPDATE lead_scoring_point p SET is_live = FALSE
             WHERE p.model_id = %(model)s AND p.closed_date IS NULL AND p.is_live
               AND p.expire_date <= %(now)s %(restrict_lines)s
        ), live AS (%(live)s),
        candidate AS (
            SELECT target_id FROM live
             UNION
            SELECT s.%(column)s FROM lead_scoring_score s
             WHERE s.model_id = %(model)s %(restrict_scores)s
        ), computed AS (
            SELECT candidate.target_id, ROUND((%(score)s)::numeric, 4)::float8 AS score
              FROM candidate LEFT JOIN live ON live.target_id = candidate.target_id
        )
        INSERT INTO lead_scoring_score AS s (
            model_id, %(column)s, score, band_id, win_probability, date_last_change,
            create_uid, create_date, write_uid, write_date)
        SELECT %(model)s, computed.target_id, computed.score, %(band)s, %(win)s,
               %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
          FROM computed
        ON CONFLICT (model_id, %(column)s) DO UPDATE
           SET score = EXCLUDED.score,
               band_id = EXCLUDED.band_id,
               win_probability = EXCLUDED.win_probability,
               date_last_change = CASE WHEN s.score IS DISTINCT FROM EXCLUDED.score
                                       THEN EXCLUDED.date_last_change
                                       ELSE s.date_last_change END,
               write_uid = EXCLUDED.write_uid,
               write_date = EXCLUDED.write_date
         WHERE s.score IS DISTINCT FROM EXCLUDED.score
            OR s.band_id IS DISTINCT FROM EXCLUDED.band_id
            OR s.win_probability IS DISTINCT FROM EXCLUDED.win_probability
        RETURNING s.%(column)s, s.score, s.band_id
        """,
        column=column,
        model=scoring_model.id,
        now=now,
        uid=scoring_model.env.uid,
        new_lines=new_lines or SQL("SELECT NULL::int, NULL::float8 WHERE FALSE"),
        live=live_totals_sql(
            scoring_model, now, target_ids, SQL("SELECT target_id, points FROM new_lines")
        ),
        score=computed_score,
        band=band_sql(scoring_model.id, SQL("computed.score")),
        win=win_probability_sql(scoring_model, SQL("computed.score")),
        restrict_lines=restrict_sql(SQL("p.%s", column), target_ids),
        restrict_scores=restrict_sql(SQL("s.%s", column), target_ids),
    )


def closed_opportunities_sql(date_from=None, date_to=None):
    """``(lead_id, partner_id, company_id, team_id, user_id, date_closed,
    is_won)`` of the opportunities closed: won = in a won stage, lost =
    archived with probability 0 (what crm's "Lost" does); optionally only
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
        SELECT l.id AS lead_id, l.partner_id, l.company_id, l.team_id,
               l.user_id, l.date_closed, COALESCE(st.is_won, FALSE) AS is_won
          FROM crm_lead l
          LEFT JOIN crm_stage st ON st.id = l.stage_id
         WHERE l.type = 'opportunity' AND l.date_closed IS NOT NULL
           AND (st.is_won OR (NOT l.active AND l.probability = 0)) %s
        """,
        window,
    )


def score_at_sql(model_id, record_match, moment):
    """Scalar subquery: a record's score in a scoring model at a past
    ``moment``, rebuilt from the ledger: the sum of its lines dated at or
    before it that were neither closed nor expired by then (no decay; clamp
    it with ``clamp_sql``).

    :param model_id: an id, or SQL naming a column
    :param record_match: SQL condition on the ledger line ``p`` naming the record
    :param moment: SQL of the moment
    """
    return SQL(
        """(SELECT COALESCE(SUM(p.points), 0.0)
              FROM lead_scoring_point p
             WHERE p.model_id = %(model)s AND %(record)s
               AND p.date <= %(moment)s
               AND (p.closed_date IS NULL OR p.closed_date > %(moment)s)
               AND (p.expire_date IS NULL OR p.expire_date > %(moment)s))""",
        model=model_id,
        record=record_match,
        moment=moment,
    )


def primary_score_changes_sql(records, shared, per_company, restrict):
    """``(ARRAY[score, band], ids)`` per value: the records of a target whose
    primary score or band differ from their score in their primary model.

    :param records: the scored model (empty recordset)
    :param shared: id of the primary model of records of companies not listed
    :param per_company: ``((company id, primary model id), ...)``
    :param restrict: SQL filter on ``t`` (the records) and ``pc.model_id``
    """
    if per_company:
        per_company_sql = SQL(
            "VALUES %s",
            SQL(", ").join(SQL("(%s::int, %s::int)", c, m) for c, m in per_company),
        )
    else:
        per_company_sql = SQL("SELECT NULL::int, NULL::int WHERE FALSE")
    return SQL(
        """
        WITH per_company(company_id, model_id) AS (%(per_company)s)
        SELECT ARRAY[new_score, new_band], array_agg(id ORDER BY id) FROM (
            SELECT t.id, COALESCE(s.score, 0.0) AS new_score,
                   s.band_id::float8 AS new_band,
                   COALESCE(t.%(score_field)s, 0.0) AS old_score,
                   t.%(band_field)s::float8 AS old_band
              FROM %(table)s t
              LEFT JOIN per_company pc ON pc.company_id = t.company_id
              LEFT JOIN lead_scoring_score s
                     ON s.model_id = COALESCE(pc.model_id, %(shared)s)
                    AND s.%(column)s = t.id
             WHERE TRUE %(restrict)s
        ) changes
         WHERE new_score IS DISTINCT FROM old_score
            OR new_band IS DISTINCT FROM old_band
         GROUP BY new_score, new_band
        """,
        per_company=per_company_sql,
        shared=shared,
        score_field=SQL.identifier(records._lead_scoring_score_field),
        band_field=SQL.identifier(records._lead_scoring_band_field),
        table=SQL.identifier(records._table),
        column=SQL.identifier(records._lead_scoring_column),
        restrict=restrict,
    )


# ----------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------


class Recompute:
    """One recompute of some scoring models, as a list of steps.

    Per target, in run order (contacts first: the deals their thresholds
    create are then scored by the deal models in the same run):

        change queue ─► rule diff (per rule) ─► refresh queue ─► scores
        ─► primary score copy ─► thresholds ─► change queue released

    Each step is one set-based statement per rule or per scoring model. With
    ``commit`` (the cron) each step is its own short transaction: no long lock
    on the ledger, and a run that dies half-way leaves committed steps that
    the next run completes, since every step recomputes from the ledger and
    the data as they are.
    """

    def __init__(self, scoring_models, full=False):
        """:param full: evaluate every rule on every record ("Recompute now")"""
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
            steps += [
                partial(rule._evaluate, self.now) for rule in scoring_model.rule_ids if rule.active
            ]
            steps.append(partial(self._refresh_model, scoring_model))
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
        scores = self.env["lead.scoring.score"]
        records = scoring_model._target_records()
        if scoring_model.scores_dirty or scoring_model.decay_half_life_days:
            changed = scores._refresh_scores(scoring_model, self.now)
            scoring_model.scores_dirty = False
            records._lead_scoring_sync_primary_score(scoring_model=scoring_model)
            self.env["lead.scoring.refresh"]._clear(scoring_model)
        else:
            changed = {}
            target_ids = scores._targets_to_refresh(scoring_model, self.now)
            if target_ids:
                changed = scores._refresh_scores(scoring_model, self.now, target_ids)
                records._lead_scoring_sync_primary_score(target_ids=list(changed))
                self.env["lead.scoring.refresh"]._clear(scoring_model)
        _logger.info(
            "Lead scoring: model %s recomputed, %d scores changed", scoring_model.id, len(changed)
        )
        scoring_model.date_last_recompute = self.now

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

    def _lock(self):
        """Take the recompute lock of this database, or return False if taken.

        A session-level advisory lock: it outlives the run's intermediate
        commits, and PostgreSQL releases it if the worker dies.
        """
        self.env.cr.execute(SQL("SELECT pg_try_advisory_lock(%s)", RECOMPUTE_LOCK_KEY))
        return self.env.cr.fetchone()[0]

    def _unlock(self):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s)", RECOMPUTE_LOCK_KEY))
