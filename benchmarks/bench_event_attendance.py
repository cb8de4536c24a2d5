#!/usr/bin/env python3
"""Benchmark of the Events bridge on a throwaway Odoo 18 database.

Creates a database with ``lead_scoring_event``, N contacts, 20 active
automation lines (*Attended an event* and *Registered for an event*, some
limited to events or templates that do not match, as a real Automations tab
would hold), then, for each scenario, an event with one registration per
contact, and marks them attended as the organiser does: the whole event in
one call (``action_set_done`` on all registrations), and one call per
attendee (each flushed and with the caches dropped, like separate requests;
no commit in between). The naive baseline is one call per attendee; Odoo alone
(no scoring line) is measured first, on events of its own.

Usage: python3 benchmarks/bench_event_attendance.py [--attendees N] [--keep-db]
       [--log-level L]

Target: 1,000 attendees marked attended in one call in at most 2 seconds,
with 20 trigger lines active.
"""

import argparse
import random
from datetime import timedelta

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

import dataset
import harness

from odoo import fields
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tools import SQL

ADDON = "lead_scoring_event"
DB_NAME = f"{harness.DB_PREFIX}_event"
TARGET_SECONDS = 2.0
LINES = 20


def create_event(bench, name, partners, event_type):
    """An event going on now with one confirmed registration per contact; half
    of them by e-mail only (no contact linked), as an import would leave them."""
    env = bench.env
    now = fields.Datetime.now()
    event = env["event.event"].create(
        {
            "name": name,
            "event_type_id": event_type.id,
            "date_begin": now - timedelta(hours=1),
            "date_end": now + timedelta(hours=2),
            # No confirmation mails: their PDF badges need wkhtmltopdf.
            "event_mail_ids": [Command.clear()],
        }
    )
    registrations = env["event.registration"].create(
        [
            {"event_id": event.id, "partner_id": partner.id}
            if index % 2
            else {"event_id": event.id, "name": partner.name, "email": partner.email}
            for index, partner in enumerate(partners)
        ]
    )
    bench.cr.commit()
    return registrations


def create_lines(bench):
    """20 active lines: 10 "Attended an event" (2 for every event, 8 limited to
    other events or templates), 10 "Registered for an event"."""
    env = bench.env
    engagement = env["lead.scoring.model"].create({"name": "Betrokkenheid", "target": "contact"})
    other_type = env["event.type"].create({"name": "Beurs"})
    now = fields.Datetime.now()
    other_event = env["event.event"].create(
        {"name": "Beurs Utrecht", "date_begin": now, "date_end": now + timedelta(hours=8)}
    )
    values = []
    for index in range(LINES):
        trigger = "event_attended" if index < LINES // 2 else "event_registered"
        line = {
            "model_id": engagement.id,
            "name": f"{trigger} {index}",
            "trigger": trigger,
            "points": 15 if trigger == "event_attended" else 5,
            "expire_after": 3,
            "expire_unit": "months",
        }
        if index % 5 == 2:
            line["event_ids"] = [Command.set(other_event.ids)]
        elif index % 5 in (3, 4):
            line["event_type_ids"] = [Command.set(other_type.ids)]
        values.append(line)
    lines = env["lead.scoring.automation"].create(values)
    bench.cr.commit()
    return engagement, lines


def ledger_count(bench):
    bench.cr.execute(SQL("SELECT COUNT(*) FROM lead_scoring_point"))
    return bench.cr.fetchone()[0]


def attend_in_one_call(bench, name, registrations):
    with bench.measure(name, len(registrations)):
        registrations.action_set_done()
        bench.env.flush_all()
    bench.cr.commit()
    bench.env.invalidate_all()


def attend_one_by_one(bench, name, registrations):
    with bench.measure(name, len(registrations)):
        for registration_id in registrations.ids:
            registrations.browse(registration_id).action_set_done()
            bench.env.flush_all()
            bench.env.invalidate_all()
    bench.cr.commit()


def scenario(bench, label, marker, partners, event_type, scoring_lines):
    registrations = create_event(bench, label, partners, event_type)
    before = ledger_count(bench)
    marker(bench, label, registrations)
    step = bench.steps[-1]
    lines = ledger_count(bench) - before
    step.note = f"{lines:,} ledger lines, {step.queries / len(registrations):.1f} queries each"
    bench.results[label] = {
        "attendees": len(registrations),
        "seconds": step.seconds,
        "queries": step.queries,
        "ledger_lines": lines,
        "ok": lines == len(registrations) * scoring_lines,
    }
    return step


def run(bench):
    args = bench.args
    print(f"Creating database {DB_NAME} and installing {ADDON} ...", flush=True)
    bench.databases.append(DB_NAME)
    harness.drop_database(DB_NAME)
    harness.install_addon(DB_NAME, args.log_level, ADDON)
    bench.db = DB_NAME
    harness.open_registry(bench)
    try:
        partners = dataset.create_contacts(bench, args.attendees)
        webinar = bench.env["event.type"].create({"name": "Webinar"})
        scenario(bench, "Odoo alone: one call", attend_in_one_call, partners, webinar, 0)
        floor = scenario(
            bench, "Odoo alone: one call per attendee", attend_one_by_one, partners, webinar, 0
        )
        __, lines = create_lines(bench)
        # Lines that apply to these events: attended lines without a filter.
        matching = sum(
            1
            for line in lines
            if line.trigger == "event_attended" and not (line.event_ids or line.event_type_ids)
        )
        batch = scenario(bench, "engine: one call", attend_in_one_call, partners, webinar, matching)
        naive = scenario(
            bench, "naive: one call per attendee", attend_one_by_one, partners, webinar, matching
        )
        bench.results["ratio"] = naive.seconds / batch.seconds
        bench.results["scoring_ms_per_attendee"] = (
            (naive.seconds - floor.seconds) / len(partners) * 1000
        )
        machine = harness.machine_info(bench)
    finally:
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(DB_NAME)
    print_report(bench, machine)


def print_report(bench, machine):
    args = bench.args
    print()
    print(f"lead_scoring_event benchmark: {args.attendees:,} attendees, {LINES} automation lines")
    print(
        f"machine: {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs; "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, Odoo {machine['odoo']}"
    )
    header = f"{'step':<36} {'attendees':>9} {'seconds':>8} {'queries':>8}  note"
    print()
    print(header)
    print("-" * len(header))
    for step in bench.steps:
        print(
            f"{step.name:<36} {step.records:>9,} {step.seconds:>8.2f} {step.queries:>8,}  "
            f"{step.note}"
        )
    results = bench.results
    batch = results["engine: one call"]
    verdict = "met" if batch["seconds"] <= TARGET_SECONDS else "NOT met"
    print()
    print(
        f"one call: {batch['attendees']:,} attendees in {batch['seconds']:.2f} s "
        f"(target ≤ {TARGET_SECONDS:.0f} s: {verdict}); ledger {'OK' if batch['ok'] else 'WRONG'}"
    )
    print(f"naive (one call per attendee) / one call: {results['ratio']:.1f}x")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attendees", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", nargs="?", const="", default=None, metavar="PATH")
    parser.add_argument("--log-level", default="warn")
    parser.add_argument("--log-handler", action="append", default=[])
    args = parser.parse_args(argv)
    if args.attendees < 1:
        parser.error("--attendees must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    bench = harness.Bench(args)
    bench.rng = random.Random(args.seed)
    harness.configure_odoo(args)
    try:
        run(bench)
    finally:
        harness.release_databases(bench)


if __name__ == "__main__":
    main()
