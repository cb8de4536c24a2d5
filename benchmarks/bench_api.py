#!/usr/bin/env python3
"""Benchmark of the events API end to end, over HTTP, on a throwaway database.

Creates a database, installs ``lead_scoring``, bulk-loads N contacts with COPY
(the generator of ``dataset.py``), sets up an engagement model with an
"Event from the API" automation (``webinar_attended``, +15 points expiring
after two months) and an integration user with an API key, then starts Odoo's
HTTP application in a threaded server on a free port of 127.0.0.1 and posts
batches of 1,000 events to ``POST /lead_scoring/v1/events`` with the key, as
an outside system would. It reports events per second, the server's SQL
statements per event, and the same numbers for two naive ways measured in the
same run: one event per request to the same endpoint, and what an integrator
does without the endpoint (XML-RPC: find the contact by e-mail, then ``run``
the "Adjust score" action on it, two calls per event). Every way must leave one
ledger line per event.

Usage: python3 benchmarks/bench_api.py [--contacts N] [--batches B]
       [--batch-size S] [--naive-events K] [--seed S] [--keep-db] [--json [PATH]]

See benchmarks/README.md for what each figure means.
"""

import argparse
import json
import random
import threading
import time
import xmlrpc.client
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

import dataset
import harness
import requests
from werkzeug.serving import make_server

import odoo
from odoo import fields
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tools import SQL

DB_NAME = f"{harness.DB_PREFIX}_api"
EVENT_TYPE = "webinar_attended"
URL_PATH = "/lead_scoring/v1/events"


@dataclass
class Step:
    name: str
    events: int
    seconds: float = 0.0
    queries: int = 0  # SQL statements of the server, all requests of the step
    requests: int = 0

    @property
    def events_per_second(self):
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def queries_per_event(self):
        return self.queries / self.events if self.events else 0.0


class CountingApp:
    """Odoo's WSGI application, counting the SQL statements of each request
    (Odoo counts them per thread in ``query_count`` while it serves one)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queries = 0

    def __call__(self, environ, start_response):
        response = odoo.http.root(environ, start_response)
        with self.lock:
            self.queries += getattr(threading.current_thread(), "query_count", 0)
        return response

    def take(self):
        with self.lock:
            queries, self.queries = self.queries, 0
        return queries


# ----------------------------------------------------------------------------
# Setup
# ----------------------------------------------------------------------------


def load_contacts(bench, count):
    """COPY ``count`` contacts; return the ids and e-mails of those whose
    address no other active contact has (each way must score the same one)."""
    print(f"Loading {count:,} contacts ...", flush=True)
    start = time.perf_counter()
    first, last, _statements = dataset.load_partners(bench, bench.rng, count)
    bench.cr.execute("ANALYZE res_partner")
    bench.cr.execute(
        SQL(
            """
            SELECT min(id), email_normalized FROM res_partner
             WHERE id BETWEEN %s AND %s AND active AND email_normalized IS NOT NULL
             GROUP BY email_normalized HAVING count(*) = 1
            """,
            first,
            last,
        )
    )
    contacts = sorted(bench.cr.fetchall())
    bench.cr.commit()
    print(
        f"  {count:,} contacts in {time.perf_counter() - start:.1f} s, "
        f"{len(contacts):,} with an address of their own",
        flush=True,
    )
    return contacts


def configure_scoring(bench):
    """The engagement model, its API automation, an integration user and
    keys; returns (integration key, admin uid, admin key, action id)."""
    env = bench.env
    engagement = env["lead.scoring.model"].create(
        {"name": "Betrokkenheid", "target": "contact", "sequence": 1}
    )
    line = env["lead.scoring.automation"].create(
        {
            "model_id": engagement.id,
            "name": "Webinar bijgewoond",
            "trigger": "api_event",
            "api_code": EVENT_TYPE,
            "points": 15,
            "expire_after": 2,
            "expire_unit": "months",
        }
    )
    integration = env["res.users"].create(
        {
            "name": "Webinar platform",
            "login": "webinar-platform",
            "groups_id": [
                Command.set(
                    [
                        env.ref("base.group_user").id,
                        env.ref("lead_scoring.group_lead_scoring_api").id,
                    ]
                )
            ],
        }
    )
    keys = env["res.users.apikeys"]
    expiry = fields.Datetime.now() + timedelta(days=30)
    integration_key = keys.with_user(integration).sudo()._generate(None, "bench", expiry)
    admin = env.ref("base.user_admin")
    admin_key = keys.with_user(admin).sudo()._generate(None, "bench", expiry)
    bench.cr.commit()
    return integration_key, admin.id, admin_key, line.action_id.id


def start_server(app):
    """Odoo's HTTP application in a threaded server on a free local port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


# ----------------------------------------------------------------------------
# The ways of sending events
# ----------------------------------------------------------------------------


def events_for(rng, contacts, count, prefix, now):
    for number in range(count):
        _partner_id, email = rng.choice(contacts)
        occurred = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
        yield {
            "id": f"{prefix}-{number}",
            "type": EVENT_TYPE,
            "email": email,
            "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": "Webinar Slimmer scoren",
        }


def post_batches(session, url, key, batches):
    """POST each batch; return the statuses of all answers."""
    statuses = {}
    for batch in batches:
        response = session.post(
            url, json={"events": batch}, headers={"Authorization": f"Bearer {key}"}, timeout=600
        )
        response.raise_for_status()
        for result in response.json()["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return statuses


def measure(bench, app, name, events, work):
    app.take()
    step = Step(name, events)
    start = time.perf_counter()
    step.requests, note = work()
    step.seconds = time.perf_counter() - start
    step.queries = app.take()
    bench.steps.append(step)
    print(
        f"  {name}: {step.seconds:.2f} s, {step.events_per_second:,.0f} events/s, "
        f"{step.queries_per_event:.2f} queries/event ({note})",
        flush=True,
    )
    return step


def api_batches(bench, app, session, url, key, contacts):
    args = bench.args
    batches = [
        list(events_for(bench.rng, contacts, args.batch_size, f"b{n}", bench.now))
        for n in range(args.batches)
    ]

    def work():
        statuses = post_batches(session, url, key, batches)
        return len(batches), statuses

    total = args.batches * args.batch_size
    measure(bench, app, f"API, {args.batch_size:,} events per request", total, work)
    check_lines(bench, "api", total)

    def retry():
        return 1, post_batches(session, url, key, batches[:1])

    measure(bench, app, "API, a batch sent again (all duplicates)", args.batch_size, retry)
    check_lines(bench, "api", total)


def naive_single_requests(bench, app, session, url, key, contacts):
    count = bench.args.naive_events
    events = list(events_for(bench.rng, contacts, count, "single", bench.now))

    def work():
        return count, post_batches(session, url, key, ([event] for event in events))

    measure(bench, app, "naive: API, 1 event per request", count, work)
    check_lines(bench, "api", bench.args.batches * bench.args.batch_size + count)


def naive_xmlrpc(bench, app, base_url, admin_uid, admin_key, action_id, contacts):
    count = bench.args.naive_events
    models = xmlrpc.client.ServerProxy(f"{base_url}/xmlrpc/2/object", allow_none=True)
    picked = [bench.rng.choice(contacts)[1] for _ in range(count)]

    def work():
        for email in picked:
            partner_ids = models.execute_kw(
                DB_NAME,
                admin_uid,
                admin_key,
                "res.partner",
                "search",
                [[("email_normalized", "=", email)]],
                {"limit": 1},
            )
            models.execute_kw(
                DB_NAME,
                admin_uid,
                admin_key,
                "ir.actions.server",
                "run",
                [[action_id]],
                {"context": {"active_model": "res.partner", "active_ids": partner_ids}},
            )
        return 2 * count, "search + run per event"

    measure(bench, app, "naive: XML-RPC search + run per event", count, work)
    check_lines(bench, "action", count)


def check_lines(bench, source, expected):
    bench.cr.execute(SQL("SELECT count(*) FROM lead_scoring_point WHERE source = %s", source))
    found = bench.cr.fetchone()[0]
    bench.cr.rollback()
    if found != expected:
        raise AssertionError(f"{found:,} ledger lines of source {source}, expected {expected:,}")


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


def ratios(bench):
    api = bench.steps[0]
    return {
        step.name: api.events_per_second / step.events_per_second
        for step in bench.steps
        if step.name.startswith("naive") and step.events_per_second
    }


def print_report(bench, machine):
    args = bench.args
    print()
    print(
        f"events API benchmark: {args.contacts:,} contacts, {args.batches} requests of "
        f"{args.batch_size:,} events, naive ways on {args.naive_events:,} events, seed {args.seed}"
    )
    print(
        f"machine: {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs, "
        f"{machine['ram_gb']:.1f} GB RAM; Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}, Odoo {machine['odoo']}"
    )
    header = (
        f"{'step':<44} {'events':>7} {'requests':>8} {'seconds':>8} {'events/s':>9}"
        f" {'queries':>8} {'q/event':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for step in bench.steps:
        print(
            f"{step.name[:44]:<44} {step.events:>7,} {step.requests:>8,} {step.seconds:>8.2f} "
            f"{step.events_per_second:>9,.0f} {step.queries:>8,} {step.queries_per_event:>8.2f}"
        )
    print()
    for name, ratio in ratios(bench).items():
        print(f"API batches vs {name.removeprefix('naive: ')}: {ratio:.1f}x the events per second")
    print("ledger: one line per scored event for every way (checked)")


def write_json(bench, machine, path):
    path = (
        Path(path)
        if path
        else harness.RESULTS_DIR / f"bench_api-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "arguments": {k: v for k, v in vars(bench.args).items() if k != "json"},
        "machine": machine,
        "steps": [
            {
                **asdict(step),
                "events_per_second": step.events_per_second,
                "queries_per_event": step.queries_per_event,
            }
            for step in bench.steps
        ],
        "ratios": ratios(bench),
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"JSON written to {path}")


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="res.partner records")
    parser.add_argument("--batches", type=int, default=20, help="requests of --batch-size")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per request")
    parser.add_argument("--naive-events", type=int, default=500, help="events sent each naive way")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", nargs="?", const="", default=None, metavar="PATH")
    parser.add_argument("--log-level", default="warn")
    parser.add_argument("--log-handler", action="append", default=[])
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be 1 to 1000 (the endpoint's limit)")
    if args.contacts < 1 or args.batches < 1 or args.naive_events < 1:
        parser.error("--contacts, --batches and --naive-events must be at least 1")
    return args


def run(bench):
    args = bench.args
    print(f"Creating database {DB_NAME} and installing lead_scoring ...", flush=True)
    bench.databases.append(DB_NAME)
    harness.drop_database(DB_NAME)
    harness.install_addon(DB_NAME, args.log_level)
    bench.db, bench.rng = DB_NAME, random.Random(args.seed)
    harness.open_registry(bench)
    server = None
    try:
        dataset.prepare_references(bench)
        contacts = load_contacts(bench, args.contacts)
        integration_key, admin_uid, admin_key, action_id = configure_scoring(bench)
        machine = harness.machine_info(bench)
        bench.cr.rollback()
        # Requests find the database by the filter, as behind a real proxy.
        odoo.tools.config["dbfilter"] = f"^{DB_NAME}$"
        app = CountingApp()
        server = start_server(app)
        base_url = f"http://127.0.0.1:{server.server_port}"
        url = base_url + URL_PATH
        print(f"Odoo serving {base_url} ...", flush=True)
        with requests.Session() as session:
            # The first request loads the routing map: not part of any step.
            post_batches(session, url, integration_key, [[{"id": "warm", "type": "x"}]])
            api_batches(bench, app, session, url, integration_key, contacts)
            naive_single_requests(bench, app, session, url, integration_key, contacts)
        naive_xmlrpc(bench, app, base_url, admin_uid, admin_key, action_id, contacts)
    finally:
        if server:
            server.shutdown()
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(DB_NAME)
    print_report(bench, machine)
    if args.json is not None:
        write_json(bench, machine, args.json)


def main(argv=None):
    args = parse_args(argv)
    bench = harness.Bench(args)
    harness.configure_odoo(args)
    try:
        run(bench)
    finally:
        harness.release_databases(bench)


if __name__ == "__main__":
    main()
