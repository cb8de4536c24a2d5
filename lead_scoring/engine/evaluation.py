"""Rule evaluation and the daily safety net.

To evaluate a rule is to diff its domain against its open ledger lines: open
a line for each record that started matching, close the line of each that
stopped (one statement, ``sql.rule_diff_sql``, built by the rule's
``_diff_sql``). Which records a rule is evaluated on this run is decided here:

- every record, when its evaluated domain changed (a relative date rolled
  over), it was never evaluated, the run is a full one, or some change that
  matters to it cannot be traced back to the record
  (``lead.scoring.rule._needs_full_evaluation``). The rules of one scoring
  model evaluated on every record go together, in one statement;
- otherwise the records saved since the last run (the change queue), then
  the slice of ids the daily safety net is at, for data changed behind the
  ORM's back (SQL imports).

A full evaluation may also be split by id range (``split_rules``, one
``evaluate`` per range, then ``finish_split``): the jobs of
``lead_scoring_queue_job`` do so.
"""

import logging
import math
from datetime import timedelta

from odoo.tools import SQL

from ..domains import DOMAIN_ERRORS
from ..tracking import ALWAYS_WATCHED

_logger = logging.getLogger(__name__)

# Every record is evaluated again by every rule about this often, even a rule
# evaluated on changed records only: a safety net for data changed behind the
# ORM's back (SQL imports). Spread over the interval in this many slices of
# ids, one due at a time (``safety_net_range``).
FULL_EVALUATION_INTERVAL = timedelta(days=1)
SAFETY_NET_SLICES = 6


# ----------------------------------------------------------------------
# One run's evaluation of some rules
# ----------------------------------------------------------------------


def evaluate(rules, now, id_range=None):
    """Diff each rule against its open lines: open a line for each record
    that started matching, close the line of each that stopped.

    The rules of a scoring model evaluated on every record this run are
    diffed together, in one statement (``evaluate_together``); the others
    one by one, on the records changed since the last run when that gives
    the same result (see ``lead.scoring.rule._needs_full_evaluation``), and
    then together on the slice of records the daily safety net is at
    (``evaluate_safety_net``). A rule whose domain no longer evaluates (a
    field was removed, a module uninstalled) is logged and left alone: one
    broken rule cannot stop the others.

    :param id_range: ``(low, high)``: one part of a full evaluation split
        by id (``sql.rule_diff_sql``), every record of the part evaluated.
        The caller marks the rules evaluated once every part is done
        (``finish_split``): a part that fails unmarks its rule so that it cannot.
    """
    needs = evaluation_needs(rules, id_range)
    alone = rules
    for group, domains in evaluation_groups(rules, needs, full=True):
        if evaluate_together(group, domains, now, id_range):
            alone -= group
    for rule in alone:
        try:
            with rules.env.cr.savepoint(flush=False):
                counts = evaluate_one(rule, now, id_range)
        except DOMAIN_ERRORS:
            _logger.exception(
                "Lead scoring: rule %s (%s) skipped, its domain cannot be evaluated",
                rule.id,
                rule.name,
            )
            # It missed this run's changes: evaluate it in full once it works again.
            values = {"date_full_evaluation": False}
            if id_range is not None:
                values.update(evaluated_domain=False, split_domain=False)
            rule.write(values)
            continue
        if counts:
            _logger.debug(
                "Lead scoring: rule %s (%s) opened %d and closed %d lines",
                rule.id,
                "all records" if counts[2] is None else f"{len(counts[2])} changed records",
                counts[1],
                counts[0],
            )
    if id_range is None:
        for group, domains in evaluation_groups(rules, needs, full=False):
            evaluate_safety_net(group, domains, now)


def evaluation_needs(rules, id_range=None):
    """``{rule: (match domain, evaluated on every record)}`` for this run,
    of the rules whose domain can be built (``evaluate_one`` logs the others)."""
    needs = {}
    for rule in rules:
        try:
            domain = rule._match_domain()
            full = id_range is not None or rule._needs_full_evaluation(
                domain, rule._fields_read(domain)
            )
        except DOMAIN_ERRORS:
            continue
        needs[rule] = (domain, full)
    return needs


def evaluation_groups(rules, needs, full):
    """``[(rules, {rule: domain})]``: per scoring model, its rules evaluated
    on every record this run (``full``), when there are at least two, or
    those evaluated on the changed records only (not ``full``).

    One statement for all the rules of a model costs the scans of one
    statement per rule, but diffs and inserts their lines in one pass, in
    record order, and commits once (a fifth less time for a model's first
    run, see the benchmarks)."""
    groups = []
    for model_rules in rules.grouped("model_id").values():
        domains = {
            rule: needs[rule][0] for rule in model_rules if rule in needs and needs[rule][1] == full
        }
        # A single rule evaluated in full goes alone: the same statement.
        if len(domains) >= (2 if full else 1):
            groups.append((rules.browse([rule.id for rule in domains]), domains))
    return groups


def mark_new_rules_dirty(rules):
    """A rule never evaluated in full touches many records: one refresh of
    its whole scoring model beats queueing each of its scores. Marked before
    its lines change, once for rules that then run side by side."""
    new = rules.filtered(lambda rule: not rule.date_full_evaluation)
    if new:
        rules.env["lead.scoring.model"]._mark_scores_dirty(new.model_id.ids)


def evaluate_together(rules, domains, now, id_range=None):
    """Diff these rules (of one scoring model) on every record in one
    statement; return False when a domain fails in the database, which
    leaves them to be evaluated one by one (and the broken one logged).

    :param domains: ``{rule: its match domain}``
    """
    mark_new_rules_dirty(rules)
    counts = diff_together(rules, domains, now, id_range)
    if counts is None:
        _logger.info(
            "Lead scoring: rules %s cannot be evaluated together, one by one instead",
            rules.ids,
        )
        return False
    if id_range is None:
        for rule in rules:
            rule.write({"evaluated_domain": repr(domains[rule]), "date_full_evaluation": now})
    _logger.debug(
        "Lead scoring: rules %s evaluated together closed %d and opened %d lines",
        rules.ids,
        *counts,
    )
    return True


def diff_together(rules, domains, now, id_range=None):
    """Run the diff statement of these rules (``_diff_sql``, every record of
    ``id_range``): ``(closed, opened)``, or None when a domain fails in the
    database (the statement is rolled back)."""
    try:
        with rules.env.cr.savepoint(flush=False):
            rules.env.cr.execute(rules._diff_sql(domains, now, id_range=id_range))
            return rules.env.cr.fetchone()
    except DOMAIN_ERRORS:
        return None


def evaluate_one(rule, now, id_range=None):
    """:return: ``(closed, opened, evaluated ids or None for all)``, or None
    when none of the fields the rule reads changed since the last run

    :param id_range: evaluate every record with an id in ``(low, high)``,
        and leave marking the full evaluation to the caller (see ``evaluate``)
    """
    domain = rule._match_domain()
    changed_ids = None
    if id_range is None:
        fields_read = rule._fields_read(domain)
        if not rule._needs_full_evaluation(domain, fields_read):
            changed_ids = rule.env["lead.scoring.change"]._taken_ids(
                rule.model_id.target, fields_read | set(ALWAYS_WATCHED)
            )
            if not changed_ids:
                return None
    mark_new_rules_dirty(rule)
    rule.env.cr.execute(rule._diff_sql({rule: domain}, now, changed_ids, id_range))
    closed, opened = rule.env.cr.fetchone()
    if changed_ids is None and id_range is None:
        rule.write({"evaluated_domain": repr(domain), "date_full_evaluation": now})
    return closed, opened, changed_ids


# ----------------------------------------------------------------------
# A full evaluation split by id range
# ----------------------------------------------------------------------


def split_rules(scoring_model):
    """The active rules of ``scoring_model`` to evaluate on every record this
    run, prepared to be evaluated in id ranges side by side (``evaluate``
    with an ``id_range`` each, then ``finish_split``): their scoring model
    marked for a full refresh when one is new, and each rule's domain kept
    in ``split_domain`` while ``evaluated_domain`` is cleared, so that a run
    that stops half way leaves the rule to be evaluated on every record again.

    A rule whose domain cannot be built is left out: its evaluation logs it.
    """
    split = scoring_model.env["lead.scoring.rule"]
    rules = scoring_model.rule_ids.filtered("active")
    for rule, (domain, full) in evaluation_needs(rules).items():
        if full:
            split |= rule
            rule.write({"split_domain": repr(domain), "evaluated_domain": False})
    mark_new_rules_dirty(split)
    return split


def finish_split(rules, now):
    """Mark evaluated in full the rules whose every id range is done
    (``split_rules``): not one whose range failed (it cleared its
    ``split_domain``) or whose domain changed since (a relative date rolled
    over): then the ranges did not evaluate one domain."""
    for rule in rules.filtered("split_domain"):
        try:
            domain = repr(rule._match_domain())
        except DOMAIN_ERRORS:
            domain = None  # broken since the plan: it stays to be evaluated in full
        values = {"split_domain": False}
        if rule.split_domain == domain:
            values.update(evaluated_domain=domain, date_full_evaluation=now)
        rule.write(values)


# ----------------------------------------------------------------------
# The daily safety net
# ----------------------------------------------------------------------


def evaluate_safety_net(rules, domains, now):
    """Evaluate these rules (of one scoring model, evaluated on the changed
    records only) again on every record of the slice the model's daily
    safety net is at (``safety_net_range``): what changed behind the ORM's
    back (an SQL import) is scored within a day. When they fail together,
    each rule alone: the broken one is skipped (its own evaluation logs it).

    :param domains: ``{rule: its match domain}``
    """
    id_range = safety_net_range(rules.model_id, now)
    if not id_range:
        return
    results = [diff_together(rules, domains, now, id_range)]
    if results[0] is None and len(rules) > 1:
        results = [diff_together(rule, {rule: domains[rule]}, now, id_range) for rule in rules]
    closed = sum(counts[0] for counts in results if counts)
    opened = sum(counts[1] for counts in results if counts)
    if closed or opened:
        _logger.info(
            "Lead scoring: the safety net of rules %s opened %d and closed %d lines "
            "of records changed behind the ORM (ids %d to %d)",
            rules.ids,
            opened,
            closed,
            id_range[0],
            id_range[1] - 1,
        )


def safety_net_range(scoring_model, now):
    """The id range ``(low, high)`` of the records this run evaluates again
    for the daily safety net of ``scoring_model``, or None.

    A pass covers the ids in ``SAFETY_NET_SLICES`` slices, one due every
    day / slices after the pass started (every 4 hours): no run pays for
    the whole table, and since a slice's scans of related tables (a
    customer's country, tags) cost the same whatever its size, a few
    slices cost less than one per run. Slices due meanwhile (runs missed,
    a daily schedule) are taken together; the last completes the pass and
    starts the next.
    """
    scoring_model.ensure_one()
    start, reached = scoring_model.date_safety_net, scoring_model.safety_net_id
    if not start:
        # The rules were just evaluated in full: the first pass starts now.
        mark_safety_net(scoring_model, now, 0)
        return None
    due = min(SAFETY_NET_SLICES, (now - start) * SAFETY_NET_SLICES // FULL_EVALUATION_INTERVAL)
    if due <= 0:
        return None
    cr = scoring_model.env.cr
    table = scoring_model._target_records()._table
    cr.execute(SQL("SELECT max(id) FROM %s", SQL.identifier(table)))
    last_id = cr.fetchone()[0] or 0
    if due == SAFETY_NET_SLICES:
        mark_safety_net(scoring_model, now, 0)
        return (reached + 1, last_id + 1) if reached < last_id else None
    high = math.ceil(last_id * due / SAFETY_NET_SLICES)
    if high <= reached:
        return None
    mark_safety_net(scoring_model, start, high)
    return reached + 1, high + 1


def mark_safety_net(scoring_model, start, reached):
    """Record where the safety net's pass is; in SQL: a technical mark
    that no one tracks or watches."""
    scoring_model.env.cr.execute(
        SQL(
            "UPDATE lead_scoring_model SET date_safety_net = %s, safety_net_id = %s WHERE id = %s",
            start,
            reached,
            scoring_model.id,
        )
    )
    scoring_model.invalidate_recordset(["date_safety_net", "safety_net_id"])
