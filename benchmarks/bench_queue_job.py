#!/usr/bin/env python3
"""Scale-out of a cold full recompute over Odoo workers with lead_scoring_queue_job.

Prepares one database (lead_scoring_queue_job installed, N contacts and their
deals loaded with COPY, the scoring models of dataset.py configured),
then runs the same cold recompute three times, each on a fresh copy of it
(CREATE DATABASE ... TEMPLATE, so that every run starts from the same ledger):

1. the engine alone, in this process (``Recompute``, what the cron does without
   the job queue): the reference;
2. the job graph run by an Odoo server started here with ``--workers=2`` and
   ``server_wide_modules=base,web,queue_job``, channel capacity 1;
3. the same with capacity 2.

Prints the wall times, the speedup, the number of jobs, the peak RSS of the
workers and checks that the three runs left the same ledger and scores. The
Odoo server listens on 127.0.0.1 only, on a free port, and is stopped by this
script.

Then, from the jobs of the capacity 1 run (each ran alone: its duration is its
own work), simulates more workers (``schedule.py``): the total work, the
critical path through the job dependencies and the makespan of a list schedule
on 1, 2, 4, 8 and 16 workers, each job keeping its measured duration: as if
PostgreSQL had a core per worker and were never the bottleneck (here it shares
the machine's cores with the workers). ``--simulate DB`` prints the simulation
of the jobs left in database DB (a run kept with ``--keep-db``).

Usage: python3 benchmarks/bench_queue_job.py [--contacts N] [--deals M]
       [--rules R] [--range-size S] [--seed S] [--keep-db] [--timeout SECONDS]
       [--simulate DB]
"""

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

import dataset
import harness
import psutil
import psycopg2
import schedule
from psycopg2 import sql as pgsql

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

ADDON = "lead_scoring_queue_job"
MIN_ODOO_RSS_MB = 50
# The template database; its copies are named after it (BENCH_DB to run beside
# another benchmark: a name that starts with harness.DB_PREFIX).
DB = os.environ.get("BENCH_DB") or f"{harness.DB_PREFIX}_qj"
# The jobs of lead_scoring_queue_job (its methods are lead.scoring.model._job_*).
JOB_STATES = """
    SELECT state, count(*) FROM queue_job
     WHERE model_name = 'lead.scoring.model' AND method_name LIKE '\\_job\\_%' GROUP BY 1
"""
JOB_TOTALS = """
    SELECT count(*), sum(exec_time), sum(retry - 1) FROM queue_job
     WHERE model_name = 'lead.scoring.model' AND method_name LIKE '\\_job\\_%'
"""
JOB_KINDS = """
    SELECT method_name, count(*), sum(exec_time), max(exec_time) FROM queue_job
     WHERE model_name = 'lead.scoring.model' AND method_name LIKE '\\_job\\_%'
     GROUP BY 1 ORDER BY 3 DESC
"""
JOB_LONGEST = """
    SELECT name, exec_time FROM queue_job
     WHERE model_name = 'lead.scoring.model' AND method_name LIKE '\\_job\\_%'
     ORDER BY exec_time DESC LIMIT 3
"""
# Every job of the run: its duration and the jobs it waited for (uuids).
JOB_GRAPH = """
    SELECT uuid, exec_time, dependencies, name FROM queue_job
     WHERE model_name = 'lead.scoring.model' AND method_name LIKE '\\_job\\_%'
     ORDER BY date_created, id
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--deals", type=int, help="default: contacts / 5")
    parser.add_argument("--rules", type=int, default=20, help="rules over the 3 models")
    parser.add_argument(
        "--range-size", type=int, default=100_000, help="records per range job (id range)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threshold", type=float, default=50.0)
    parser.add_argument("--keep-db", action="store_true", help="keep the databases")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per run, at most")
    parser.add_argument("--log-level", default="warn", help="Odoo log level")
    parser.add_argument(
        "--simulate", metavar="DB", help="only simulate the jobs left in database DB"
    )
    args = parser.parse_args(argv)
    if args.deals is None:
        args.deals = args.contacts // 5
    # What harness.configure_odoo reads from the arguments.
    args.log_handler = []
    args.naive_size = min(10_000, args.contacts)
    return args


# ----------------------------------------------------------------------------
# Databases
# ----------------------------------------------------------------------------


def prepare(bench):
    """The template database: addon installed, data loaded, models configured."""
    args = bench.args
    harness.drop_database(DB)
    bench.databases.append(DB)
    print(f"Creating {DB}: installing {ADDON} ...", flush=True)
    harness.install_addon(DB, args.log_level, ADDON)
    bench.db, bench.rng = DB, random.Random(args.seed)
    harness.open_registry(bench)
    try:
        dataset.prepare_references(bench)
        first, _last = dataset.load_dataset(
            bench,
            f"load {args.contacts:,} contacts + {args.deals:,} deals",
            args.contacts,
            args.deals,
        )
        bench.refs["key_accounts"] = dataset.key_accounts(bench, first, first + args.naive_size - 1)
        scoring_models = dataset.create_scoring_models(bench, args.rules)
        bench.env["lead.scoring.threshold"].create(
            {
                "model_id": scoring_models["profile"].id,
                "name": "Sterk profiel: deal",
                "score": args.threshold,
                "action": "create_deal",
                "team_id": bench.refs["team"],
            }
        )
        bench.env["ir.config_parameter"].set_param(
            "lead_scoring_queue_job.range_size", str(args.range_size)
        )
        bench.cr.commit()
    finally:
        bench.cr.close()
        Registry.delete(DB)
        harness.odoo.sql_db.close_db(DB)


def clone(name):
    """A copy of the template database (a file copy: seconds)."""
    harness.drop_database(name)
    conn = psycopg2.connect(dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    pgsql.Identifier(name), pgsql.Identifier(DB)
                )
            )
    finally:
        conn.close()
    return name


def query(db, statement):
    conn = psycopg2.connect(dbname=db)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.close()


def outcome(db):
    """What a run left: ledger lines, open lines, points, scores, deals created."""
    return query(
        db,
        """
        SELECT (SELECT count(*) FROM lead_scoring_point),
               (SELECT count(*) FROM lead_scoring_point WHERE closed_date IS NULL),
               (SELECT round(sum(points)::numeric, 2) FROM lead_scoring_point),
               (SELECT count(*) FROM lead_scoring_score),
               (SELECT round(sum(score)::numeric, 2) FROM lead_scoring_score),
               (SELECT count(*) FROM crm_lead WHERE lead_scoring_threshold_id IS NOT NULL),
               (SELECT round(sum(contact_score)::numeric, 2) FROM res_partner)
        """,
    )[0]


# ----------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------


def enqueue(db):
    """What the scheduled action does with the addon: enqueue the job graph."""
    registry = Registry(db)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            if not env["lead.scoring.model"]._cron_recompute_scores():
                raise RuntimeError("nothing enqueued")
            cr.commit()
            started = time.perf_counter()
    finally:
        Registry.delete(db)
        harness.odoo.sql_db.close_db(db)
    return started


def run_plain(db):
    """The engine alone, in this process, as the cron runs it without the addon."""
    registry = Registry(db)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            models = env["lead.scoring.model"].with_context(active_test=False).search([])
            started = time.perf_counter()
            models._recompute_scores(commit=True)
            cr.commit()
            seconds = time.perf_counter() - started
    finally:
        Registry.delete(db)
        harness.odoo.sql_db.close_db(db)
    return seconds


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def odoo_server(db, capacity, log_path):
    """Odoo with 2 workers and the job runner on ``db``, stopped at the end."""
    port = free_port()
    env = dict(
        os.environ,
        ODOO_QUEUE_JOB_CHANNELS=f"root:{capacity},root.lead_scoring:{capacity}",
    )
    command = [
        sys.executable,
        *("-m", "odoo", "--addons-path", harness.addons_path(), "-d", db, f"--db-filter=^{db}$"),
        *("--http-interface=127.0.0.1", f"--http-port={port}", "--workers=2"),
        *("--max-cron-threads=0", "--load=base,web,queue_job", "--limit-time-real=7200"),
        *("--limit-time-cpu=7200", "--log-level=info"),
    ]
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_up(port, server, log_path)
        warm_up(port)
        yield server
    finally:
        stop(server)


def wait_until_up(port, server, log_path, timeout=120):
    """Until the server answers and its job runner watches the database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Odoo server stopped while starting, see {log_path}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=2):
                if "database connections ready" in Path(log_path).read_text():
                    return
        time.sleep(0.5)
    raise RuntimeError(f"the Odoo server did not answer in time, see {log_path}")


def warm_up(port):
    """Two requests at once, so that both workers load the registry before the
    clock starts (a worker in production has it loaded)."""

    def get(_index):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/login", timeout=120):
            pass

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(get, range(4)))


def stop(server):
    """SIGTERM to the server's own process group, SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def worker_peaks(server):
    """``{pid: peak RSS in MB}`` of the server's child processes (workers, job runner)."""
    peaks = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(server.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess, OSError):
                status = Path(f"/proc/{child.pid}/status").read_text()
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[child.pid] = int(line.split()[1]) / 1024
    return peaks


def run_jobs(db, capacity, timeout, log_path):
    """Enqueue the cold recompute and wait until every job is done."""
    with odoo_server(db, capacity, log_path) as server:
        idle = worker_peaks(server)
        started = enqueue(db)
        peaks = dict(idle)
        deadline = time.monotonic() + timeout
        while True:
            for pid, peak in worker_peaks(server).items():
                peaks[pid] = max(peak, peaks.get(pid, 0.0))
            states = dict(query(db, JOB_STATES))
            if set(states) == {"done"}:
                seconds = time.perf_counter() - started
                break
            if "failed" in states:
                raise RuntimeError(f"a job failed, see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not done after {timeout} s: {states}")
            time.sleep(0.2)
    jobs, job_seconds, retries = query(db, JOB_TOTALS)[0]
    longest = query(db, JOB_LONGEST)
    kinds = query(db, JOB_KINDS)
    return {
        "graph": job_graph(db),
        "seconds": seconds,
        "jobs": jobs,
        "job_seconds": job_seconds,
        "retries": retries,
        "longest": longest,
        "kinds": kinds,
        "idle_rss": max(idle.values(), default=0.0),
        "peak_rss": max(peaks.values(), default=0.0),
        "peaks": sorted(peaks.values(), reverse=True),
    }


def job_graph(db):
    """``(durations, parents, names)`` of the jobs of the run in ``db``, by uuid."""
    durations, parents, names = {}, {}, {}
    for uuid, seconds, dependencies, name in query(db, JOB_GRAPH):
        durations[uuid] = seconds or 0.0
        names[uuid] = name
        depends_on = json.loads(dependencies or "{}").get("depends_on") or []
        parents[uuid] = [parent for parent in depends_on if parent]
    return durations, parents, names


def simulation_lines(graph):
    """The simulated schedules of a run's jobs, and its critical path."""
    durations, parents, names = graph
    result = schedule.simulate(durations, parents)
    path = " -> ".join(f"{names[job]} {durations[job]:.1f} s" for job in result["path"])
    return [*schedule.table(result), f"critical path: {path}"], result


def main(argv=None):
    args = parse_args(argv)
    schedule.self_check()
    if args.simulate:
        print("\n".join(simulation_lines(job_graph(args.simulate))[0]))
        return
    bench = harness.Bench(args)
    harness.configure_odoo(args)
    logs = Path(harness.RESULTS_DIR)
    logs.mkdir(parents=True, exist_ok=True)
    runs = {}
    try:
        prepare(bench)
        plain_db = clone(f"{DB}_plain")
        bench.databases.append(plain_db)
        print("Engine alone (Recompute in this process) ...", flush=True)
        plain_seconds = run_plain(plain_db)
        print(f"  {plain_seconds:.1f} s", flush=True)
        for capacity in (1, 2):
            db = clone(f"{DB}_cap{capacity}")
            bench.databases.append(db)
            print(f"Job graph, 2 workers, channel capacity {capacity} ...", flush=True)
            runs[capacity] = run_jobs(
                db, capacity, args.timeout, logs / f"bench_queue_job_cap{capacity}.log"
            )
            print(f"  {runs[capacity]['seconds']:.1f} s", flush=True)
        report(args, plain_seconds, runs, [outcome(db) for db in bench.databases[1:]])
    finally:
        harness.release_databases(bench)


def report(args, plain_seconds, runs, outcomes):
    one, two = runs[1], runs[2]
    print()
    print(
        f"Cold recompute of {args.contacts:,} contacts and {args.deals:,} deals, "
        f"{args.rules} rules in 3 scoring models, ranges of {args.range_size:,} records, "
        f"on {os.cpu_count()} cores (PostgreSQL on the same cores)"
    )
    print(f"{'run':<42}{'wall s':>8}{'jobs':>6}{'job s':>8}{'retries':>8}{'peak RSS MB':>13}")
    print(f"{'engine alone (Recompute, one process)':<42}{plain_seconds:>8.1f}")
    for capacity, run in runs.items():
        print(
            f"{f'jobs, 2 workers, capacity {capacity}':<42}{run['seconds']:>8.1f}{run['jobs']:>6}"
            f"{run['job_seconds']:>8.1f}{run['retries']:>8}{run['peak_rss']:>13.0f}"
        )
    print(f"speedup capacity 2 / capacity 1: {one['seconds'] / two['seconds']:.2f}x")
    print(f"capacity 2 against the engine alone: {plain_seconds / two['seconds']:.2f}x")
    peak = max(one["peak_rss"], two["peak_rss"])
    # Odoo processes only: the short-lived helpers the asset build starts are a few MB.
    odoo_processes = ", ".join(f"{p:.0f}" for p in two["peaks"] if p >= MIN_ODOO_RSS_MB)
    print(
        f"worker RSS: {one['idle_rss']:.0f} MB idle, peak {peak:.0f} MB"
        f" (workers and job runner, capacity 2: {odoo_processes})"
    )
    for capacity, run in runs.items():
        print(
            f"job seconds by kind, capacity {capacity}: "
            + "; ".join(
                f"{name[5:]} {count} jobs {total:.1f} s (longest {longest:.1f})"
                for name, count, total, longest in run["kinds"]
            )
        )
    print("longest jobs (capacity 2): " + "; ".join(f"{n} {s:.1f} s" for n, s in two["longest"]))
    lines, simulated = simulation_lines(one["graph"])
    print()
    print(
        "Simulated on more workers, from the job durations of the capacity 1 run (each job"
        " alone), each job keeping its duration: PostgreSQL assumed not the bottleneck"
        " (a core per worker; here it shares the 2 cores with the workers)"
    )
    print("\n".join(lines))
    print(
        f"measured here, 2 workers: capacity 2 / capacity 1 "
        f"{one['seconds'] / two['seconds']:.2f}x (simulated for 2 workers: "
        f"{simulated['total'] / simulated['makespans'][2]:.2f}x)"
    )
    same = len(set(outcomes)) == 1
    print(
        "same ledger, scores and deals in the three runs: "
        + ("yes" if same else f"NO {outcomes}")
        + f" ({outcomes[0][0]:,} lines, {outcomes[0][3]:,} scores, {outcomes[0][5]:,} deals)"
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
