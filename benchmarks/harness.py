"""What every benchmark script shares: databases, the Odoo registry, COPY
loading, timing and query counting of steps, the report and JSON output.

Importing it has no side effect; the process must have been prepared first
(``startup.prepare_process()``: UTC clock, connection defaults, Odoo path).
The data set the benchmarks load is built by ``dataset.py``.
"""

import contextlib
import csv
import io
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import psycopg2
from psycopg2 import sql as pgsql

import odoo
from odoo import SUPERUSER_ID, api
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


def release_databases(bench):
    """Drop the benchmark's databases at its end, or keep them (``--keep-db``)."""
    for db in bench.databases:
        if bench.args.keep_db:
            print(f"Database {db} kept.")
        else:
            drop_database(db)
            print(f"Database {db} dropped.")


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
