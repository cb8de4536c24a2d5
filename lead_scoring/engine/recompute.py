"""The cron's run: ``Recompute`` walks the plan (``plan.Plan``) step after
step, each step its own transaction, under the recompute lock. What each step
does on the data lives here too (the plan's steps call it): take the change
queue, refresh a model's scores (whole or by id range), copy primary scores.
"""

import logging
import threading
import time

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
# A refresh writing at least this many scores re-analyses the score table at once.
ANALYZE_AFTER_ROWS = 10_000


def estimated_rows(cr, tables):
    """``{table: rows}``: the planner's estimates of these tables' rows
    (``pg_class.reltuples``, no scan; 0 for a table never analysed)."""
    cr.execute(
        SQL(
            "SELECT relname, reltuples FROM pg_class WHERE oid = ANY(%s::regclass[])",
            list(tables),
        )
    )
    return {name: max(rows, 0) for name, rows in cr.fetchall()}


class Recompute:
    """One recompute of some scoring models: the steps of its plan
    (``plan.Plan``, see ``readme/CONTRIBUTE.md``), run one after the other.

    Per target, in run order (contacts first: the deals their thresholds
    create are then scored by the deal models in the same run):

        change queue ─► rule diff (per model) ─► refresh queue ─► scores
        ─► primary score copy ─► thresholds ─► change queue released

    Each step is one set-based statement per rule or per scoring model. With
    ``commit`` (the cron) each step is its own short transaction: no long lock
    on the ledger, and a run that dies half-way leaves committed steps that
    the next run completes, since every step recomputes from the ledger and
    the data as they are. The methods the plan's steps call (``_take_changes``,
    ``_refresh_model``, ``_refresh_range``, ...) are the engine's own: other
    addons run a step through ``Plan.step(...).run()``.
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
                _logger.debug("Lead scoring: %r took %.3f s", step, time.monotonic() - step_started)
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
        """The run: the steps of its plan (``plan.Plan``), in order. Each is
        callable: ``step()`` runs it."""
        from .plan import Plan  # noqa: PLC0415 -- the plan makes its steps of a Recompute

        return Plan(self.scoring_models, recompute=self).steps()

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
            # Contacts into their companies (``res.partner``): the only target with a roll-up.
            rolled = scoring_model._target_records()._lead_scoring_refresh_rollup(
                scoring_model, self.now, set(changed), self.full or refresh_all or every_company
            )
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
