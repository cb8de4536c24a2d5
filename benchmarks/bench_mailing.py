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

Opens and clicks are only recorded in the request (``lead.scoring.mailing.hit``)
and scored by the batch processor (the scheduled action every minute): the
engine steps are followed by the processor's step, and the ledger is checked
after it.

Request cost, side by side (``--hits N``, default 1,000): N tracking-pixel
hits and N tracked-link clicks, each one transaction committed as a request
does (Odoo's model calls of the routes: ``set_opened`` on the mail's trace,
``link.tracker.click.add_click`` and the redirect's lookup), Odoo alone (no
active line) against the addon (an open and a click line), alternated in
rounds of 100 so that both see the same machine; goal: the addon's hit costs
at most 1.3x Odoo's.

Mailing blast (``--blast N``, e.g. 100,000): N recipients, ``--open-rate``
(0.30) opened, ``--click-rate`` (0.05) clicked a link (clicks among the
opens); the hits are recorded as the routes do, then the processor scores
them all: seconds, hits and ledger lines per second, queries.

Usage: python3 benchmarks/bench_mailing.py [--recipients N] [--hits N] [--db NAME]
       [--blast N] [--open-rate R] [--click-rate R] [--keep-db]
       [--log-level L] [--json [PATH]]

Target: 1,000 mailing opens processed in at most 2 seconds; a pixel hit or a
click at most 1.3x Odoo's own cost.
"""

import argparse
import random
import time

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
TARGET_RATIO = 1.3
ROUND = 100  # hits per round of the side-by-side request cost


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
    click_line = env["lead.scoring.automation"].create(
        {
            "model_id": engagement.id,
            "name": "Link geklikt",
            "trigger": "mailing_click",
            "points": 3,
            "active": False,
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
    return engagement, line, click_line, raw_rule, raw_action


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


def pending_hits(bench, active_only=False):
    """Opens (marked traces) and clicks (queued rows) waiting for the processor;
    ``active_only``: those of active contacts (the others score nothing)."""
    join = SQL(
        "JOIN res_partner p ON p.id = t.res_id AND t.model = 'res.partner' AND p.active"
        if active_only
        else ""
    )
    bench.cr.execute(
        SQL(
            """
            SELECT (SELECT COUNT(*) FROM mailing_trace t %(join)s
                     WHERE t.lead_scoring_open_pending)
                 + (SELECT COUNT(*) FROM lead_scoring_mailing_hit h
                      JOIN mailing_trace t ON t.id = h.trace_id %(join)s)
            """,
            join=join,
        )
    )
    return bench.cr.fetchone()[0]


def score_pending(bench, name, count):
    """The batch processor (what the scheduled action runs) on the recorded hits."""
    Hits = bench.env["lead.scoring.mailing.hit"].sudo()
    pending = pending_hits(bench)
    with bench.measure(name, count) as step:
        Hits._cron_score_hits()
        bench.env.flush_all()
    bench.cr.commit()
    bench.env.invalidate_all()
    step.note = f"{pending - pending_hits(bench):,} hits scored"
    return step


def scenario(bench, label, opener, partners, action, first_mail_id):
    """Open a fresh mailing's traces with ``opener``; check one line per open."""
    __, mail_ids = create_mailing_with_traces(bench, label, partners, first_mail_id)
    before = ledger_count(bench, action)
    opener(bench, label, mail_ids)
    step = bench.steps[-1]
    if pending_hits(bench):
        score_pending(bench, f"{label}: processor", len(mail_ids))
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


def pixel_request(env, mail_id):
    """What the tracking pixel's request does (``/mail/track/<mail id>/...``)."""
    env["mailing.trace"].sudo().set_opened(domain=[("mail_mail_id_int", "in", [mail_id])])
    end_request(env)


def click_request(env, code, trace_id):
    """What a tracked link's request does (``/r/<code>/m/<trace id>``)."""
    env["link.tracker.click"].sudo().add_click(
        code, ip="192.0.2.1", country_code=None, mailing_trace_id=trace_id
    )
    env["link.tracker"].sudo().get_url_from_code(code)
    end_request(env)


def end_request(env):
    env.flush_all()
    env.cr.commit()
    env.invalidate_all()


def create_link(bench, mailing, url):
    # A link tracker is unique per URL and campaign: one URL per mailing.
    url = f"{url}?mailing={mailing.id}"
    link = bench.env["link.tracker"].create(
        {"url": url, "title": url, "mass_mailing_id": mailing.id}
    )
    bench.cr.commit()
    return link


def request_cost(bench, partners, lines, raw_rule, first_mail_id):
    """N pixel hits and N clicks on fresh traces, each committed as a request,
    Odoo alone (no active line) against the addon (the open and the click
    lines), alternated in rounds of ``ROUND`` hits."""
    hits = min(bench.args.hits, len(partners))
    recipients = partners[:hits]
    raw_rule.active = False
    bench.cr.commit()
    modes = ("Odoo alone", "with the addon")
    kinds = {}
    mail_id = first_mail_id
    for kind in ("pixel", "click"):
        for mode in modes:
            mailing, mail_ids = create_mailing_with_traces(
                bench, f"{kind} {mode}", recipients, mail_id
            )
            mail_id += hits
            if kind == "pixel":
                calls = [(pixel_request, (m,)) for m in mail_ids]
            else:
                code = create_link(bench, mailing, "https://www.example.com/shop").code
                calls = [(click_request, (code, t)) for t in mailing.mailing_trace_ids.ids]
            kinds.setdefault(kind, {})[mode] = {"calls": calls, "seconds": 0.0, "queries": 0}
    env, cr = bench.env, bench.cr
    for kind, by_mode in kinds.items():
        print(f"  request cost: {hits:,} {kind} hits per side ...", flush=True)
        for start in range(0, hits, ROUND):
            order = modes if (start // ROUND) % 2 == 0 else modes[::-1]
            for mode in order:
                lines.write({"active": mode != "Odoo alone"})
                end_request(env)
                result = by_mode[mode]
                queries = cr.sql_log_count
                begin = time.perf_counter()
                for function, arguments in result["calls"][start : start + ROUND]:
                    function(env, *arguments)
                result["seconds"] += time.perf_counter() - begin
                result["queries"] += cr.sql_log_count - queries
    lines.write({"active": True})
    end_request(env)
    recorded = pending_hits(bench)
    score_pending(bench, "request cost: processor", recorded)
    for kind, by_mode in kinds.items():
        alone, addon = by_mode[modes[0]], by_mode[modes[1]]
        bench.results[f"{kind}_request"] = {
            "hits": hits,
            "odoo_ms": alone["seconds"] / hits * 1000,
            "addon_ms": addon["seconds"] / hits * 1000,
            "odoo_queries": alone["queries"] / hits,
            "addon_queries": addon["queries"] / hits,
            "ratio": addon["seconds"] / alone["seconds"],
        }
    bench.results["request_hits_recorded"] = recorded


def blast(bench, count):
    """A mailing to ``count`` recipients, opened and clicked as the routes do
    (in bulk), then every hit scored by the processor."""
    args, env, rng = bench.args, bench.env, bench.rng
    with bench.measure(f"blast: load {count:,} recipients", count):
        dataset.prepare_references(bench)
        first, last, __ = dataset.load_partners(bench, rng, count)
        bench.cr.commit()
    partner_ids = list(range(first, last + 1))
    mailing = env["mailing.mailing"].create(
        {
            "subject": "Blast",
            "body_html": "<p>Hallo</p>",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("id", ">=", first)]),
            "state": "done",
        }
    )
    Trace = env["mailing.trace"]
    with bench.measure(f"blast: {count:,} sent traces", count):
        trace_ids = []
        for start in range(0, count, 10_000):
            trace_ids += Trace.create(
                [
                    {
                        "mass_mailing_id": mailing.id,
                        "model": "res.partner",
                        "res_id": partner_id,
                        "trace_status": "sent",
                    }
                    for partner_id in partner_ids[start : start + 10_000]
                ]
            ).ids
            bench.cr.commit()
            env.invalidate_all()
    links = [
        create_link(bench, mailing, url)
        for url in ("https://www.example.com/shop", "https://www.example.com/prijzen")
    ]
    opened = rng.sample(trace_ids, round(count * args.open_rate))
    clicked = rng.sample(opened, min(len(opened), round(count * args.click_rate)))
    clicked_links = {trace_id: rng.choice(links).id for trace_id in clicked}
    with bench.measure("blast: hits recorded as the routes do", len(opened) + len(clicked)):
        Trace.sudo().browse(opened).set_opened()
        env["link.tracker.click"].sudo().create(
            [
                {
                    "link_id": link_id,
                    "mailing_trace_id": trace_id,
                    "mass_mailing_id": mailing.id,
                    "ip": "192.0.2.1",
                }
                for trace_id, link_id in clicked_links.items()
            ]
        )
        traces = Trace.sudo().browse(clicked)
        traces.set_clicked()
        traces._lead_scoring_hit("mailing_click", links=clicked_links)
        env.flush_all()
    bench.cr.commit()
    env.invalidate_all()
    hits = pending_hits(bench)
    expected = pending_hits(bench, active_only=True)
    bench.cr.execute(SQL("SELECT COUNT(*), COALESCE(SUM(points), 0) FROM lead_scoring_point"))
    lines_before, points_before = bench.cr.fetchone()
    step = score_pending(bench, "blast: processor scores every hit", hits)
    bench.cr.execute(SQL("SELECT COUNT(*), COALESCE(SUM(points), 0) FROM lead_scoring_point"))
    lines_after, points_after = bench.cr.fetchone()
    lines = lines_after - lines_before
    bench.results["blast"] = {
        "recipients": count,
        "opens": len(opened),
        "clicks": len(clicked),
        "hits": hits,
        "seconds": step.seconds,
        "queries": step.queries,
        "ledger_lines": lines,
        "points": points_after - points_before,
        "hits_per_second": hits / step.seconds,
        "lines_per_second": lines / step.seconds,
        "expected_lines": expected,
        "ok": lines == expected,
    }


def run(bench):
    args = bench.args
    db_name = args.db
    print(f"Creating database {db_name} and installing {ADDON} ...", flush=True)
    bench.databases.append(db_name)
    harness.drop_database(db_name)
    harness.install_addon(db_name, args.log_level, ADDON)
    bench.db = db_name
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
        __, line, click_line, raw_rule, raw_action = create_scoring(bench)
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
        request_cost(bench, partners, line + click_line, raw_rule, 6 * count + 1)
        if args.blast:
            blast(bench, args.blast)
        bench.results["ratio_one_call"] = naive_batch.seconds / engine_batch.seconds
        bench.results["ratio_per_open"] = naive_hits.seconds / engine_hits.seconds
        machine = harness.machine_info(bench)
    finally:
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(db_name)
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
    print()
    print("Request cost per hit, side by side (each hit one committed transaction):")
    header = (
        f"{'hit':<8} {'hits':>6} {'Odoo ms':>8} {'addon ms':>9} {'ratio':>6} {'queries':>12}  goal"
    )
    print(header)
    print("-" * len(header))
    for kind in ("pixel", "click"):
        r = results[f"{kind}_request"]
        verdict = "met" if r["ratio"] <= TARGET_RATIO else "NOT met"
        print(
            f"{kind:<8} {r['hits']:>6,} {r['odoo_ms']:>8.2f} {r['addon_ms']:>9.2f} "
            f"{r['ratio']:>5.2f}x {r['odoo_queries']:>5.1f} -> {r['addon_queries']:<4.1f}  "
            f"<= {TARGET_RATIO}x {verdict}"
        )
    print("(page views: not measured here, see the website bridge)")
    if "blast" in results:
        b = results["blast"]
        print()
        print(
            f"blast: {b['recipients']:,} recipients, {b['opens']:,} opens, {b['clicks']:,} "
            f"clicks = {b['hits']:,} hits scored in {b['seconds']:.1f} s "
            f"({b['hits_per_second']:,.0f} hits/s, {b['lines_per_second']:,.0f} ledger lines/s, "
            f"{b['points'] / b['seconds']:,.0f} points/s), {b['queries']:,} queries; "
            f"ledger {'OK' if b['ok'] else 'WRONG'} ({b['ledger_lines']:,} lines, one per hit "
            f"of an active contact: {b['expected_lines']:,})"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1000, help="contacts (opens per step)")
    parser.add_argument(
        "--hits", type=int, default=1000, help="pixel hits and clicks per side (request cost)"
    )
    parser.add_argument("--blast", type=int, default=0, help="recipients of the blast (0: none)")
    parser.add_argument("--open-rate", type=float, default=0.30)
    parser.add_argument("--click-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--db", default=DB_NAME, help=f"database (a name starting with {harness.DB_PREFIX})"
    )
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
