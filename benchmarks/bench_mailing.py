#!/usr/bin/env python3
"""Benchmark of the Email Marketing bridge on a throwaway Odoo 18 database.

Creates a database with ``lead_scoring_mass_mailing``, N contacts and, for
each scenario, a mailing with one sent trace per contact, then opens them as
Odoo's tracking pixel does (``mailing.trace.set_opened`` on the trace of one
mail): all N in one call, and one call per open as N separate HTTP hits would
(each flushed and with the caches dropped, like the end of a request; no
commit in between). An "Email opened" automation line (+5, expiring after 2
months) scores them. The naive baseline is the raw wiring a marketer can do
without the bridge: an Automation Rule on Mailing Statistics, "On save" of the
status with the filter "Status is Opened", running the same "Adjust score"
action; it is measured in the same run, on traces of its own.

Usage: python3 benchmarks/bench_mailing.py [--recipients N] [--keep-db]
       [--log-level L] [--json [PATH]]

Target: 1,000 mailing opens processed in at most 2 seconds.
"""

import argparse
import random

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

import dataset
import harness

from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tools import SQL

ADDON = "lead_scoring_mass_mailing"
DB_NAME = f"{harness.DB_PREFIX}_mailing"
TARGET_SECONDS = 2.0


def create_mailing_with_traces(bench, subject, partners, first_mail_id):
    """A mailing on the contacts and one sent trace per contact, as the sending
    leaves them (the mails themselves are not needed to open a trace)."""
    env = bench.env
    mailing = env["mailing.mailing"].create(
        {
            "subject": subject,
            "body_html": "<p>Hallo</p>",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("id", "in", partners.ids)]),
            "state": "done",
        }
    )
    env["mailing.trace"].create(
        [
            {
                "mass_mailing_id": mailing.id,
                "model": "res.partner",
                "res_id": partner.id,
                "email": partner.email_normalized,
                "trace_status": "sent",
                "mail_mail_id_int": first_mail_id + index,
                "message_id": f"<bench-{subject}-{index}@example.nl>",
            }
            for index, partner in enumerate(partners)
        ]
    )
    bench.cr.commit()
    return mailing, list(range(first_mail_id, first_mail_id + len(partners)))


def create_scoring(bench):
    env = bench.env
    engagement = env["lead.scoring.model"].create({"name": "Betrokkenheid", "target": "contact"})
    line = env["lead.scoring.automation"].create(
        {
            "model_id": engagement.id,
            "name": "E-mail geopend",
            "trigger": "mailing_open",
            "points": 5,
            "expire_after": 2,
            "expire_unit": "months",
        }
    )
    # The raw wiring: an Automation Rule on mailing traces running Adjust score.
    trace_model = env["ir.model"]._get("mailing.trace")
    raw_action = env["ir.actions.server"].create(
        {
            "name": "Opened mailing",
            "model_id": trace_model.id,
            "state": "lead_score",
            "score_model_id": engagement.id,
            "score_points": 5,
            "score_expire_after": 2,
            "score_expire_unit": "months",
        }
    )
    raw_rule = env["base.automation"].create(
        {
            "name": "Opened mailing",
            "model_id": trace_model.id,
            "trigger": "on_create_or_write",
            "trigger_field_ids": [
                Command.set(env["ir.model.fields"]._get("mailing.trace", "trace_status").ids)
            ],
            "filter_domain": "[('trace_status', '=', 'open')]",
            "action_server_ids": [Command.link(raw_action.id)],
            "active": False,
        }
    )
    bench.cr.commit()
    return engagement, line, raw_rule, raw_action


def ledger_count(bench, action):
    if not action:
        return 0
    bench.cr.execute(SQL("SELECT COUNT(*) FROM lead_scoring_point WHERE action_id = %s", action.id))
    return bench.cr.fetchone()[0]


def open_in_one_call(bench, name, mail_ids):
    Trace = bench.env["mailing.trace"].sudo()
    with bench.measure(name, len(mail_ids)):
        Trace.set_opened(domain=[("mail_mail_id_int", "in", mail_ids)])
        bench.env.flush_all()
    bench.cr.commit()
    bench.env.invalidate_all()


def open_one_by_one(bench, name, mail_ids):
    Trace = bench.env["mailing.trace"].sudo()
    with bench.measure(name, len(mail_ids)):
        for mail_id in mail_ids:
            Trace.set_opened(domain=[("mail_mail_id_int", "in", [mail_id])])
            bench.env.flush_all()
            bench.env.invalidate_all()
    bench.cr.commit()


def scenario(bench, label, opener, partners, action, first_mail_id):
    """Open a fresh mailing's traces with ``opener``; check one line per open."""
    __, mail_ids = create_mailing_with_traces(bench, label, partners, first_mail_id)
    before = ledger_count(bench, action)
    opener(bench, label, mail_ids)
    step = bench.steps[-1]
    lines = ledger_count(bench, action) - before
    step.note = f"{lines:,} ledger lines, {step.queries / len(mail_ids):.1f} queries per open"
    bench.results[label] = {
        "opens": len(mail_ids),
        "seconds": step.seconds,
        "queries": step.queries,
        "ledger_lines": lines,
        "ok": lines == (len(mail_ids) if action else 0),
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
        partners = dataset.create_contacts(bench, args.recipients)
        count = len(partners)
        # Six mailings, one per scenario: an open counts once per mailing.
        # First what Odoo's own tracking costs, before any scoring is set up.
        scenario(bench, "Odoo alone: opens in one call", open_in_one_call, partners, None, 1)
        floor = scenario(
            bench, "Odoo alone: one call per open", open_one_by_one, partners, None, count + 1
        )
        __, line, raw_rule, raw_action = create_scoring(bench)
        action = line.action_id
        engine_batch = scenario(
            bench, "engine: opens in one call", open_in_one_call, partners, action, 2 * count + 1
        )
        engine_hits = scenario(
            bench, "engine: one call per open", open_one_by_one, partners, action, 3 * count + 1
        )
        line.active = False
        raw_rule.active = True
        bench.cr.commit()
        naive_batch = scenario(
            bench,
            "naive Automation Rule: one call",
            open_in_one_call,
            partners,
            raw_action,
            4 * count + 1,
        )
        naive_hits = scenario(
            bench,
            "naive Automation Rule: per open",
            open_one_by_one,
            partners,
            raw_action,
            5 * count + 1,
        )
        bench.results["scoring_ms_per_open"] = (engine_hits.seconds - floor.seconds) / count * 1000
        bench.results["ratio_one_call"] = naive_batch.seconds / engine_batch.seconds
        bench.results["ratio_per_open"] = naive_hits.seconds / engine_hits.seconds
        machine = harness.machine_info(bench)
    finally:
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(DB_NAME)
    print_report(bench, machine)
    if args.json is not None:
        harness.write_json(bench, machine, bench.args.json, "bench_mailing")


def print_report(bench, machine):
    args = bench.args
    print()
    print(f"lead_scoring_mass_mailing benchmark: {args.recipients:,} recipients, one mailing each")
    print(
        f"machine: {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs; "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, Odoo {machine['odoo']}"
    )
    header = f"{'step':<34} {'opens':>7} {'seconds':>8} {'queries':>8} {'ms/open':>8}  note"
    print()
    print(header)
    print("-" * len(header))
    for step in bench.steps:
        print(
            f"{step.name:<34} {step.records:>7,} {step.seconds:>8.2f} {step.queries:>8,} "
            f"{step.seconds / step.records * 1000:>8.2f}  {step.note}"
        )
    results = bench.results
    print()
    for label in ("engine: opens in one call", "engine: one call per open"):
        result = results[label]
        verdict = "met" if result["seconds"] <= TARGET_SECONDS else "NOT met"
        print(
            f"{label}: {result['opens']:,} opens in {result['seconds']:.2f} s "
            f"(target ≤ {TARGET_SECONDS:.0f} s for 1,000: {verdict}); "
            f"ledger {'OK' if result['ok'] else 'WRONG'}"
        )
    print(
        f"scoring adds {results['scoring_ms_per_open']:.1f} ms to each separate open "
        "(engine per open minus Odoo alone per open)"
    )
    print(
        f"naive / engine: {results['ratio_one_call']:.1f}x in one call, "
        f"{results['ratio_per_open']:.1f}x one call per open"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1000, help="contacts (opens per step)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", nargs="?", const="", default=None, metavar="PATH")
    parser.add_argument("--log-level", default="warn")
    parser.add_argument("--log-handler", action="append", default=[])
    args = parser.parse_args(argv)
    if args.recipients < 1:
        parser.error("--recipients must be at least 1")
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
