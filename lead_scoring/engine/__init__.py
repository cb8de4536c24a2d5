"""The scoring engine: what a recompute does, in which order, and the SQL it sends.

- ``plan``: the published plan of a run: its steps, what each waits for,
  which split by id range. The cron's ``Recompute`` and the jobs of
  ``lead_scoring_queue_job`` both walk it.
- ``recompute``: ``Recompute``, the cron's run, and what its steps do on
  the data (change queue, score refresh, primary score copy).
- ``evaluation``: rule evaluation (the rule diff of a run) and the daily
  safety net.
- ``sql``: the SQL builders the models share (band, clamp, decay, live
  totals, rule diff, score refresh, primary copy, closed opportunities).
- ``targets``: the registry of the scored models.
- ``bulk_load``: a cold build writes the ledger and score rows without their
  foreign keys and secondary indexes, and puts them back after.

The models keep the data (the ledger ``lead.scoring.point``, the scores, the
change and refresh queues, the threshold crossings) and the small statements
that touch only their own table. The words used here (target, scored record,
ledger line, open/closed, live, change queue, refresh queue, primary score,
crossing, plan, step) are defined in ``readme/CONTRIBUTE.md``, with the plan
of a run.

What other modules import from ``lead_scoring.engine`` stays importable here.
"""

from . import bulk_load, evaluation, plan, recompute, sql, targets
from .evaluation import FULL_EVALUATION_INTERVAL, SAFETY_NET_SLICES
from .plan import Plan, Step
from .recompute import (
    ANALYZE_AFTER_ROWS,
    ANALYZED_TABLES,
    FULL_EVALUATION_MIN_CHANGES,
    FULL_EVALUATION_SHARE,
    RECOMPUTE_LOCK_KEY,
    Recompute,
    estimated_rows,
)
from .sql import (
    band_case_sql,
    band_sql,
    calibrated_probability_sql,
    clamp_sql,
    closed_opportunities_sql,
    decayed_points_sql,
    id_range_sql,
    model_bands,
    model_clamp_sql,
    primary_model_sql,
    primary_score_changes_sql,
    refresh_scores_sql,
    restrict_sql,
    rule_diff_sql,
    score_at_sql,
    score_totals_sql,
    win_probability_sql,
)
from .targets import Target, find_targets, registered_targets

__all__ = [
    "ANALYZED_TABLES",
    "ANALYZE_AFTER_ROWS",
    "FULL_EVALUATION_INTERVAL",
    "FULL_EVALUATION_MIN_CHANGES",
    "FULL_EVALUATION_SHARE",
    "RECOMPUTE_LOCK_KEY",
    "SAFETY_NET_SLICES",
    "Plan",
    "Recompute",
    "Step",
    "Target",
    "band_case_sql",
    "band_sql",
    "bulk_load",
    "calibrated_probability_sql",
    "clamp_sql",
    "closed_opportunities_sql",
    "decayed_points_sql",
    "estimated_rows",
    "evaluation",
    "find_targets",
    "id_range_sql",
    "model_bands",
    "model_clamp_sql",
    "plan",
    "primary_model_sql",
    "primary_score_changes_sql",
    "recompute",
    "refresh_scores_sql",
    "registered_targets",
    "restrict_sql",
    "rule_diff_sql",
    "score_at_sql",
    "score_totals_sql",
    "sql",
    "targets",
    "win_probability_sql",
]
