"""The published plan of a recompute: its steps, what each waits for, and
which may be cut by id range.

Both ways of running a recompute walk it: the cron's ``Recompute.run`` runs
the steps one after the other in the order of ``Plan.steps()``, and
``lead_scoring_queue_job`` makes a job of each step (a job per id range of a
step that splits) that waits for the jobs of the steps it is ``after``.

The plan is data (``TARGET_STEPS``, ``RUN_STEPS``): per target in run order
(contacts first: the deals their thresholds create are scored in the same
run), then once for the run. A step of kind ``per="model"`` exists once per
scoring model of the target, ``per="target"`` once per target. A step waits
for the steps of the kinds named in ``after`` (of its own scoring model when
both are per model); when a run has none of them (an incremental step in a
full run, a split step in a run that does not split), for what those would
have waited for. A step with no ``after`` waits for the end of the previous
target.

Steps marked ``splits`` may be run in parts, ``run(id_range)`` for id ranges
that together cover every id (``Plan(split=True)``); then the steps marked
``split_only`` complete them. A plan that does not split (the cron) has none
of those: each step runs whole, ``run()``.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from . import bulk_load, evaluation
from .recompute import Recompute
from .targets import registered_targets


class StepKind(NamedTuple):
    name: str
    per: str  # "target", "model" or "run"
    after: tuple  # names of the kinds it waits for
    splits: bool = False  # may run in parts by id range
    split_only: bool = False  # only in a plan that splits
    incremental_only: bool = False  # not in a full run ("Recompute now")
    doc: str = ""


TARGET_STEPS = (
    StepKind(
        "take_changes",
        "target",
        (),
        incremental_only=True,
        doc="take the records saved since the last run (the change queue)",
    ),
    StepKind(
        "evaluate",
        "model",
        ("take_changes",),
        splits=True,
        doc="rule diff of the model's active rules; split: those evaluated on every record",
    ),
    StepKind(
        "evaluate_changed",
        "model",
        ("take_changes",),
        split_only=True,
        doc="split runs: the rules evaluated on the changed records, and the safety net",
    ),
    StepKind(
        "refresh",
        "model",
        ("evaluate", "evaluate_changed"),
        splits=True,
        doc="re-sum the scores from the live lines; whole: with the primary score copy",
    ),
    StepKind(
        "finish_refresh",
        "model",
        ("refresh",),
        split_only=True,
        doc="split runs: rules marked evaluated, statistics, flags, roll-up",
    ),
    StepKind(
        "sync_primary",
        "model",
        ("finish_refresh",),
        splits=True,
        split_only=True,
        doc="split runs: the primary score copy, by id range",
    ),
    StepKind(
        "sync_primary_of_changed",
        "target",
        ("sync_primary",),
        doc="several models compete: primary score of the changed records",
    ),
    StepKind(
        "fire_thresholds",
        "model",
        ("sync_primary_of_changed",),
        splits=True,
        doc="re-arm below, cross and fire above; split runs of every score: by id range",
    ),
    StepKind(
        "release_changes",
        "target",
        ("fire_thresholds",),
        incremental_only=True,
        doc="forget the changes taken at the start",
    ),
)
# The end of a target, for what comes next.
TARGET_END = StepKind("end", "target", ("release_changes",))
RUN_STEPS = (
    StepKind(
        "sync_primary_scores",
        "run",
        (),
        doc="every primary score again where which model gives it changed",
    ),
)
# A cold build (``bulk_load``): the first step sets the ledger's foreign keys
# and secondary indexes aside, the last puts them back. A run after one that
# died half-way starts by putting them back.
BULK_LOAD_STEPS = (
    StepKind(
        "start_bulk_load",
        "run",
        (),
        doc="cold build: the ledger and score tables' foreign keys and indexes set aside",
    ),
    StepKind(
        "finish_bulk_load",
        "run",
        (),
        doc="cold build: indexes rebuilt, foreign keys validated (or those of a run that died)",
    ),
)
KINDS = {kind.name: kind for kind in (*TARGET_STEPS, TARGET_END, *RUN_STEPS, *BULK_LOAD_STEPS)}


@dataclass(eq=False)
class Step:
    """One step of a plan. ``run(id_range)`` runs it, on the records of one
    id range ``(low, high)`` (either bound None) when it ``splits``."""

    plan: "Plan"
    name: str
    target: object = None  # a ``targets.Target``; None for the run's steps
    scoring_model: object = None  # the model of a per-model step
    rules: object = None  # evaluate steps: the rules they evaluate
    splits: bool = False
    after: list = field(default_factory=list)

    def run(self, id_range=None):
        if id_range is not None and not self.splits:
            raise ValueError(f"step {self.name} does not split by id range")
        return getattr(self, f"_run_{self.name}")(id_range)

    __call__ = run

    def __repr__(self):
        model = f" {self.scoring_model.id}" if self.scoring_model else ""
        target = f" {self.target.key}" if self.target else ""
        return f"<Step {self.name}{target}{model}>"

    # What each kind does -------------------------------------------------

    @property
    def _recompute(self):
        return self.plan.recompute

    def _run_take_changes(self, _id_range):
        models = self.plan.target_models(self.target)
        self._recompute._take_changes(self.target, models)
        if self.plan.split:
            # Before the rules run side by side (each would mark it): once for all.
            evaluation.mark_new_rules_dirty(models.rule_ids.filtered("active"))

    def _live_rules(self):
        """The step's rules still active in an active model: one archived
        since the plan was made has its lines closed, which no step may reopen."""
        # A job runs later than its plan was made: a rule may be gone since.
        rules = self.rules.exists() if self.plan.split else self.rules
        return rules.with_env(self._recompute.env).filtered(
            lambda rule: rule.active and rule.model_id.active
        )

    def _run_evaluate(self, id_range):
        rules = self._live_rules()
        if rules:
            evaluation.evaluate(rules, self._recompute.now, id_range)

    def _run_evaluate_changed(self, _id_range):
        self._run_evaluate(None)

    def _run_refresh(self, id_range):
        if id_range is not None:
            return self._recompute._refresh_range(self.scoring_model, id_range)
        if self.plan.split:
            self._recompute._analyze_stale_tables()
        return self._recompute._refresh_model(self.scoring_model)

    def _run_finish_refresh(self, _id_range):
        self._recompute._analyze_stale_tables()
        if self.rules:
            evaluation.finish_split(self.rules.exists(), self._recompute.now)
        self._recompute._finish_split_refresh(self.scoring_model)

    def _run_sync_primary(self, id_range):
        self._recompute._sync_primary_range(self.scoring_model, id_range)

    def _run_sync_primary_of_changed(self, _id_range):
        self._recompute._sync_primary_of_changed(self.target)

    def _run_fire_thresholds(self, id_range):
        # A crossing is one record's: the ranges fire what the whole would.
        self.scoring_model.threshold_ids.filtered("active")._fire_thresholds(id_range=id_range)

    def _run_release_changes(self, _id_range):
        self._recompute.env["lead.scoring.change"]._release(self.target.key)

    def _run_sync_primary_scores(self, _id_range):
        for target in self.plan.run_targets():
            self._recompute._sync_primary_scores(target)

    def _run_start_bulk_load(self, _id_range):
        bulk_load.start(self._recompute.env)

    def _run_finish_bulk_load(self, _id_range):
        bulk_load.finish(self._recompute.env)


class Plan:
    """The steps of one recompute of ``scoring_models``, in run order.

    :param full: evaluate every rule on every record ("Recompute now")
    :param split: cut the steps that split by id range (jobs): the rules
        to evaluate on every record are prepared for it when the steps are
        made (``evaluation.split_rules``)
    :param now: the run's clock (default: now)
    """

    def __init__(self, scoring_models, full=False, split=False, now=None, recompute=None):
        self.recompute = recompute or Recompute(scoring_models, full=full)
        if now is not None:
            self.recompute.now = now
        self.scoring_models = self.recompute.scoring_models
        self.env = self.recompute.env
        self.full = self.recompute.full
        self.split = split

    @property
    def now(self):
        return self.recompute.now

    # Which records the steps act on ----------------------------------------

    def target_models(self, target):
        """The active scoring models of ``target`` in this run."""
        return self.scoring_models.filtered(lambda m: m.active and m.target == target.key)

    def run_targets(self):
        """The targets of the run's scoring models (archived ones too: their
        records' primary scores move to the next model), in run order."""
        keys = set(self.scoring_models.mapped("target"))
        return [target for key, target in registered_targets(self.env).items() if key in keys]

    def kind_applies(self, kind):
        return not ((kind.split_only and not self.split) or (kind.incremental_only and self.full))

    # The steps --------------------------------------------------------------

    def steps(self):
        """Every step of the run, in an order that respects ``after``."""
        steps = []
        end = []
        cold = self.cold_build()
        if cold or bulk_load.pending(self.env):
            # Set aside for a cold build, or put back what a run that died left aside.
            first = Step(self, "start_bulk_load" if cold else "finish_bulk_load")
            steps, end = [first], [first]
        for target in registered_targets(self.env).values():
            target_steps, target_end = self._target_steps(target, end)
            steps += target_steps
            end = target_end
        if self.run_targets():
            run_steps = [Step(self, kind.name, after=list(end)) for kind in RUN_STEPS]
            steps += run_steps
            end = run_steps
        if cold:
            steps.append(Step(self, "finish_bulk_load", after=list(end)))
        return steps

    def cold_build(self):
        """Whether this run writes a whole ledger at once (``bulk_load``)."""
        return bulk_load.is_cold(self.scoring_models)

    def step(self, name, target_key=None, scoring_model=None, rules=None, splits=False):
        """One step, without its dependencies: what a job runs."""
        target = registered_targets(self.env)[target_key] if target_key else None
        if scoring_model is not None:
            scoring_model = self.scoring_models.browse(scoring_model.ids)
            target = target or scoring_model._target()
        return Step(self, name, target, scoring_model, rules, splits)

    def _target_steps(self, target, start):
        """``(steps, end)``: the steps of one target after the steps ``start``,
        and the steps that end it."""
        models = self.target_models(target)
        if not models:
            return [], start
        made = {}  # (kind name, model id or None) -> [Step]
        ordered = []
        for kind in TARGET_STEPS:
            if not self.kind_applies(kind):
                continue
            lanes = models if kind.per == "model" else [None]
            for scoring_model in lanes:
                for step in self._make(kind, target, scoring_model):
                    step.after = self._waits_for(kind, scoring_model, made, models, start)
                    made.setdefault((kind.name, scoring_model and scoring_model.id), []).append(
                        step
                    )
                    ordered.append(step)
        return ordered, self._waits_for(TARGET_END, None, made, models, start)

    def _waits_for(self, kind, scoring_model, made, models, start):
        """The steps a step of ``kind`` (of ``scoring_model``, None for a
        per-target step) waits for: the steps of its ``after`` kinds, or when
        the run has none, what they would have waited for."""
        if not kind.after:
            return list(start)
        if scoring_model is None and any(KINDS[name].per == "model" for name in kind.after):
            # Per scoring model: each model's steps end where they end.
            found = []
            for lane in models:
                found += self._waits_for(kind, lane, made, models, start)
            return list(dict.fromkeys(found))
        direct = []
        for name in kind.after:
            lane = scoring_model.id if KINDS[name].per == "model" else None
            direct += made.get((name, lane), [])
        if direct:
            return direct
        found = []
        for name in kind.after:
            other = KINDS[name]
            lane = scoring_model if other.per == "model" else None
            found += self._waits_for(other, lane, made, models, start)
        return list(dict.fromkeys(found))

    def _make(self, kind, target, scoring_model):
        """The steps of ``kind`` for this target (and scoring model) in this run."""
        maker = getattr(self, f"_make_{kind.name}", None)
        if maker is None:
            return [Step(self, kind.name, target, scoring_model)]
        return maker(target, scoring_model)

    def _make_evaluate(self, target, scoring_model):
        rules = scoring_model.rule_ids.filtered("active")
        if self.split:
            rules = self._split_rules(scoring_model)
        if not rules:
            return []
        return [Step(self, "evaluate", target, scoring_model, rules, splits=self.split)]

    def _make_evaluate_changed(self, target, scoring_model):
        rules = scoring_model.rule_ids.filtered("active") - self._split_rules(scoring_model)
        if not rules:
            return []
        return [Step(self, "evaluate_changed", target, scoring_model, rules)]

    def _split_rules(self, scoring_model):
        """The rules evaluated on every record by id range (made once per plan)."""
        cache = self.__dict__.setdefault("_split_cache", {})
        if scoring_model.id not in cache:
            cache[scoring_model.id] = evaluation.split_rules(scoring_model)
        return cache[scoring_model.id]

    def _splits_refresh(self, scoring_model):
        return self.split and bool(
            self._split_rules(scoring_model) or self.recompute._refreshes_all(scoring_model)
        )

    def _make_refresh(self, target, scoring_model):
        splits = self._splits_refresh(scoring_model)
        return [Step(self, "refresh", target, scoring_model, splits=splits)]

    def _make_finish_refresh(self, target, scoring_model):
        if not self._splits_refresh(scoring_model):
            return []
        rules = self._split_rules(scoring_model)
        return [Step(self, "finish_refresh", target, scoring_model, rules)]

    def _make_sync_primary(self, target, scoring_model):
        if not self._splits_refresh(scoring_model):
            return []
        records = self.env[target.model_name]
        if scoring_model.id not in {c[0] for c in records._lead_scoring_primary_candidates()}:
            return []
        return [Step(self, "sync_primary", target, scoring_model, splits=True)]

    def _make_sync_primary_of_changed(self, target, _scoring_model):
        if len(self.env[target.model_name]._lead_scoring_primary_candidates()) <= 1:
            return []
        return [Step(self, "sync_primary_of_changed", target)]

    def _make_fire_thresholds(self, target, scoring_model):
        if not scoring_model.threshold_ids.filtered("active"):
            return []
        # By id range where every score was refreshed (a cold run: thousands
        # cross, each deal created costs milliseconds); whole after a few changes.
        splits = self._splits_refresh(scoring_model)
        return [Step(self, "fire_thresholds", target, scoring_model, splits=splits)]
