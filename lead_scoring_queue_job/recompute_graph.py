"""A recompute as a graph of queue jobs, for several workers to share.

The steps and their order are the engine's (``lead_scoring.engine.Recompute``,
read ``steps()`` and ``_target_steps()``); this module only cuts them into
jobs and says which job waits for which. Per target, in run order (contacts
first: the deals their thresholds create are scored in the same run):

    change queue taken
      ─► rule jobs: per scoring model and id range for a full evaluation
         (its rules tested in one scan of the range),
         per scoring model for the records changed since the last run
      ─► score refresh, per scoring model (after its own rule jobs); a
         refresh of many scores (full evaluation, decay) per id range, then
         one job completing it, then the primary scores per id range
      ─► primary score copy of the changed records (when several models compete)
      ─► thresholds, per scoring model
      ─► change queue released
    ─► next target ... ─► primary scores of every record (when which model gives them changed)

Each job runs one or a few of the engine's steps (``lead.scoring.model._job_*``):
a job that dies is retried, and since every step recomputes from the ledger
and the data as they are, running a job again gives the same result.
"""

from odoo.tools import SQL

from odoo.addons.lead_scoring.engine import Recompute, registered_targets
from odoo.addons.queue_job.delay import group

CHANNEL = "root.lead_scoring"

# A full evaluation is split into id ranges of about this many records of the
# target table (system parameter lead_scoring_queue_job.range_size).
RANGE_SIZE_PARAM = "lead_scoring_queue_job.range_size"
DEFAULT_RANGE_SIZE = 100_000

# What a rule split into ranges holds in ``evaluated_domain`` until its last
# range is done: never the domain it evaluates, so that a run that stops half
# way leaves the rule to be evaluated on every record again.
SPLIT_EVALUATION_PREFIX = "lead_scoring_queue_job: being evaluated "


def split_evaluation_mark(domain_repr):
    return f"{SPLIT_EVALUATION_PREFIX}{domain_repr}"


class RecomputeGraph:
    """The jobs of one recompute of ``scoring_models`` and their dependencies.

    :param full: evaluate every rule on every record ("Recompute now")
    """

    def __init__(self, scoring_models, full=False):
        self.recompute = Recompute(scoring_models, full=full)
        self.scoring_models = self.recompute.scoring_models
        self.env = self.recompute.env
        self.full = full
        self.now = self.recompute.now
        self.range_size = self._range_size()
        self.roots = []
        self.count = 0

    def delay(self):
        """Enqueue the graph; return the number of jobs."""
        previous = []
        targets = registered_targets(self.env)
        active = self.scoring_models.filtered("active")
        for target in targets.values():
            target_models = active.filtered(lambda m, t=target: m.target == t.key)
            if target_models:
                previous = self._target_jobs(target, target_models, previous)
        run_targets = set(self.scoring_models.mapped("target"))
        if run_targets & set(targets):
            final = self._job(
                self.scoring_models,
                self.env._("Lead scoring: primary scores"),
            )._job_sync_primary_scores()
            self._after(previous, [final])
        if self.roots:
            group(*self.roots).delay()
        return self.count

    # ------------------------------------------------------------------
    # The steps of one target
    # ------------------------------------------------------------------

    def _target_jobs(self, target, scoring_models, previous):
        label = self._target_label(target)
        if not self.full:
            take = self._job(
                scoring_models,
                self.env._("Lead scoring: %(target)s, take the changed records", target=label),
            )._job_take_changes(target.key)
            previous = self._after(previous, [take])
        ranges = self._id_ranges(target)
        refreshes = []
        for scoring_model in scoring_models:
            refreshes += self._model_jobs(scoring_model, previous, ranges, label)
        previous = refreshes
        if len(self.env[target.model_name]._lead_scoring_primary_candidates()) > 1:
            sync = self._job(
                scoring_models,
                self.env._(
                    "Lead scoring: %(target)s, primary score of the changed records",
                    target=label,
                ),
            )._job_sync_primary_of_changed(target.key, self.full)
            previous = self._after(previous, [sync])
        thresholds = [
            self._job(
                scoring_model,
                self.env._("Lead scoring: %(model)s, thresholds", model=scoring_model.name),
            )._job_fire_thresholds()
            for scoring_model in scoring_models
            if scoring_model.threshold_ids.filtered("active")
        ]
        if thresholds:
            previous = self._after(previous, thresholds)
        if not self.full:
            release = self._job(
                scoring_models,
                self.env._("Lead scoring: %(target)s, release the changed records", target=label),
            )._job_release_changes(target.key)
            previous = self._after(previous, [release])
        return previous

    def _split_rules(self, scoring_model):
        """``(rules split into id ranges, rules evaluated by one job)``: a rule
        evaluated on every record this run is split, one evaluated on the
        records changed since the last run is not (they are few)."""
        split = self.env["lead.scoring.rule"]
        rules = scoring_model.rule_ids.filtered("active")
        # A rule whose domain cannot be built is left out: its job logs and skips it.
        for rule, (domain, full) in rules._evaluation_needs().items():
            if not full:
                continue
            split |= rule
            if not rule.date_full_evaluation:
                # As ``_evaluate_one`` would, once, before the ranges run side by side.
                scoring_model._mark_scores_dirty(scoring_model.ids)
            rule.evaluated_domain = split_evaluation_mark(repr(domain))
        return split, rules - split

    def _model_jobs(self, scoring_model, previous, ranges, label):
        """The rule and refresh jobs of one scoring model, after ``previous``;
        return its last jobs."""
        split_rules, other_rules = self._split_rules(scoring_model)
        rule_jobs = [
            self._range_job(scoring_model, split_rules, id_range, label)
            for id_range in ranges
            if split_rules
        ]
        if other_rules:
            rule_jobs.append(
                self._job(
                    scoring_model,
                    self.env._(
                        "Lead scoring: %(model)s, rules on the changed %(target)s",
                        model=scoring_model.name,
                        target=label,
                    ),
                )._job_evaluate_rules(other_rules, self.now)
            )
        if split_rules or self.recompute._refreshes_all(scoring_model):
            first, last = self._split_refresh_jobs(scoring_model, split_rules, ranges, label)
        else:
            first = last = [
                self._job(
                    scoring_model,
                    self.env._(
                        "Lead scoring: %(model)s, refresh the scores", model=scoring_model.name
                    ),
                )._job_refresh(self.now, self.full, split_rules)
            ]
        self._after(previous, rule_jobs or first)
        for rule_job in rule_jobs:
            self._after([rule_job], first)
        return last

    def _split_refresh_jobs(self, scoring_model, split_rules, ranges, label):
        """A refresh of many scores (a full evaluation, points that decay) in
        id ranges too: the scores of each range, then one job that completes
        the refresh (statistics, roll-up), then the primary scores of each
        range. Return ``(first jobs, last jobs)``."""
        refresh = self.env._(
            "Lead scoring: %(model)s, refresh the scores", model=scoring_model.name
        )
        refresh_ranges = [
            self._job(
                scoring_model, self._range_description(refresh, id_range, label)
            )._job_refresh_range(self.now, self.full, id_range[0], id_range[1])
            for id_range in ranges
        ]
        finish = self._job(scoring_model, refresh)._job_refresh(
            self.now, self.full, split_rules, split=True
        )
        self._after(refresh_ranges, [finish])
        records = self.env[scoring_model._target().model_name]
        if scoring_model.id not in {c[0] for c in records._lead_scoring_primary_candidates()}:
            return refresh_ranges, [finish]
        primary = self.env._("Lead scoring: %(model)s, primary scores", model=scoring_model.name)
        primary_ranges = [
            self._job(
                scoring_model, self._range_description(primary, id_range, label)
            )._job_sync_primary_range(self.now, id_range[0], id_range[1])
            for id_range in ranges
        ]
        return refresh_ranges, self._after([finish], primary_ranges)

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

    def _range_job(self, scoring_model, rules, id_range, label):
        low, high, first, last = id_range
        first, last = f"{first:,}", f"{last:,}"
        return self._job(
            scoring_model,
            self.env._(
                "Lead scoring: %(model)s, %(count)s rules, %(target)s %(first)s–%(last)s",  # noqa: RUF001
                model=scoring_model.name,
                count=len(rules),
                target=label,
                first=first,
                last=last,
            ),
        )._job_evaluate_range(rules, self.now, low, high)

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
        # ``size`` is an integer, the table a model's: no user input in the statement.
        cr.execute(range_bounds_sql(table, self.range_size))
        rows = cr.fetchall()
        total = rows[0][1] if rows else 0
        bounds = [None] + [row[0] for row in rows[1:]] + [None]
        return [
            (
                bounds[index],
                bounds[index + 1],
                min(index * self.range_size + 1, total),
                min((index + 1) * self.range_size, total),
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
