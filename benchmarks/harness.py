"""What every benchmark script shares: databases, the Odoo registry, COPY
loading, timing and query counting of steps, the engine's run as a step, the
report and JSON output.

Importing it has no side effect; the process must have been prepared first
(``startup.prepare_process()``: UTC clock, connection defaults, Odoo path).
The data set the benchmarks load is built by ``dataset.py``.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import random
import resource
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2
from freezegun import freeze_time
from psycopg2 import sql as pgsql

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tools import SQL

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
DB_PREFIX = "lead_scoring_bench"
# Rows per COPY statement: bounds the memory of the loader whatever N is.
COPY_BATCH = 20_000
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# PostgreSQL settings that change the cold run's time (checkpoints, cache).
PG_SETTINGS = ("shared_buffers", "max_wal_size", "work_mem")


# ----------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    records: int
    seconds: float = 0.0
    queries: int = 0
    sql_seconds: float = 0.0
    rss_mb: float = 0.0
    rss_growth_mb: float = 0.0
    note: str = ""


def peak_rss_mb():
    # ru_maxrss is the peak resident set size of the process, in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Bench:
    """The database under test, its environment and the steps measured so far."""

    def __init__(self, args):
        self.args = args
        # One clock for the generated dates; rules compare with today at run time.
        self.now = datetime.now().replace(microsecond=0)
        self.steps = []
        self.results = {}
        self.databases = []
        self.db = self.registry = self.cr = self.env = self.rng = None
        self.refs = {}

    @contextlib.contextmanager
    def measure(self, name, records):
        """Time a step: wall time, SQL statements and time, growth of the peak RSS.

        Odoo counts every statement of a cursor in ``sql_log_count`` and, when
        the thread has ``query_count``/``query_time``, adds up their duration.
        """
        thread = threading.current_thread()
        thread.query_count, thread.query_time = 0, 0.0
        step = Step(name, records)
        queries = self.cr.sql_log_count
        rss = peak_rss_mb()
        start = time.perf_counter()
        yield step
        step.seconds = time.perf_counter() - start
        step.queries += self.cr.sql_log_count - queries
        step.sql_seconds = thread.query_time
        step.rss_mb = peak_rss_mb()
        step.rss_growth_mb = step.rss_mb - rss
        self.steps.append(step)
        print(
            f"  {name}: {step.seconds:.2f} s, {step.queries} queries"
            + (f" ({step.note})" if step.note else ""),
            flush=True,
        )


def status_kb(key):
    """A figure of this process's /proc/self/status, in kB (0 if absent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def measure_memory(bench, name, records):
    """``Bench.measure`` (time, queries), with the memory of the step itself:
    its peak RSS minus the RSS before it. The high-water mark is reset first
    (``/proc/self/clear_refs``), so an earlier peak (the data load, the cold
    run) cannot hide the step's own; that also resets ``ru_maxrss``, which the
    base measure reads, hence the figures are set after it. Only this
    process: PostgreSQL's memory is not in it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    before = status_kb("VmRSS")
    with bench.measure(name, records) as step:
        yield step
    step.rss_mb = status_kb("VmHWM") / 1024
    step.rss_growth_mb = (status_kb("VmHWM") - before) / 1024


def percentile_ms(durations, share):
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


# ----------------------------------------------------------------------------
# Database and registry
# ----------------------------------------------------------------------------


def addons_path():
    odoo_root = Path(odoo.__file__).resolve().parent.parent
    paths = [odoo_root / "addons", odoo_root / "odoo" / "addons", REPO]
    # The OCA addons `make deps` installs (tools/deps.sh), e.g. queue_job.
    oca = REPO / ".oca-addons" / "odoo" / "addons"
    return ",".join(str(path) for path in [*paths, *([oca] if oca.is_dir() else [])])


def drop_database(db):
    # Only databases this script names (lead_scoring_bench*) are ever dropped.
    assert db.startswith(DB_PREFIX), db
    Registry.delete(db)
    odoo.sql_db.close_db(db)
    conn = psycopg2.connect(dbname="postgres")
    try:
        conn.autocommit = True
        for attempt in range(10):
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            pgsql.Identifier(db)
                        )
                    )
                break
            except psycopg2.errors.InsufficientPrivilege:
                # An autovacuum worker, which only a superuser may stop, is
                # analysing the fresh tables: it finishes within seconds.
                if attempt == 9:
                    raise
                time.sleep(3)
    finally:
        conn.close()


def install_addon(db, log_level, addon="lead_scoring"):
    """Install an addon of this repository (default lead_scoring, without
    demo) and what it depends on in a fresh database.

    In a subprocess: the install loads every module's data, and doing it here
    would raise this process's peak RSS above what the benchmark wants to see.
    """
    command = [
        sys.executable,
        *("-m", "odoo", "--addons-path", addons_path(), "-d", db, "-i", addon),
        *("--without-demo=all", "--stop-after-init", "--no-http", "--max-cron-threads=0"),
        f"--log-level={log_level}",
    ]
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)


def configure_odoo(args):
    """Odoo's configuration, once per process (parse_config cannot run twice)."""
    odoo.tools.config.parse_config(
        [
            *("--addons-path", addons_path(), "--log-level", args.log_level),
            *(f"--log-handler={handler}" for handler in args.log_handler),
            *("--max-cron-threads=0", "--without-demo=all"),
        ],
        setup_logging=True,
    )


def open_registry(bench):
    bench.registry = Registry(bench.db)
    bench.cr = bench.registry.cursor()
    bench.env = api.Environment(bench.cr, SUPERUSER_ID, {})


@contextlib.contextmanager
def database(bench, db, prepare):
    """A fresh database with lead_scoring installed, open for the block's steps,
    ``prepare(bench)`` run first (``dataset.prepare_references``).

    bench_recompute.py gives its main phase and its naive comparison one each:
    the main phase's cold run must find a ledger nobody wrote nor analysed
    yet, as after an install (the comparison's churn would have let autovacuum
    analyse it). Each database is created with the same seed, so the naive one
    holds the first K contacts of the main one.
    """
    print(f"Creating database {db} and installing lead_scoring ...", flush=True)
    bench.databases.append(db)
    drop_database(db)
    start = time.perf_counter()
    install_addon(db, bench.args.log_level)
    print(f"  installed in {time.perf_counter() - start:.1f} s", flush=True)
    bench.db, bench.rng = db, random.Random(bench.args.seed)
    rss = peak_rss_mb()
    start = time.perf_counter()
    open_registry(bench)
    seconds = time.perf_counter() - start
    bench.steps.append(
        Step(f"open registry ({db})", 0, seconds, 0, 0.0, peak_rss_mb(), peak_rss_mb() - rss)
    )
    try:
        prepare(bench)
        yield
        bench.cr.commit()
    finally:
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(db)


def release_databases(bench):
    """Drop the benchmark's databases at its end, or keep them (``--keep-db``)."""
    for db in bench.databases:
        if bench.args.keep_db:
            print(f"Database {db} kept.")
        else:
            drop_database(db)
            print(f"Database {db} dropped.")


# ----------------------------------------------------------------------------
# The engine's run, as a step
# ----------------------------------------------------------------------------


def ledger_snapshot(bench):
    """(ledger lines, open lines, deals created by thresholds), outside measurements."""
    cr = bench.cr
    cr.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE closed_date IS NULL) FROM lead_scoring_point"
    )
    lines, open_lines = cr.fetchone()
    cr.execute("SELECT COUNT(*) FROM crm_lead WHERE lead_scoring_threshold_id IS NOT NULL")
    return lines, open_lines, cr.fetchone()[0]


def scores_changed_since(bench, since):
    """Score rows created or whose value changed from ``since`` on."""
    bench.cr.execute(
        SQL("SELECT COUNT(*) FROM lead_scoring_score WHERE date_last_change >= %s", since)
    )
    return bench.cr.fetchone()[0]


def active_records(bench):
    bench.cr.execute(
        "SELECT (SELECT COUNT(*) FROM res_partner WHERE active)"
        " + (SELECT COUNT(*) FROM crm_lead WHERE active)"
    )
    return bench.cr.fetchone()[0]


def refresh_statistics(bench):
    """VACUUM ANALYZE the engine's tables, as autovacuum does between two cron runs.

    Without it a run may be planned with the statistics of an empty ledger
    (autovacuum analysed it while the previous run's inserts were not yet
    committed) and take many times longer: see README.md, --no-analyze.
    VACUUM cannot run in a transaction, hence a connection of its own.
    """
    bench.cr.commit()
    conn = psycopg2.connect(dbname=bench.db)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "VACUUM (ANALYZE) lead_scoring_point, lead_scoring_score,"
                " lead_scoring_threshold_crossing"
            )
    finally:
        conn.close()


def recompute(bench, name, note="", analyze=True, full=False):
    """One cron run of the engine, committed, with what it changed in the note.

    :param analyze: refresh the statistics of the engine's tables first (not for
        a cold run: a fresh install has none)
    :param full: evaluate every rule on every record, as the cron does once a day
        (and "Recompute now" does), instead of on the records saved since the last run
    """
    if analyze and bench.args.analyze:
        refresh_statistics(bench)
    before = ledger_snapshot(bench)
    # Scores changed = rows written from this second on (ORM datetimes have no
    # fraction): start on a fresh second so the previous step's writes don't count.
    time.sleep(1 - time.time() % 1)
    since = fields.Datetime.now()
    with bench.measure(name, active_records(bench)) as step:
        scoring_models = bench.env["lead.scoring.model"].with_context(active_test=False)
        # What the cron runs, every rule on every record when ``full``.
        scoring_models.search([])._recompute_scores(commit=True, full=full)
        bench.cr.commit()
    lines, open_lines, deals = ledger_snapshot(bench)
    opened = lines - before[0]
    closed = before[1] + opened - open_lines
    step.note = ", ".join(
        filter(
            None,
            [
                note,
                f"lines +{opened:,} / closed {closed:,}",
                f"scores changed {scores_changed_since(bench, since):,}",
                f"deals created {deals - before[2]:,}" if deals > before[2] else "",
            ],
        )
    )
    return step


def turn_the_day(bench):
    """Put the rules and scoring models where the cron's first run after
    midnight finds them at its busiest: the relative dates of the rules'
    domains as they were yesterday (the day turned since) and a slice of the
    daily safety net due (its pass started 4 hours ago)."""
    # Importable once the registry has set up the addons path.
    from odoo.addons.lead_scoring.engine import (  # noqa: PLC0415
        FULL_EVALUATION_INTERVAL,
        SAFETY_NET_SLICES,
    )

    rules = bench.env["lead.scoring.rule"].search([])
    with freeze_time(fields.Datetime.now() - timedelta(days=1)):
        old_domains = {rule.id: repr(rule._match_domain()) for rule in rules}
    rules.flush_model()
    for rule in rules:
        if rule.evaluated_domain != old_domains[rule.id]:
            bench.cr.execute(
                SQL(
                    "UPDATE lead_scoring_rule SET evaluated_domain = %s WHERE id = %s",
                    old_domains[rule.id],
                    rule.id,
                )
            )
    bench.cr.execute(
        SQL(
            "UPDATE lead_scoring_model SET date_safety_net = %s, safety_net_id = 0",
            fields.Datetime.now() - FULL_EVALUATION_INTERVAL / SAFETY_NET_SLICES,
        )
    )
    bench.cr.commit()
    bench.env.invalidate_all()


# ----------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------


def segments_parser(description):
    """The options of the scripts on the --segments data set with a history
    (``dataset.build_with_history``): bench_preview.py, bench_insight.py."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--contacts", type=int, default=1_000_000, help="res.partner records")
    result.add_argument("--deals", type=int, help="crm.lead records (default: contacts / 5)")
    result.add_argument("--seed", type=int, default=42)
    result.add_argument("--db", default=f"{DB_PREFIX}_preview", help=f"starts with {DB_PREFIX}")
    result.add_argument("--keep-db", action="store_true", help="do not drop the database")
    result.add_argument(
        "--json", nargs="?", const="", default=None, metavar="PATH", help="write JSON results"
    )
    result.add_argument(
        "--show-queries",
        action="store_true",
        help="print the statements of the contact form reads and the slowest of the filters",
    )
    result.add_argument("--log-level", default="warn", help="Odoo log level")
    result.add_argument("--log-handler", action="append", default=[], metavar="PREFIX:LEVEL")
    return result


def check_segments_args(parse, args):
    """``args`` of ``segments_parser`` checked, with their defaults set."""
    if not args.db.startswith(DB_PREFIX):
        parse.error(f"--db must start with {DB_PREFIX} (the script drops it)")
    if args.contacts < 1000:
        parse.error("--contacts must be at least 1,000")
    if args.deals is None:
        args.deals = args.contacts // 5
    # What recompute and database expect.
    args.analyze = True
    args.segments = True
    return args


# ----------------------------------------------------------------------------
# COPY loading
# ----------------------------------------------------------------------------


def fmt_date(value):
    return value.strftime(DATE_FORMAT)


def sql_bool(value):
    return "t" if value else "f"


def copy_rows(cr, table, columns, rows):
    """COPY ``rows`` (tuples, None = NULL) into ``table``; returns the row count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    if not count:
        return 0
    buffer.seek(0)
    statement = SQL(
        "COPY %s (%s) FROM STDIN WITH (FORMAT csv)",
        SQL.identifier(table),
        SQL(", ").join(SQL.identifier(column) for column in columns),
    )
    cr.copy_expert(statement.code, buffer)
    return count


def next_id(cr, table):
    cr.execute(SQL("SELECT COALESCE(MAX(id), 0) + 1 FROM %s", SQL.identifier(table)))
    return cr.fetchone()[0]


def reset_sequence(cr, table):
    # Rows were copied with explicit ids: move the sequence past them.
    cr.execute(
        SQL(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), MAX(id)) FROM %s",
            table,
            SQL.identifier(table),
        )
    )


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


def machine_info(bench):
    bench.cr.execute(
        "SELECT name, current_setting(name) FROM unnest(%s::text[]) name", [list(PG_SETTINGS)]
    )
    settings = ", ".join(f"{name} {value}" for name, value in bench.cr.fetchall())
    bench.cr.execute("SHOW server_version")
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), cpu)
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "ram_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3,
        "python": platform.python_version(),
        "postgresql": bench.cr.fetchone()[0],
        "postgresql_settings": settings,
        "odoo": odoo.release.version,
    }


def table_sizes(bench):
    """Rows and disk size (with indexes) of the scored and the engine's tables."""
    sizes = {}
    for table in ("res_partner", "crm_lead", "lead_scoring_point", "lead_scoring_score"):
        bench.cr.execute(
            SQL("SELECT COUNT(*), pg_total_relation_size(%s) FROM %s", table, SQL.identifier(table))
        )
        rows, size = bench.cr.fetchone()
        sizes[table] = {"rows": rows, "mb": size / 1024**2}
    return sizes


def machine_line(machine):
    """The machine, as the first lines of a report name it."""
    return (
        f"machine: {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs, "
        f"{machine['ram_gb']:.1f} GB RAM; Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']} ({machine['postgresql_settings']}), "
        f"Odoo {machine['odoo']}"
    )


def print_steps(bench):
    """The steps measured, one line each (time, queries, SQL time, peak RSS),
    then the note of each."""
    header = (
        f"{'step':<46} {'records':>9} {'seconds':>9} {'queries':>8} {'SQL s':>7}"
        f" {'RSS MB':>7} {'+RSS MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for step in bench.steps:
        print(
            f"{step.name[:46]:<46} {step.records:>9,} {step.seconds:>9.2f} {step.queries:>8,} "
            f"{step.sql_seconds:>7.2f} {step.rss_mb:>7.0f} {step.rss_growth_mb:>8.1f}"
        )
    print()
    for step in bench.steps:
        if step.note:
            print(f"  {step.name}: {step.note}")


def write_json(bench, machine, path, name="bench_recompute"):
    """Write the arguments, machine, steps and results to ``path`` (default:
    ``RESULTS_DIR/<name>-<time>.json``)."""
    path = (
        Path(path)
        if path
        else RESULTS_DIR / (f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "arguments": {k: v for k, v in vars(bench.args).items() if k != "json"},
        "machine": machine,
        "steps": [asdict(step) for step in bench.steps],
        **bench.results,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"JSON written to {path}")
