"""A recompute as a graph of queue jobs, for several workers to share.

The steps, their order and which of them split by id range are the engine's
published plan (``lead_scoring.engine.plan``): this module walks
``Plan(split=True).steps()`` and makes a job of each step, or one job per id
range of a step that splits, each waiting for the jobs of the steps the
plan puts it after. Per target, in run order (contacts first: the deals
their thresholds create are scored in the same run):

    change queue taken
      ─► rule jobs: per scoring model and id range for the rules evaluated
         on every record (tested in one scan of the range), one per
         scoring model for the records changed since the last run
      ─► score refresh, per scoring model (after its own rule jobs); a
         refresh of many scores (full evaluation, decay) per id range, then
         one job completing it, then the primary scores per id range
      ─► primary score copy of the changed records (when several models compete)
      ─► thresholds, per scoring model, and per id range after a refresh
         of every score (a cold run: thousands cross, each deal created
         takes milliseconds)
      ─► change queue released
    ─► next target ... ─► primary scores of every record (when which model gives them changed)

Each job runs one step of the plan (``lead.scoring.model._job_*``, through
``Plan.step``): a job that dies is retried, and since every step recomputes
from the ledger and the data as they are, running a job again gives the same
result.
"""

from odoo.tools import SQL

from odoo.addons.lead_scoring.engine import Plan
from odoo.addons.queue_job.delay import group

CHANNEL = "root.lead_scoring"

# A full evaluation is split into id ranges of at most this many records of
# the target table (system parameter lead_scoring_queue_job.range_size) ...
RANGE_SIZE_PARAM = "lead_scoring_queue_job.range_size"
DEFAULT_RANGE_SIZE = 100_000
# ... and of a large table into at least this many ranges, of at least
# MIN_RANGE_SIZE records each: no single range job holds up the run while the
# others wait (a range of 100,000 deals took 21 s in a cold run of a million
# contacts, a sixteenth of the contacts' thresholds about 2 s).
MIN_RANGES = 16
MIN_RANGE_SIZE = 10_000


class RecomputeGraph:
    """The jobs of one recompute of ``scoring_models`` and their dependencies.

    :param full: evaluate every rule on every record ("Recompute now")
    """

    def __init__(self, scoring_models, full=False):
        self.plan = Plan(scoring_models, full=full, split=True)
        self.scoring_models = self.plan.scoring_models
        self.env = self.plan.env
        self.full = full
        self.now = self.plan.now
        self.range_size = self._range_size()
        self.roots = []
        self.count = 0

    def delay(self):
        """Enqueue the graph; return the number of jobs."""
        jobs = {}
        ranges = {}
        for step in self.plan.steps():
            if step.splits and step.target.key not in ranges:
                ranges[step.target.key] = self._id_ranges(step.target)
            made = self._step_jobs(step, ranges.get(step.target and step.target.key))
            self._after([job for parent in step.after for job in jobs[parent]], made)
            jobs[step] = made
        if self.roots:
            group(*self.roots).delay()
        return self.count

    # ------------------------------------------------------------------
    # A job per step, or per id range of a step that splits
    # ------------------------------------------------------------------

    def _step_jobs(self, step, ranges):
        if step.splits:
            return [self._range_job(step, id_range) for id_range in ranges]
        return [getattr(self, f"_job_{step.name}")(step)]

    def _range_job(self, step, id_range):
        scoring_model, label = step.scoring_model, self._target_label(step.target)
        low, high = id_range[:2]
        if step.name == "evaluate":
            first, last = f"{id_range[2]:,}", f"{id_range[3]:,}"
            description = self.env._(
                "Lead scoring: %(model)s, %(count)s rules, %(target)s %(first)s–%(last)s",  # noqa: RUF001
                model=scoring_model.name,
                count=len(step.rules),
                target=label,
                first=first,
                last=last,
            )
            return self._job(scoring_model, description)._job_evaluate_range(
                step.rules, self.now, low, high
            )
        if step.name == "refresh":
            description = self._range_description(self._refresh_label(step), id_range, label)
            return self._job(scoring_model, description)._job_refresh_range(
                self.now, self.full, low, high
            )
        if step.name == "fire_thresholds":
            description = self._range_description(self._thresholds_label(step), id_range, label)
            return self._job(scoring_model, description)._job_fire_thresholds_range(low, high)
        primary = self.env._("Lead scoring: %(model)s, primary scores", model=scoring_model.name)
        description = self._range_description(primary, id_range, label)
        return self._job(scoring_model, description)._job_sync_primary_range(self.now, low, high)

    def _thresholds_label(self, step):
        return self.env._("Lead scoring: %(model)s, thresholds", model=step.scoring_model.name)

    def _refresh_label(self, step):
        return self.env._(
            "Lead scoring: %(model)s, refresh the scores", model=step.scoring_model.name
        )

    def _job_take_changes(self, step):
        description = self.env._(
            "Lead scoring: %(target)s, take the changed records",
            target=self._target_label(step.target),
        )
        return self._job(self.plan.target_models(step.target), description)._job_take_changes(
            step.target.key
        )

    def _job_evaluate_changed(self, step):
        description = self.env._(
            "Lead scoring: %(model)s, rules on the changed %(target)s",
            model=step.scoring_model.name,
            target=self._target_label(step.target),
        )
        return self._job(step.scoring_model, description)._job_evaluate_rules(step.rules, self.now)

    def _job_refresh(self, step):
        no_rules = self.env["lead.scoring.rule"]
        return self._job(step.scoring_model, self._refresh_label(step))._job_refresh(
            self.now, self.full, no_rules
        )

    def _job_finish_refresh(self, step):
        return self._job(step.scoring_model, self._refresh_label(step))._job_refresh(
            self.now, self.full, step.rules, split=True
        )

    def _job_sync_primary_of_changed(self, step):
        description = self.env._(
            "Lead scoring: %(target)s, primary score of the changed records",
            target=self._target_label(step.target),
        )
        return self._job(
            self.plan.target_models(step.target), description
        )._job_sync_primary_of_changed(step.target.key, self.full)

    def _job_fire_thresholds(self, step):
        return self._job(step.scoring_model, self._thresholds_label(step))._job_fire_thresholds()

    def _job_release_changes(self, step):
        description = self.env._(
            "Lead scoring: %(target)s, release the changed records",
            target=self._target_label(step.target),
        )
        return self._job(self.plan.target_models(step.target), description)._job_release_changes(
            step.target.key
        )

    def _job_sync_primary_scores(self, _step):
        description = self.env._("Lead scoring: primary scores")
        return self._job(self.scoring_models, description)._job_sync_primary_scores()

    def _job_start_bulk_load(self, _step):
        description = self.env._("Lead scoring: cold build, ledger indexes set aside")
        return self._job(self.scoring_models, description)._job_bulk_load("start_bulk_load")

    def _job_finish_bulk_load(self, _step):
        description = self.env._("Lead scoring: ledger indexes and foreign keys restored")
        return self._job(self.scoring_models, description)._job_bulk_load("finish_bulk_load")

    def _range_description(self, step, id_range, label):
        """The description of ``step`` done on the records of one id range."""
        first, last = f"{id_range[2]:,}", f"{id_range[3]:,}"
        return self.env._(
            "%(step)s, %(target)s %(first)s–%(last)s",  # noqa: RUF001
            step=step,
            target=label,
            first=first,
            last=last,
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _job(self, records, description):
        self.count += 1
        return records.delayable(channel=CHANNEL, description=description)

    def _after(self, parents, children):
        """Make ``children`` wait for ``parents``; return ``children``."""
        if not parents:
            self.roots += children
        for parent in parents:
            parent.on_done(*children)
        return children

    def _id_ranges(self, target):
        """``[(low, high, first position, last position)]``: the target table
        cut in ranges of ``range_size`` records by id, ``low`` included,
        ``high`` excluded, None for no bound, so that together they cover
        every record, even one created after this plan."""
        cr = self.env.cr
        table = self.env[target.model_name]._table
        cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(table)))
        size = range_size(cr.fetchone()[0], self.range_size)
        # ``size`` is an integer, the table a model's: no user input in the statement.
        cr.execute(range_bounds_sql(table, size))
        rows = cr.fetchall()
        total = rows[0][1] if rows else 0
        bounds = [None] + [row[0] for row in rows[1:]] + [None]
        return [
            (
                bounds[index],
                bounds[index + 1],
                min(index * size + 1, total),
                min((index + 1) * size, total),
            )
            for index in range(len(bounds) - 1)
        ]

    def _range_size(self):
        value = self.env["ir.config_parameter"].sudo().get_param(RANGE_SIZE_PARAM)
        try:
            return max(int(value), 1) if value else DEFAULT_RANGE_SIZE
        except ValueError:
            return DEFAULT_RANGE_SIZE

    def _target_label(self, target):
        label = self.env[target.model_name]._lead_scoring_target_label
        return label._translate(self.env.lang or "en_US").lower()


def range_size(total, largest):
    """Records per id range of a table of ``total`` records: at most
    ``largest``, and small enough to cut a large table into ``MIN_RANGES``
    ranges, of ``MIN_RANGE_SIZE`` records at least."""
    return max(1, min(largest, max(MIN_RANGE_SIZE, -(-total // MIN_RANGES))))


def range_bounds_sql(table, size):
    """``(id, number of records)`` of every ``size``-th record of ``table`` in
    id order, the first included: the bounds of its id ranges (one index scan)."""
    return SQL(
        """
        SELECT id, total FROM (
            SELECT id, row_number() OVER (ORDER BY id) AS position, count(*) OVER () AS total
              FROM %s
        ) numbered
         WHERE MOD(position, %s) = 1
         ORDER BY id
        """,
        SQL.identifier(table),
        size,
    )
