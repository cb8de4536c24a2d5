#!/usr/bin/env python3
"""Benchmark of safe model changes: a draft, its preview and its publish, on
the ``--segments`` data set of bench_recompute.py (1,000,000 contacts by default).

Builds the data set (COPY, the scoring models through the ORM, the cold run),
then measures: the no-change routine run without and with a draft present;
the preview of a draft that changes 5 rules of *Profiel* (time and peak
memory), against a naive per-record preview in Python on a sample,
extrapolated; the publish without firing thresholds, with the preview's
counts checked against the score rows before and after it. Then, unless
``--no-insight``, the sales rep's insight of bench_insight.py on the same
database (one data set build for both).

Usage: python3 benchmarks/bench_preview.py [--contacts N] [--deals M]
       [--naive-size K] [--seed S] [--no-insight] [--keep-db] [--json [PATH]]

See benchmarks/README.md ("The preview and publish benchmark").
"""

import time
import traceback
from collections import Counter

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

from dataset import THRESHOLD, build_with_history, prepare_references
from harness import (
    Bench,
    check_segments_args,
    configure_odoo,
    database,
    machine_info,
    machine_line,
    measure_memory,
    print_steps,
    recompute,
    release_databases,
    segments_parser,
    table_sizes,
    write_json,
)
from insight import insight_phase, print_figures

from odoo.tools import SQL

# The goals of SPEC part 3 ("Safe model changes") for the steps measured here.
GOALS = {
    "preview_seconds": 30.0,
    "preview_mb": 500.0,
    "publish_seconds": 60.0,
}
# The draft: 5 of Profiel's rules changed (the data set gives Profiel 8 of
# the 20 rules): points of 3, the filter of 1, 1 removed.
POINTS = {"Land is NL": 25.0, "Beslisser": 20.0, "Klant of VIP": 10.0}
FILTER_RULE = "Land niet bediend"  # served: NL, BE, DE -> NL, BE, DE, GB
SERVED = ("NL", "BE", "DE", "GB")
REMOVED_RULE = "Oud contact"


# ----------------------------------------------------------------------------
# The draft
# ----------------------------------------------------------------------------


def edit_draft(bench, draft):
    """Change 5 of the draft's rules as a marketer would in its form."""
    rules = {rule.name: rule for rule in draft.rule_ids}
    for name, points in POINTS.items():
        rules[name].write({"points": points})
    countries = [bench.refs["countries"][code] for code in SERVED]
    rules[FILTER_RULE].write({"domain": repr([("country_id", "not in", countries)])})
    rules[REMOVED_RULE].unlink()
    bench.cr.commit()


def scope_count(bench, live):
    """Active records in the live model's scope (company and segment)."""
    return live._target_records().search_count(live._scope_domain())


# ----------------------------------------------------------------------------
# Naive preview: one record at a time in Python
# ----------------------------------------------------------------------------


def band_of(bands, score):
    """The name of the band of ``score`` (``[(min score, name)]``), '' below all."""
    name = ""
    for minimum, band in sorted(bands):
        if minimum <= score:
            name = band
    return name


def naive_preview(bench, live, draft, sample):
    """What the preview computes, done per record: each live and draft rule
    tested with ``filtered_domain``, the score row read, the new score and
    band worked out in Python.

    :return: the same figures as a preview, for the ``sample`` ids
    """
    env = bench.env
    live_rules = [(r._match_domain(), r.points) for r in live.rule_ids.filtered("active")]
    draft_rules = [(r._match_domain(), r.points) for r in draft.rule_ids.filtered("active")]
    bands_now = [(b.min_score, b.name) for b in live.band_ids]
    bands_new = [(b.min_score, b.name) for b in draft.band_ids]
    up = [t.score for t in draft.threshold_ids if t.active and t.direction == "up"]
    Score = env["lead.scoring.score"]
    column = live._target_column()
    counts = Counter()
    moves = Counter()
    for record in live._target_records().browse(sample):
        live_points = sum(points for domain, points in live_rules if record.filtered_domain(domain))
        draft_points = sum(
            points for domain, points in draft_rules if record.filtered_domain(domain)
        )
        row = Score.search([("model_id", "=", live.id), (column, "=", record.id)], limit=1)
        current = row.score if row else 0.0
        new = current - live_points + draft_points
        delta = round(draft_points - live_points, 4)
        counts["changed"] += delta != 0
        counts["up"] += delta > 0
        counts["down"] += delta < 0
        counts["crossings_up"] += any(current < s <= new for s in up)
        move = (band_of(bands_now, current) if row else "", band_of(bands_new, new))
        if move[0] != move[1] and (row or delta):
            moves[move] += 1
    return {**counts, "moves": moves}


def sample_ids(bench, live, size):
    """``size`` active records of the live model's scope, spread over the ids
    (deterministic: ordered by a hash of id and seed)."""
    records = live._target_records()
    query = records._search(live._scope_domain())
    query.order = SQL("md5(%s::text || %s)", SQL.identifier(records._table, "id"), bench.args.seed)
    query.limit = size
    bench.cr.execute(query.select())
    return [row[0] for row in bench.cr.fetchall()]


# ----------------------------------------------------------------------------
# The check: the preview's figures against the score rows before and after
# ----------------------------------------------------------------------------


def snapshot_scores(bench, live, table):
    """Keep the live model's score rows (record, score, band name) in a
    temporary table of this connection."""
    column = SQL.identifier(live._target_column())
    bench.cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(table)))
    bench.cr.execute(
        SQL(
            """
            CREATE TEMP TABLE %(table)s AS
            SELECT s.%(column)s AS target_id, s.score, COALESCE(b.name->>'en_US', '') AS band
              FROM lead_scoring_score s LEFT JOIN lead_scoring_band b ON b.id = s.band_id
             WHERE s.model_id = %(model)s
            """,
            table=SQL.identifier(table),
            column=column,
            model=live.id,
        )
    )
    bench.cr.execute(SQL("CREATE INDEX ON %s (target_id)", SQL.identifier(table)))
    bench.cr.commit()


def published_figures(bench, live, restrict=None):
    """Records changed, up, down, crossings up and band moves, from the score
    rows before (``bench_before``) and after (``bench_after``) the publish;
    the model has no behaviour points and no clamp, so a score's change is
    its change of rule points.

    :param restrict: only these record ids (the naive sample)
    """
    records = live._target_records()
    where = SQL("TRUE") if restrict is None else SQL("target_id = ANY(%s)", restrict)
    bench.cr.execute(
        SQL(
            """
            WITH pairs AS (
                SELECT target_id, COALESCE(b.score, 0.0) AS before, COALESCE(a.score, 0.0) AS after,
                       COALESCE(b.band, '') AS band_from, COALESCE(a.band, '') AS band_to
                  FROM bench_before b FULL JOIN bench_after a USING (target_id)
            )
            SELECT band_from, band_to, count(*),
                   count(*) FILTER (WHERE ROUND((after - before)::numeric, 4) <> 0),
                   count(*) FILTER (WHERE ROUND((after - before)::numeric, 4) > 0),
                   count(*) FILTER (WHERE ROUND((after - before)::numeric, 4) < 0),
                   count(*) FILTER (WHERE r.active AND before < %(threshold)s
                                    AND after >= %(threshold)s)
              FROM pairs p JOIN %(table)s r ON r.id = p.target_id
             WHERE %(where)s
             GROUP BY band_from, band_to
            """,
            threshold=THRESHOLD,
            table=SQL.identifier(records._table),
            where=where,
        )
    )
    result = {"changed": 0, "up": 0, "down": 0, "crossings_up": 0, "moves": Counter()}
    for band_from, band_to, count, changed, up, down, crossings in bench.cr.fetchall():
        result["changed"] += changed
        result["up"] += up
        result["down"] += down
        result["crossings_up"] += crossings
        if band_from != band_to:
            result["moves"][band_from, band_to] += count
    return result


def compare(expected, found):
    """'OK', or 'MISMATCH' with the figures that differ."""
    keys = ("changed", "up", "down", "crossings_up", "moves")
    differ = [key for key in keys if expected.get(key, 0) != found.get(key, 0)]
    if not differ:
        return "OK"
    return (
        "MISMATCH (" + "; ".join(f"{k}: {expected.get(k)} vs {found.get(k)}" for k in differ) + ")"
    )


def preview_figures(preview):
    return {
        "changed": preview.records_changed,
        "up": preview.records_up,
        "down": preview.records_down,
        "crossings_up": preview.crossings_up,
        "moves": Counter(
            {(m.band_from or "", m.band_to or ""): m.count for m in preview.band_move_ids}
        ),
    }


def figures_text(figures):
    moves = ", ".join(
        f"{a or '-'}→{b or '-'} {n:,}" for (a, b), n in sorted(figures["moves"].items())
    )
    return (
        f"changed {figures['changed']:,}, up {figures['up']:,}, down {figures['down']:,}, "
        f"crossings up {figures['crossings_up']:,}; band moves: {moves or 'none'}"
    )


# ----------------------------------------------------------------------------
# The phase
# ----------------------------------------------------------------------------


def preview_phase(bench, scoring_models):
    args = bench.args
    results = bench.results.setdefault("preview", {})
    recompute(bench, "(1) no-change run, no draft")
    # Drafts, preview and publish are a lead scoring manager's: the admin.
    manager = bench.env(user=bench.env.ref("base.user_admin").id)
    live = scoring_models["profile"].with_env(manager)
    with bench.measure("create the draft of Profiel", len(live.rule_ids)) as step:
        draft = live._create_draft()
        bench.cr.commit()
        step.note = f"{len(draft.rule_ids)} rules, {len(draft.threshold_ids)} threshold"
    recompute(bench, "(1) no-change run, draft present")
    edit_draft(bench, draft)
    population = scope_count(bench, live)
    bench.cr.commit()
    bench.env.invalidate_all()
    with measure_memory(bench, "(2) preview of the draft (_open_for)", population) as step:
        action = manager["lead.scoring.preview"]._open_for(draft)
        bench.cr.commit()
    preview = manager["lead.scoring.preview"].browse(action["res_id"])
    expected = preview_figures(preview)
    step.note = (
        f"{figures_text(expected)}; AUC {preview.auc_live:.3f} → {preview.auc_draft:.3f} "
        f"on {preview.won_count:,} won / {preview.lost_count:,} lost"
    )
    results.update(
        preview_seconds=step.seconds,
        preview_mb=step.rss_growth_mb,
        preview_queries=step.queries,
        population=population,
        figures={**expected, "moves": [[*k, v] for k, v in expected["moves"].items()]},
    )
    # The naive way on a sample, extrapolated to the population.
    sample = sample_ids(bench, live, args.naive_size)
    bench.env.invalidate_all()
    with measure_memory(
        bench, f"(2) naive per-record preview, K={len(sample):,}", len(sample)
    ) as naive:
        naive_result = naive_preview(bench, live.sudo(), draft.sudo(), sample)
    extrapolated = naive.seconds * population / max(1, len(sample))
    naive.note = (
        f"{figures_text(naive_result)}; extrapolated to {population:,}: {extrapolated:,.0f} s"
    )
    results.update(naive_seconds=naive.seconds, naive_extrapolated=extrapolated)
    # Publish, without firing thresholds.
    snapshot_scores(bench, live, "bench_before")
    preview.fire_thresholds = False
    bench.cr.commit()
    bench.env.invalidate_all()
    with measure_memory(bench, "(3) publish, fire_thresholds off", population) as step:
        preview.action_publish()
        bench.cr.commit()
    snapshot_scores(bench, live, "bench_after")
    found = published_figures(bench, live)
    verdict = compare(expected, found)
    naive_found = published_figures(bench, live, restrict=sample)
    naive_verdict = compare(naive_result, naive_found)
    step.note = f"version {live.version}; score rows before/after: {figures_text(found)}"
    results.update(
        publish_seconds=step.seconds,
        publish_mb=step.rss_growth_mb,
        publish_queries=step.queries,
        verdict=verdict,
        naive_verdict=naive_verdict,
    )
    after = recompute(bench, "(3) next run after the publish")
    results["deals_after_publish"] = after.note
    bench.cr.execute("DROP TABLE bench_before, bench_after")
    bench.cr.commit()


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


def verdict_text(value, goal, unit):
    return f"≤ {goal:g} {unit}: " + ("met" if value <= goal else "NOT MET")


def print_report(bench, machine):
    args = bench.args
    print()
    print(
        f"safe model changes benchmark: {args.contacts:,} contacts, {args.deals:,} deals, "
        f"20 rules, --segments, seed {args.seed}"
    )
    print(machine_line(machine))
    print()
    print_steps(bench)
    results = bench.results.get("preview")
    if results:
        print()
        print(f"{'figure':<46} {'measured':>12}  goal / baseline")
        print("-" * 96)
        rows = [
            (
                "preview: seconds",
                f"{results['preview_seconds']:.2f} s",
                verdict_text(results["preview_seconds"], GOALS["preview_seconds"], "s")
                + f"; naive {results['naive_extrapolated']:,.0f} s extrapolated "
                f"({results['naive_extrapolated'] / max(results['preview_seconds'], 1e-9):,.0f}x)",
            ),
            (
                "preview: peak RSS growth (Odoo process only)",
                f"{results['preview_mb']:.0f} MB",
                verdict_text(results["preview_mb"], GOALS["preview_mb"], "MB"),
            ),
            (
                "publish (fire_thresholds off): seconds",
                f"{results['publish_seconds']:.2f} s",
                verdict_text(results["publish_seconds"], GOALS["publish_seconds"], "s"),
            ),
            ("preview's counts vs score rows before/after", results["verdict"], ""),
            (
                f"naive preview on K={args.naive_size:,} vs score rows",
                results["naive_verdict"],
                "",
            ),
        ]
        for name, value, goal in rows:
            print(f"{name:<46} {value:>12}  {goal}")
    insight = bench.results.get("insight")
    if insight:
        print_figures(insight)
    sizes = bench.results.get("tables")
    if sizes:
        print(
            "tables: "
            + ", ".join(f"{name} {s['rows']:,} rows {s['mb']:.0f} MB" for name, s in sizes.items())
        )


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


def parse_args(argv=None):
    parse = segments_parser(__doc__.split("\n\n")[0])
    parse.add_argument(
        "--naive-size", type=int, default=10_000, help="records of the naive preview (K)"
    )
    parse.add_argument(
        "--no-insight", dest="insight", action="store_false", help="skip bench_insight's steps"
    )
    args = check_segments_args(parse, parse.parse_args(argv))
    args.naive_size = max(1, min(args.naive_size, args.contacts))
    return args


def run(bench):
    args = bench.args
    with database(bench, args.db, prepare_references):
        scoring_models = build_with_history(bench)
        preview_phase(bench, scoring_models)
        if args.insight:
            try:
                insight_phase(bench, scoring_models)
            except Exception:  # noqa: BLE001 -- the preview's figures are reported all the same
                traceback.print_exc()
                bench.cr.rollback()
        bench.results["tables"] = table_sizes(bench)
        machine = machine_info(bench)
    print_report(bench, machine)
    if args.json is not None:
        write_json(bench, machine, args.json, name="bench_preview")


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    configure_odoo(args)
    start = time.perf_counter()
    try:
        run(bench)
    finally:
        release_databases(bench)
        print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
