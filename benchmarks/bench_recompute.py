#!/usr/bin/env python3
"""Benchmark of the lead_scoring engine on a throwaway Odoo 18 database.

Creates a database, installs ``lead_scoring``, bulk-loads realistic contacts and
deals with COPY, configures scoring models through the ORM, then times the
engine (``_cron_recompute_scores``) cold, without changes, after 1% of the
contacts changed, and "Adjust score" runs through a real Automation Rule. The
same rule scoring is also done the naive way (ORM ``filtered_domain`` loop and
one ``write`` per record) in a second database holding the first K contacts, to
show the ratio and to check that both give the same scores.

Usage: python3 benchmarks/bench_recompute.py [--contacts N] [--deals M]
       [--rules R] [--seed S] [--naive-size K] [--adjust-runs A] [--keep-db]
       [--json [PATH]] [--threshold T] [--no-analyze] [--analyze-empty-ledger]
       [--db NAME]

See benchmarks/README.md for what each figure means.
"""

import argparse
import contextlib
import time

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

from dataset import (
    FREE_MAIL,
    JOB_TITLES,
    create_scoring_models,
    key_accounts,
    load_dataset,
    prepare_references,
    weighted,
)
from dateutil.relativedelta import relativedelta
from harness import (
    DB_PREFIX,
    Bench,
    Step,
    active_records,
    configure_odoo,
    database,
    machine_info,
    machine_line,
    percentile_ms,
    print_steps,
    recompute,
    refresh_statistics,
    release_databases,
    table_sizes,
    turn_the_day,
    write_json,
)

from odoo import fields
from odoo.fields import Command
from odoo.tools import SQL
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

# ----------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------


def change_contacts(bench, share, first, last, name=None):
    """Give ``share`` of the contacts another country and e-mail domain, saved
    one by one through the ORM as an import does, then drop the ORM caches.

    :param name: measure the saves as a step of that name
    """
    rng = bench.rng
    count = max(1, int((last - first + 1) * share))
    ids = rng.sample(range(first, last + 1), count)
    countries = list(bench.refs["countries"].values())
    partners = bench.env["res.partner"].with_context(tracking_disable=True)
    with bench.measure(name, count) if name else contextlib.nullcontext(Step(name, count)) as step:
        for done, partner_id in enumerate(ids, 1):
            domain = weighted(rng, FREE_MAIL) if rng.random() < 0.5 else "example.nl"
            partners.browse(partner_id).write(
                {"country_id": rng.choice(countries), "email": f"contact{partner_id}@{domain}"}
            )
            if done % 500 == 0:
                bench.env.flush_all()
                bench.env.invalidate_all()
        bench.cr.commit()
        step.note = "one ORM write per contact, as an import does"
    bench.env.invalidate_all()
    return count


def create_adjust_automation(bench, scoring_model):
    """A real Automation Rule: +5 Betrokkenheid, expiring after 2 months, each
    time a contact's job title changes."""
    env = bench.env
    partner_model = env["ir.model"]._get_id("res.partner")
    action = env["ir.actions.server"].create(
        {
            "name": "Functie gewijzigd",
            "model_id": partner_model,
            "state": "lead_score",
            "score_model_id": scoring_model.id,
            "score_points": 5.0,
            "score_expire_after": 2,
            "score_expire_unit": "months",
        }
    )
    env["base.automation"].create(
        {
            "name": "Functie gewijzigd",
            "model_id": partner_model,
            "trigger": "on_create_or_write",
            "trigger_field_ids": [
                Command.set(env["ir.model.fields"]._get("res.partner", "function").ids)
            ],
            "action_server_ids": [Command.link(action.id)],
        }
    )
    bench.cr.commit()
    return action


def next_title(current):
    """Another job title than ``current``: the write must change the trigger field."""
    titles = [title for title, _ in JOB_TITLES if title]
    return titles[(titles.index(current) + 1) % len(titles)] if current in titles else titles[0]


def adjust_runs(bench, action, runs, first, last):
    """Change the job title of ``runs`` contacts one by one through the ORM.

    Each run is flushed and the caches dropped afterwards, as at the end of a
    request, so that all its queries are counted and none is saved by the
    previous run's cache.
    """
    env = bench.env
    cr = bench.cr
    sample = bench.rng.sample(range(first, last + 1), min(last - first + 1, runs * 2))
    # In the sample's order, so that the same seed writes the same contacts.
    cr.execute(
        SQL(
            """
            SELECT p.id, p.function
              FROM unnest(%s::int[]) WITH ORDINALITY AS s(id, position)
              JOIN res_partner p ON p.id = s.id AND p.active
             ORDER BY s.position LIMIT %s
            """,
            sample,
            runs,
        )
    )
    # New titles decided beforehand: reading them is not part of a run.
    writes = [(partner_id, next_title(title)) for partner_id, title in cr.fetchall()]
    durations = []
    name = "(d) Adjust score runs (Automation Rule)"
    with bench.measure(name, len(writes)) as step:
        for partner_id, title in writes:
            start = time.perf_counter()
            env["res.partner"].browse(partner_id).write({"function": title})
            env.flush_all()
            env.invalidate_all()
            durations.append(time.perf_counter() - start)
        cr.commit()
    cr.execute(SQL("SELECT COUNT(*) FROM lead_scoring_point WHERE action_id = %s", action.id))
    runs = max(1, len(writes))
    result = {
        "runs": len(writes),
        "ms_per_run": step.seconds / runs * 1000,
        "queries_per_run": step.queries / runs,
        "p50_ms": percentile_ms(durations, 0.50),
        "p95_ms": percentile_ms(durations, 0.95),
        "lines_awarded": cr.fetchone()[0],
    }
    bench.results["adjust"] = result
    step.note = (
        f"{result['ms_per_run']:.1f} ms and {result['queries_per_run']:.1f} queries "
        f"per run (p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms), "
        f"{result['lines_awarded']:,} lines awarded"
    )


# ----------------------------------------------------------------------------
# Naive implementation, for comparison
# ----------------------------------------------------------------------------

NAIVE_FIELDS = {
    "engagement": "x_naive_engagement",
    "profile": "x_naive_profile",
    "deal": "x_naive_deal",
}


# What the score tables call the scored record (SPEC: partner_id / lead_id).
SCORE_COLUMNS = {"contact": "partner_id", "deal": "lead_id"}


def parse_domain(env, text):
    """A rule's domain read as SPEC.md says: data, evaluated safely with uid,
    user, datetime, relativedelta, time and context_today."""
    return safe_eval(
        text,
        {
            "uid": env.uid,
            "user": env.user,
            "datetime": safe_datetime,
            "relativedelta": relativedelta,
            "time": safe_time,
            "context_today": lambda: fields.Date.context_today(env.user),
        },
    )


def clamp(scoring_model, score):
    if scoring_model.use_max_score:
        score = min(score, scoring_model.max_score)
    if scoring_model.use_min_score:
        score = max(score, scoring_model.min_score)
    return score


def naive_scores(bench, scoring_models):
    """Score every active record rule by rule with ``filtered_domain`` and write
    each score with its own ``write``: what a server action loop would do.

    :return: ``{(model key, record id): score}``
    """
    env = bench.env
    result = {}
    for key, scoring_model in scoring_models.items():
        rules = [(parse_domain(env, rule.domain), rule.points) for rule in scoring_model.rule_ids]
        records = (
            env[scoring_model.target_model].with_context(active_test=True).search([], order="id")
        )
        for record in records:
            score = sum(points for domain, points in rules if record.filtered_domain(domain))
            score = clamp(scoring_model, score)
            record.write({NAIVE_FIELDS[key]: score})
            result[key, record.id] = score
        env.flush_all()
    return result


def engine_scores(bench, scoring_models):
    result = {}
    for key, scoring_model in scoring_models.items():
        column = SQL.identifier(SCORE_COLUMNS[scoring_model.target])
        bench.cr.execute(
            SQL(
                "SELECT %s, score FROM lead_scoring_score WHERE model_id = %s",
                column,
                scoring_model.id,
            )
        )
        result.update(((key, record_id), score) for record_id, score in bench.cr.fetchall())
    return result


def compare_scores(naive, engine):
    """Records whose naive and engine scores differ (no score row = 0)."""
    keys = naive.keys() | engine.keys()
    return sorted(
        (key, naive.get(key, 0.0), engine.get(key, 0.0))
        for key in keys
        if abs(naive.get(key, 0.0) - engine.get(key, 0.0)) > 1e-6
    )


def naive_phase(bench):
    """Naive loop and engine on the same small dataset: ratio and agreement."""
    args = bench.args
    contacts = args.naive_size
    deals = round(args.deals * contacts / args.contacts)
    first, last = load_dataset(
        bench, f"load {contacts:,} contacts + {deals:,} deals", contacts, deals
    )
    bench.refs["key_accounts"] = key_accounts(bench, first, first + contacts - 1)
    scoring_models = create_scoring_models(bench, args.rules, args.segments)
    with bench.measure(f"(f) naive ORM loop, K={contacts:,}", active_records(bench)) as naive:
        naive_result = naive_scores(bench, scoring_models)
        bench.cr.commit()
        naive.note = f"{len(naive_result):,} (model, record) scores, one write each"
    engine = recompute(bench, f"(f) engine full recompute, K={contacts:,}", analyze=False)
    cold = naive_comparison(bench, naive, engine, naive_result, scoring_models)
    # The routine case: 1% of the contacts saved since the last run. The naive
    # loop knows no last run: it does all of its work again.
    change_contacts(bench, 0.01, first, last)
    with bench.measure("(f) naive ORM loop again, 1% changed", active_records(bench)) as naive:
        naive_result = naive_scores(bench, scoring_models)
        bench.cr.commit()
    engine = recompute(bench, f"(f) engine recompute, 1% changed, K={contacts:,}")
    routine = naive_comparison(bench, naive, engine, naive_result, scoring_models)
    bench.results["naive"] = {"contacts": contacts, "deals": deals, **cold, "routine": routine}


def naive_comparison(bench, naive, engine, naive_result, scoring_models):
    """Ratio of the naive and engine steps, and whether their scores agree."""
    mismatches = compare_scores(naive_result, engine_scores(bench, scoring_models))
    for (key, record_id), naive_score, engine_score in mismatches[:10]:
        print(f"  MISMATCH {key} record {record_id}: naive {naive_score} engine {engine_score}")
    return {
        "naive_seconds": naive.seconds,
        "engine_seconds": engine.seconds,
        "ratio": naive.seconds / engine.seconds if engine.seconds else None,
        "scores_compared": len(naive_result),
        "mismatches": len(mismatches),
        "mismatch_examples": [list(m) for m in mismatches[:10]],
        "verdict": "OK" if not mismatches else f"MISMATCH ({len(mismatches):,} scores differ)",
    }


def main_phase(bench):
    """The engine at full size: cold, no change, 1% changed, Adjust score runs."""
    args = bench.args
    first, last = load_dataset(
        bench, f"load {args.contacts:,} contacts + {args.deals:,} deals", args.contacts, args.deals
    )
    # The same companies as in the naive database, which holds the first K contacts.
    bench.refs["key_accounts"] = key_accounts(bench, first, first + args.naive_size - 1)
    scoring_models = create_scoring_models(bench, args.rules, args.segments)
    bench.env["lead.scoring.threshold"].create(
        {
            "model_id": scoring_models["profile"].id,
            "name": "Sterk profiel: deal",
            "score": args.threshold,
            "action": "create_deal",
            "team_id": bench.refs["team"],
        }
    )
    bench.cr.commit()
    if args.analyze_empty_ledger:
        refresh_statistics(bench)
    # Cold: a ledger never written nor analysed, as right after installing the addon.
    recompute(bench, "(a) cold full recompute", analyze=False)
    recompute(bench, "(b) no-change recompute")
    changed = change_contacts(bench, 0.01, first, last, name="save 1% of contacts (ORM)")
    recompute(bench, "(c) recompute after 1% changed", note=f"{changed:,} contacts changed")
    turn_the_day(bench)
    recompute(bench, "(g) first run of a day")
    recompute(bench, "(h) Recompute now", full=True)
    action = create_adjust_automation(bench, scoring_models["engagement"])
    adjust_runs(bench, action, args.adjust_runs, first, last)
    recompute(bench, "(e) recompute after the Adjust runs")
    bench.results["tables"] = table_sizes(bench)


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


def print_report(bench, machine):
    args = bench.args
    print()
    print(
        f"lead_scoring benchmark: {args.contacts:,} contacts, {args.deals:,} deals, "
        f"{args.rules} rules, seed {args.seed}"
    )
    print(machine_line(machine))
    print()
    print_steps(bench)
    naive = bench.results.get("naive")
    print()
    for label, result in (
        []
        if naive is None
        else [
            ("full recompute", naive),
            ("after 1% changed", naive["routine"]),
        ]
    ):
        print(
            f"naive/engine on K={naive['contacts']:,} contacts + {naive['deals']:,} deals, "
            f"{label}: {result['naive_seconds']:.2f} s / {result['engine_seconds']:.2f} s = "
            f"{result['ratio']:.1f}x; scores {result['verdict']} "
            f"({result['scores_compared']:,} compared)"
        )
    sizes = bench.results["tables"]
    print(
        "tables: "
        + ", ".join(f"{name} {s['rows']:,} rows {s['mb']:.0f} MB" for name, s in sizes.items())
    )


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="res.partner records")
    parser.add_argument("--deals", type=int, default=20_000, help="crm.lead records")
    parser.add_argument("--rules", type=int, default=20, help="rules over the 3 models")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--naive-size", type=int, default=10_000, help="contacts of the naive comparison (K)"
    )
    parser.add_argument(
        "--adjust-runs", type=int, help="Adjust score runs (default: contacts / 50, at most 10,000)"
    )
    parser.add_argument(
        "--threshold", type=float, default=50.0, help="Profiel score at which a deal is created"
    )
    parser.add_argument("--db", default=DB_PREFIX, help=f"database name, starts with {DB_PREFIX}")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--json",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="write the results as JSON (default: benchmarks/results/)",
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="leave the engine tables' statistics to autovacuum (noisy timings)",
    )
    parser.add_argument(
        "--analyze-empty-ledger",
        action="store_true",
        help="analyse the empty ledger before the cold run (see README.md)",
    )
    parser.add_argument(
        "--segments",
        action="store_true",
        help="a segment on Profiel, a C-level grade on Betrokkenheid and an Accounts "
        "model with sum roll-up",
    )
    parser.add_argument("--log-level", default="warn", help="Odoo log level")
    parser.add_argument(
        "--log-handler",
        action="append",
        default=[],
        metavar="PREFIX:LEVEL",
        help="Odoo log handler, repeatable; odoo.addons.lead_scoring:DEBUG times each "
        "step of a recompute",
    )
    args = parser.parse_args(argv)
    if not args.db.startswith(DB_PREFIX):
        parser.error(f"--db must start with {DB_PREFIX} (the script drops it)")
    if args.contacts < 1 or args.deals < 0 or args.rules < 1:
        parser.error("--contacts and --rules must be at least 1, --deals at least 0")
    args.naive_size = max(1, min(args.naive_size, args.contacts))
    if args.adjust_runs is None:
        args.adjust_runs = max(10, min(10_000, args.contacts // 50))
    return args


def run(bench):
    args = bench.args
    with database(bench, args.db, prepare_references):
        main_phase(bench)
        machine = machine_info(bench)
    if args.segments:
        # The naive loop knows no segments, grades or roll-ups: compare without them.
        print("--segments: the naive comparison runs without it (make bench measures it)")
    else:
        with database(bench, f"{args.db}_naive", prepare_references):
            naive_phase(bench)
    print_report(bench, machine)
    if args.json is not None:
        write_json(bench, machine, args.json)


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    configure_odoo(args)
    try:
        run(bench)
    finally:
        release_databases(bench)


if __name__ == "__main__":
    main()
