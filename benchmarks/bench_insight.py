#!/usr/bin/env python3
"""Benchmark of the sales rep's insight: trend, percentile and next steps of
score rows at 1,000,000 contacts, as a salesperson's web client asks for them.

On the ``--segments`` data set of bench_recompute.py (built as
bench_preview.py builds it, with a history: the cold run's ledger lines dated
45 days back; ``dataset.build_with_history``), measures (``insight.py``): the
first routine run of a day (trend and percentile are computed on read, so the
run does not compute them); the contacts' "Top 10%" and "Rising" filters as
the list view loads them (first page of 80 and the count, as a salesperson);
"Top 10%" on the score rows; and reading one contact's form (every field of
the form and its Scores list) as the web client does, queries counted.

bench_preview.py runs these steps after its own on the same database (one
data set build for both); this script runs them alone.

Usage: python3 benchmarks/bench_insight.py [--contacts N] [--deals M] [--seed S]
       [--keep-db] [--json [PATH]]
"""

import time

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

from dataset import build_with_history, prepare_references
from harness import (
    Bench,
    check_segments_args,
    configure_odoo,
    database,
    machine_info,
    machine_line,
    print_steps,
    release_databases,
    segments_parser,
    write_json,
)
from insight import insight_phase, print_figures


def main(argv=None):
    parse = segments_parser(__doc__.split("\n\n")[0])
    args = check_segments_args(parse, parse.parse_args(argv))
    bench = Bench(args)
    configure_odoo(args)
    start = time.perf_counter()
    try:
        with database(bench, args.db, prepare_references):
            scoring_models = build_with_history(bench)
            insight_phase(bench, scoring_models)
            machine = machine_info(bench)
        print()
        print(f"insight benchmark: {args.contacts:,} contacts, {args.deals:,} deals, --segments")
        print(machine_line(machine))
        print()
        print_steps(bench)
        print_figures(bench.results["insight"])
        if args.json is not None:
            write_json(bench, machine, args.json, name="bench_insight")
    finally:
        release_databases(bench)
        print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
