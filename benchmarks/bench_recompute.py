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
import csv
import io
import itertools
import json
import os
import platform
import random
import resource
import subprocess
import sys
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

# Odoo stores naive UTC datetimes; the process clock must be UTC before Odoo loads.
os.environ["TZ"] = "UTC"
time.tzset()
# Same connection defaults as tools/odoo.sh; libpq reads them, so does Odoo.
for _name, _value in {
    "PGHOST": "127.0.0.1",
    "PGPORT": "5432",
    "PGUSER": "odoo",
    "PGPASSWORD": "odoo",
}.items():
    os.environ.setdefault(_name, _value)
# As in tools/odoo.sh: ODOO_PATH, when set, is the Odoo 18 checkout to use (here
# and in the install subprocess).
if os.environ.get("ODOO_PATH"):
    sys.path.insert(0, os.environ["ODOO_PATH"])
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.environ["ODOO_PATH"], os.environ.get("PYTHONPATH")])
    )

import psycopg2
from psycopg2 import sql as pgsql

try:
    import odoo
except ImportError:
    sys.exit(
        "ERROR: Odoo 18.0 is not importable by python3. "
        "Fix: export ODOO_PATH=/path/to/odoo-18.0 (an Odoo 18 checkout with its requirements)."
    )
from odoo import SUPERUSER_ID, api, fields
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tools import SQL
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
DB_PREFIX = "lead_scoring_bench"
# Rows per COPY statement: bounds the memory of the loader whatever N is.
COPY_BATCH = 20_000
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# ----------------------------------------------------------------------------
# Realistic data pools (a Dutch B2B company selling across Europe)
# ----------------------------------------------------------------------------

FIRST_NAMES = [
    "Anna", "Bram", "Daan", "Emma", "Fleur", "Jan", "Julia", "Lars", "Lotte", "Luuk",
    "Mila", "Noah", "Pieter", "Sanne", "Sem", "Sophie", "Thijs", "Tess", "Wouter",
    "Zoë", "Lukas", "Marie", "Hannah", "Oliver", "Charlotte", "James", "Léa", "Hugo",
    "Elena", "Marco", "Sofia", "Erik", "Ingrid", "Piotr", "Agnieszka", "José", "Carmen",
    "Olivia", "Liam", "Yusuf", "Fatima", "Mohamed", "Nina", "Jasper", "Ruben", "Joëlle",
    "Björn",
]  # fmt: skip
LAST_NAMES = [
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker",
    "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
    "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Müller", "Schmidt",
    "Schneider", "Fischer", "Smith", "Jones", "Taylor", "Brown", "Martin",
    "Bernard", "Dubois", "Rossi", "Russo", "García", "Fernández", "Andersson",
    "Nowak", "Kowalski", "Peeters", "Maes", "Claes", "Willems", "Yilmaz",
    "El Amrani",
]  # fmt: skip
# (country code, weight, cities, top-level domain, time zone, phone prefix);
# None = contact without a country.
COUNTRIES = [
    ("NL", 38, ["Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven",
                "Groningen", "Zwolle", "Haarlem", "Nijmegen", "Breda"],
     "nl", "Europe/Amsterdam", "+31"),
    ("BE", 12, ["Brussel", "Antwerpen", "Gent", "Leuven", "Brugge", "Liège"],
     "be", "Europe/Brussels", "+32"),
    ("DE", 10, ["Berlin", "Hamburg", "München", "Köln", "Düsseldorf"],
     "de", "Europe/Berlin", "+49"),
    ("GB", 7, ["London", "Manchester", "Bristol", "Leeds", "Edinburgh"],
     "co.uk", "Europe/London", "+44"),
    ("FR", 6, ["Paris", "Lyon", "Lille", "Marseille", "Toulouse"],
     "fr", "Europe/Paris", "+33"),
    ("US", 8, ["New York", "Chicago", "Austin", "Seattle", "Boston"],
     "com", "America/New_York", "+1"),
    ("ES", 3, ["Madrid", "Barcelona", "Valencia"], "es", "Europe/Madrid", "+34"),
    ("IT", 3, ["Milano", "Roma", "Torino"], "it", "Europe/Rome", "+39"),
    ("SE", 2, ["Stockholm", "Göteborg"], "se", "Europe/Stockholm", "+46"),
    ("PL", 3, ["Warszawa", "Kraków", "Gdańsk"], "pl", "Europe/Warsaw", "+48"),
    (None, 8, [None], "com", None, None),
]  # fmt: skip
FREE_MAIL = [
    ("gmail.com", 30), ("outlook.com", 12), ("hotmail.com", 12), ("yahoo.com", 5),
    ("icloud.com", 4), ("ziggo.nl", 6), ("kpnmail.nl", 4), ("live.nl", 4),
    ("web.de", 3), ("orange.fr", 3), ("telenet.be", 3),
]  # fmt: skip
JOB_TITLES = [
    ("CEO", 3), ("CTO", 2), ("CFO", 1), ("Managing Director", 2),
    ("Sales Director", 2), ("Marketing Manager", 5), ("Sales Manager", 5),
    ("Account Manager", 6), ("Office Manager", 4), ("Inkoper", 4),
    ("Purchasing Manager", 3), ("Software Developer", 6), ("Consultant", 6),
    ("Projectleider", 4), ("HR Advisor", 3), ("Student", 3), ("Eigenaar", 3),
    ("Director of Operations", 2), (None, 20),
]  # fmt: skip
COMPANY_WORDS = [
    "Noord", "Zuid", "Delta", "Polder", "Tulip", "Atlas", "Nova", "Orion", "Vector",
    "Blue", "Green", "Smart", "Prime", "Alpha", "Nexus", "Horizon", "Apex", "Zenith",
    "Lumen", "Vertex", "Solid", "Bright", "Rapid", "Quantum", "Pioneer", "Dijk",
    "Molen", "Haven", "Brug", "Toren",
]  # fmt: skip
COMPANY_KINDS = [
    "Logistics", "Software", "Consulting", "Bouw", "Techniek", "Media", "Food",
    "Energy", "Health", "Finance", "Retail", "Solutions", "Systems", "Group",
    "Partners", "Labs",
]  # fmt: skip
LEGAL_FORMS = {
    "NL": ["B.V.", "N.V.", "V.O.F."], "BE": ["BV", "NV"], "DE": ["GmbH", "AG"],
    "GB": ["Ltd", "PLC"], "FR": ["SARL", "SAS"], "US": ["Inc.", "LLC"],
}  # fmt: skip
STREETS = [
    "Hoofdstraat", "Kerkstraat", "Stationsweg", "Dorpsstraat", "Industrieweg",
    "Marktplein", "Havenweg", "Schoolstraat", "Molenweg", "Parklaan",
]  # fmt: skip
PARTNER_TAGS = [
    ("Klant", 14), ("Prospect", 18), ("VIP", 3), ("Partner", 4), ("Leverancier", 4),
    ("Concurrent", 1), ("Nieuwsbrief", 25), ("Event 2024", 6), ("Event 2025", 6),
    ("Webinar", 8), ("Reseller", 3), ("Pers", 1),
]  # fmt: skip
CRM_TAGS = [
    ("Software", 30), ("Services", 20), ("Consulting", 15), ("Training", 10),
    ("Hardware", 8), ("Upsell", 10), ("Renewal", 7),
]  # fmt: skip
DEAL_PRODUCTS = (
    "Implementatie", "Licenties", "Supportcontract", "Training", "Consultancy",
    "Migratie", "Upgrade", "Onderhoud",
)  # fmt: skip
# Stage name -> (weight among opportunities, probability).
DEAL_STAGES = {
    "New": (35, 10.0),
    "Qualified": (25, 30.0),
    "Proposition": (20, 60.0),
    "Won": (20, 100.0),
}

PARTNER_COLUMNS = (
    "id", "name", "complete_name", "type", "lang", "tz", "active", "is_company",
    "employee", "partner_share", "parent_id", "commercial_partner_id",
    "commercial_company_name", "email", "email_normalized", "phone", "street",
    "zip", "city", "country_id", "function", "website", "color", "message_bounce",
    "contact_score", "create_uid", "create_date", "write_uid", "write_date",
)  # fmt: skip
LEAD_COLUMNS = (
    "id", "name", "type", "active", "company_id", "team_id", "user_id", "stage_id",
    "partner_id", "priority", "expected_revenue", "prorated_revenue", "probability",
    "color", "message_bounce", "deal_score", "date_open", "date_last_stage_update",
    "date_closed", "create_uid", "create_date", "write_uid", "write_date",
)  # fmt: skip


# Columns every copied row gets, as the ORM's defaults would have set them.
PARTNER_DEFAULTS = {
    "type": "contact",
    "lang": "en_US",
    "is_company": "f",
    "employee": "f",
    "partner_share": "t",
    "color": 0,
    "message_bounce": 0,
    "contact_score": 0.0,
    "create_uid": SUPERUSER_ID,
    "write_uid": SUPERUSER_ID,
}
LEAD_DEFAULTS = {
    "color": 0,
    "message_bounce": 0,
    "deal_score": 0.0,
    "create_uid": SUPERUSER_ID,
    "write_uid": SUPERUSER_ID,
}
# Contacts per company: (count, weight).
COMPANY_SIZES = [(0, 20), (1, 20), (2, 20), (3, 15), (5, 15), (8, 8), (15, 2)]


def weighted(rng, pairs):
    """One value of ``[(value, weight), ...]``."""
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


def slug(text):
    """ASCII, lower case, no spaces: what an e-mail address or domain is made of."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def fmt_date(value):
    return value.strftime(DATE_FORMAT)


def sql_bool(value):
    return "t" if value else "f"


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


# ----------------------------------------------------------------------------
# Database
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


def create_contacts(bench, count):
    """``count`` contacts with a name and an e-mail, committed (crons off)."""
    env = bench.env
    env["ir.cron"].search([]).write({"active": False})
    names = [
        f"{bench.rng.choice(FIRST_NAMES)} {bench.rng.choice(LAST_NAMES)}" for _ in range(count)
    ]
    partners = env["res.partner"].create(
        [
            {"name": name, "email": f"{slug(name)}.{index}@example.nl"}
            for index, name in enumerate(names)
        ]
    )
    bench.cr.commit()
    return partners


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
# Data generation and loading
# ----------------------------------------------------------------------------


class PartnerGenerator:
    """Streams res.partner rows: companies with child contacts, and individuals."""

    def __init__(self, rng, refs, now):
        self.rng = rng
        self.countries = refs["countries"]
        self.tags = refs["partner_tags"]
        self.now = now
        # The company whose contacts come next: (id, name, domain, country, city).
        self.company = None
        self.children_left = 0

    def rows(self, first_id, count):
        """Yield ``(partner row, tag ids)`` for ``count`` partners from ``first_id``."""
        for partner_id in range(first_id, first_id + count):
            if self.children_left > 0:
                self.children_left -= 1
                values, country = self.child(partner_id)
            elif self.rng.random() < 0.10:
                values, country = self.new_company(partner_id)
            else:
                values, country = self.individual(partner_id)
            yield self.row(partner_id, country, values), self.tag_ids()

    def new_company(self, partner_id):
        rng = self.rng
        country = weighted(rng, [(c, c[1]) for c in COUNTRIES])
        base = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
        name = f"{base} {rng.choice(LEGAL_FORMS.get(country[0], ['Ltd']))}"
        domain = f"{slug(base)}{rng.randint(1, 999)}.{country[3]}"
        city = rng.choice(country[2])
        self.company = (partner_id, name, domain, country, city)
        self.children_left = weighted(rng, COMPANY_SIZES)
        values = {
            "name": name,
            "complete_name": name,
            "is_company": "t",
            "commercial_company_name": name,
            "email": f"info@{domain}",
            "city": city,
            "website": f"https://www.{domain}",
        }
        return values, country

    def child(self, partner_id):
        company_id, company_name, domain, country, city = self.company
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        values = {
            "name": name,
            "complete_name": f"{company_name}, {name}",
            "parent_id": company_id,
            "commercial_partner_id": company_id,
            "commercial_company_name": company_name,
            "email": f"{slug(first)}.{slug(last)}@{domain}",
            "city": city,
            "function": weighted(self.rng, JOB_TITLES),
        }
        if self.rng.random() < 0.05:
            values["email"] = None
        return values, country

    def individual(self, partner_id):
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = weighted(rng, [(c, c[1]) for c in COUNTRIES])
        roll = rng.random()
        if roll < 0.07:
            email = None
        elif roll < 0.15:  # own domain
            email = f"{slug(first)}@{slug(last)}{rng.randint(1, 99)}.{country[3]}"
        else:
            suffix = rng.choice(["", "", str(rng.randint(1, 99))])
            email = f"{slug(first)}.{slug(last)}{suffix}@{weighted(rng, FREE_MAIL)}"
        values = {
            "name": f"{first} {last}",
            "complete_name": f"{first} {last}",
            "email": email,
            "city": rng.choice(country[2]),
            "function": weighted(rng, JOB_TITLES),
        }
        return values, country

    def row(self, partner_id, country, values):
        """The COPY row: what the ORM would have stored for these values."""
        rng = self.rng
        created = self.now - timedelta(seconds=rng.uniform(0, 6 * 365 * 86400))
        written = created + (self.now - created) * rng.random()
        email = values.get("email")
        values = {
            **PARTNER_DEFAULTS,
            "id": partner_id,
            "commercial_partner_id": partner_id,
            "active": sql_bool(rng.random() >= 0.01),
            "tz": country[4],
            "country_id": self.countries.get(country[0]),
            "email_normalized": email and email.lower(),
            "phone": country[5] and f"{country[5]} {rng.randint(10**8, 10**9 - 1)}",
            "street": f"{rng.choice(STREETS)} {rng.randint(1, 250)}",
            "zip": str(rng.randint(1000, 9999)),
            "create_date": fmt_date(created),
            "write_date": fmt_date(written),
            **values,
        }
        return tuple(values.get(column) for column in PARTNER_COLUMNS)

    def tag_ids(self):
        count = weighted(self.rng, [(0, 35), (1, 35), (2, 20), (3, 10)])
        names = {weighted(self.rng, PARTNER_TAGS) for _ in range(count)}
        return [self.tags[name] for name in names]


def load_partners(bench, rng, count):
    """COPY ``count`` partners in batches; returns (first id, last id, statements)."""
    cr = bench.cr
    first_id = next_id(cr, "res_partner")
    generator = PartnerGenerator(rng, bench.refs, bench.now)
    rows = generator.rows(first_id, count)
    statements = 0
    while batch := list(itertools.islice(rows, COPY_BATCH)):
        copy_rows(cr, "res_partner", PARTNER_COLUMNS, (row for row, _ in batch))
        tag_rows = ((tag, row[0]) for row, tags in batch for tag in tags)
        copy_rows(
            cr, "res_partner_res_partner_category_rel", ("category_id", "partner_id"), tag_rows
        )
        statements += 2
    reset_sequence(cr, "res_partner")
    return first_id, first_id + count - 1, statements


def deal_rows(rng, refs, now, first_id, count, partner_range):
    """Yield ``(crm.lead row, tag ids)``; contact data is copied from the partner later."""
    for lead_id in range(first_id, first_id + count):
        opportunity = rng.random() < 0.85
        stage = weighted(rng, [(s, w) for s, (w, _) in DEAL_STAGES.items()])
        stage = stage if opportunity else "New"
        lost = stage != "Won" and rng.random() < 0.12
        probability = 0.0 if lost else DEAL_STAGES[stage][1]
        revenue = round(rng.lognormvariate(9.0, 1.1), -2)
        created = now - timedelta(seconds=rng.uniform(0, 3 * 365 * 86400))
        written = fmt_date(created + (now - created) * rng.random())
        values = {
            **LEAD_DEFAULTS,
            "id": lead_id,
            "name": f"{rng.choice(DEAL_PRODUCTS)} {rng.choice(COMPANY_WORDS)}",
            "type": "opportunity" if opportunity else "lead",
            "active": sql_bool(not lost),
            "company_id": refs["company"],
            "team_id": refs["team"],
            "user_id": refs["user"],
            "stage_id": refs["stages"][stage],
            "partner_id": rng.randint(*partner_range) if rng.random() < 0.9 else None,
            "priority": weighted(rng, [("0", 50), ("1", 30), ("2", 15), ("3", 5)]),
            "expected_revenue": revenue,
            "prorated_revenue": round(revenue * probability / 100, 2),
            "probability": probability,
            "create_date": fmt_date(created),
            "date_open": fmt_date(created),
            "date_last_stage_update": written,
            "date_closed": written if stage == "Won" else None,
            "write_date": written,
        }
        tags = {weighted(rng, CRM_TAGS) for _ in range(rng.choice([0, 1, 1, 2]))}
        row = tuple(values.get(column) for column in LEAD_COLUMNS)
        yield row, [refs["crm_tags"][name] for name in tags]


def load_deals(bench, rng, count, partner_range):
    """COPY ``count`` deals for partners in ``partner_range``; returns statements run."""
    cr = bench.cr
    first_id = next_id(cr, "crm_lead")
    rows = deal_rows(rng, bench.refs, bench.now, first_id, count, partner_range)
    statements = 0
    while batch := list(itertools.islice(rows, COPY_BATCH)):
        copy_rows(cr, "crm_lead", LEAD_COLUMNS, (row for row, _ in batch))
        tag_rows = ((row[0], tag) for row, tags in batch for tag in tags)
        copy_rows(cr, "crm_tag_rel", ("lead_id", "tag_id"), tag_rows)
        statements += 2
    reset_sequence(cr, "crm_lead")
    # A deal's contact data is its customer's, and it is not older than its customer.
    cr.execute(
        SQL(
            """
            UPDATE crm_lead l
               SET email_from = p.email, email_normalized = p.email_normalized,
                   country_id = p.country_id, city = p.city,
                   contact_name = CASE WHEN p.is_company THEN NULL ELSE p.name END,
                   partner_name = p.commercial_company_name,
                   create_date = GREATEST(l.create_date, p.create_date),
                   date_open = GREATEST(l.date_open, p.create_date),
                   date_last_stage_update = GREATEST(l.date_last_stage_update, p.create_date),
                   write_date = GREATEST(l.write_date, p.create_date)
              FROM res_partner p
             WHERE p.id = l.partner_id AND l.id >= %s
            """,
            first_id,
        )
    )
    return statements + 1


def load_dataset(bench, name, contacts, deals):
    """Load contacts, then deals whose customers are among them.

    :return: (first id, last id) of the new partners
    """
    rng = bench.rng
    with bench.measure(name, contacts + deals) as step:
        first, last, statements = load_partners(bench, rng, contacts)
        statements += load_deals(bench, rng, deals, (first, last))
        # Fresh planner statistics, as autovacuum would have them on a live database.
        bench.cr.execute(
            "ANALYZE res_partner, crm_lead, res_partner_res_partner_category_rel, crm_tag_rel"
        )
        bench.cr.commit()
        bench.env.invalidate_all()
        step.queries += statements
        step.note = f"COPY in batches of {COPY_BATCH:,}"
    return first, last


# ----------------------------------------------------------------------------
# Configuration through the ORM
# ----------------------------------------------------------------------------


def prepare_references(bench):
    """Tags, stages, countries and the like that data and rules refer to."""
    env = bench.env
    # No cron worker of another Odoo process may run jobs in this database mid-measure.
    env["ir.cron"].search([]).write({"active": False})
    partner_tags = env["res.partner.category"].create([{"name": n} for n, _ in PARTNER_TAGS])
    crm_tags = env["crm.tag"].create([{"name": n} for n, _ in CRM_TAGS])
    codes = [c[0] for c in COUNTRIES if c[0]]
    countries = env["res.country"].search([("code", "in", codes)])
    stages = env["crm.stage"].search([])
    # Fields the naive loop writes its scores to: never the engine's tables.
    for model, names in (
        ("res.partner", ("x_naive_engagement", "x_naive_profile")),
        ("crm.lead", ("x_naive_deal",)),
    ):
        env["ir.model.fields"].create(
            [
                {
                    "name": n,
                    "field_description": n,
                    "model_id": env["ir.model"]._get_id(model),
                    "ttype": "float",
                    "state": "manual",
                }
                for n in names
            ]
        )
    bench.refs = {
        "partner_tags": {t.name: t.id for t in partner_tags},
        "crm_tags": {t.name: t.id for t in crm_tags},
        "countries": {c.code: c.id for c in countries},
        "stages": {s.name: s.id for s in stages},
        "company": env.company.id,
        "team": env.ref("sales_team.team_sales_department").id,
        "user": env.ref("base.user_admin").id,
    }
    bench.cr.commit()


def key_accounts(bench, first, last):
    """The three companies with the most contacts among the given partners."""
    bench.cr.execute(
        SQL(
            """
            SELECT parent_id FROM res_partner
             WHERE parent_id BETWEEN %s AND %s AND active
             GROUP BY parent_id ORDER BY COUNT(*) DESC, parent_id LIMIT 3
            """,
            first,
            last,
        )
    )
    return [row[0] for row in bench.cr.fetchall()]


def pick(values, variant):
    return values[variant % len(values)]


def older_than(field_name, unit, amount, operator="<"):
    """Domain text "field before today minus amount unit", evaluated at each run."""
    return (
        f"[('{field_name}', '{operator}', (context_today() - relativedelta("
        f"{unit}={amount})).strftime('%Y-%m-%d'))]"
    )


@dataclass
class RuleSpec:
    name: str
    domain: str  # the text a marketer would save (Odoo domain, evaluated safely)
    points: float
    expire_after: int = 0
    expire_unit: str = "months"


# Rule catalogues: each builder gets the references and a variant number (0 for
# the first 20 rules, 1, 2, ... when --rules asks for more: other countries,
# tags, amounts) and returns a RuleSpec. Together they cover =, !=, in, not in,
# ilike, not ilike, =ilike, child_of, dates relative to today, numeric ranges
# and paths through many2one fields.
def _profile_rules():
    codes = [c[0] for c in COUNTRIES if c[0]]
    served = [["NL", "BE", "DE"], ["NL", "BE"], ["NL", "BE", "DE", "GB", "FR"]]
    free_mail = [["gmail.com", "hotmail.com", "outlook.com"], ["yahoo.com", "icloud.com"]]
    deciders = [["director", "ceo"], ["manager", "eigenaar"], ["cto", "cfo"]]
    customer_tags = [["Klant", "VIP"], ["Partner", "Reseller"], ["Prospect"]]

    def country(refs, v):
        code = pick(codes, v)
        domain = [("country_id", "=", refs["countries"][code])]
        return RuleSpec(f"Land is {code}", repr(domain), 20 if v == 0 else 5)

    def not_served(refs, v):
        ids = [refs["countries"][c] for c in pick(served, v)]
        return RuleSpec("Land niet bediend", repr([("country_id", "not in", ids)]), -10)

    def business_email(refs, v):
        domain = [("email", "!=", False)]
        domain += [("email", "not ilike", f"@{d}") for d in pick(free_mail, v)]
        return RuleSpec("Zakelijk e-mailadres", repr(domain), 5)

    def decision_maker(refs, v):
        words = pick(deciders, v)
        domain = ["|"] * (len(words) - 1) + [("function", "ilike", w) for w in words]
        return RuleSpec("Beslisser", repr(domain), 15)

    def company(refs, v):
        leaf = ("is_company", "=", True) if v % 2 == 0 else ("parent_id", "!=", False)
        return RuleSpec("Bedrijf", repr([leaf]), 10)

    def customer(refs, v):
        ids = [refs["partner_tags"][t] for t in pick(customer_tags, v)]
        return RuleSpec("Klant of VIP", repr([("category_id", "in", ids)]), 15)

    def key_account(refs, v):
        accounts = refs["key_accounts"]
        ids = accounts[v % len(accounts) :] if accounts else []
        return RuleSpec("Key account", repr([("id", "child_of", ids)]), 25)

    def old_contact(refs, v):
        return RuleSpec("Oud contact", older_than("create_date", "years", 3 + v), -5)

    return [
        *(country, not_served, business_email, decision_maker),
        *(company, customer, key_account, old_contact),
    ]


def _engagement_rules():
    tags = [["Nieuwsbrief"], ["Webinar"], ["Pers"]]
    events = [["Event 2024", "Event 2025"], ["Webinar"]]

    def newsletter(refs, v):
        ids = [refs["partner_tags"][t] for t in pick(tags, v)]
        return RuleSpec("Nieuwsbrief", repr([("category_id", "in", ids)]), 5)

    def event(refs, v):
        ids = [refs["partner_tags"][t] for t in pick(events, v)]
        domain = repr([("category_id", "in", ids)])
        return RuleSpec("Eventbezoeker", domain, 10, expire_after=12)

    def recent(refs, v):
        domain = older_than("create_date", "days", 90 * (v + 1), operator=">=")
        return RuleSpec("Nieuw contact", domain, 10, expire_after=3)

    def local_mail(refs, v):
        domain = [("email", "=ilike", f"%{pick(['.nl', '.be', '.de'], v)}")]
        return RuleSpec("Lokaal e-maildomein", repr(domain), 3)

    def no_email(refs, v):
        leaf = ("email", "=", False) if v % 2 == 0 else ("phone", "=", False)
        return RuleSpec("Onbereikbaar", repr([leaf]), -20)

    return [newsletter, event, recent, local_mail, no_email]


def _deal_rules():
    stage_sets = [(["Qualified", "Proposition"], 15), (["Proposition"], 20), (["New"], -5)]
    priorities = [(["2", "3"], 10), (["3"], 15), (["0"], -5)]

    def revenue_mid(refs, v):
        low, high = 10_000 * (v + 1), 50_000 * (v + 1)
        domain = [("expected_revenue", ">=", low), ("expected_revenue", "<", high)]
        return RuleSpec("Omzet middelgroot", repr(domain), 10)

    def revenue_high(refs, v):
        domain = [("expected_revenue", ">=", 50_000 * (v + 1))]
        return RuleSpec("Omzet groot", repr(domain), 25)

    def stage(refs, v):
        names, points = pick(stage_sets, v)
        ids = [refs["stages"][n] for n in names]
        return RuleSpec("Fase", repr([("stage_id", "in", ids)]), points)

    def priority(refs, v):
        values, points = pick(priorities, v)
        return RuleSpec("Prioriteit", repr([("priority", "in", values)]), points)

    def old_deal(refs, v):
        return RuleSpec("Oude deal", older_than("create_date", "months", 6 * (v + 1)), -15)

    def customer_country(refs, v):
        domain = [("partner_id.country_id.code", "=", pick(["NL", "BE", "DE"], v))]
        return RuleSpec("Klant in land", repr(domain), 5)

    def free_mail(refs, v):
        domain = [("email_from", "not ilike", pick(["gmail.com", "hotmail.com"], v))]
        return RuleSpec("Geen gratis e-mail", repr(domain), 3)

    return [*(revenue_mid, revenue_high, stage, priority), *(old_deal, customer_country, free_mail)]


def rule_plan(count):
    """``[(model key, builder, variant)]``: the models' catalogues interleaved so
    that a small --rules still covers every model, cycled with new variants
    for a large one."""
    catalogues = {
        "engagement": _engagement_rules(),
        "profile": _profile_rules(),
        "deal": _deal_rules(),
    }
    interleaved = [
        (key, builders[i])
        for i in range(max(map(len, catalogues.values())))
        for key, builders in catalogues.items()
        if i < len(builders)
    ]
    return [(*interleaved[i % len(interleaved)], i // len(interleaved)) for i in range(count)]


def create_scoring_models(bench, rules):
    """Two contact models and one deal model with ``rules`` rules and bands."""
    env = bench.env
    bands = [("Koud", 0, 4), ("Warm", 20, 2), ("Heet", 50, 1)]
    specs = {
        # Engagement comes first: it gives contact_score, and Adjust score feeds it.
        "engagement": {
            "name": "Betrokkenheid",
            "target": "contact",
            "sequence": 1,
            "use_min_score": True,
            "min_score": 0.0,
            "use_max_score": True,
            "max_score": 100.0,
        },
        "profile": {"name": "Profiel", "target": "contact", "sequence": 2},
        "deal": {"name": "Dealkwaliteit", "target": "deal", "sequence": 1},
    }
    rule_values = {key: [] for key in specs}
    for sequence, (key, builder, variant) in enumerate(rule_plan(rules)):
        values = asdict(builder(bench.refs, variant))
        if variant:
            values["name"] += f" #{variant}"
        rule_values[key].append(Command.create({**values, "sequence": sequence}))
    if bench.args.segments:
        add_segments_grades_rollup(specs, rule_values)
    scoring_models = env["lead.scoring.model"].create(
        [
            {
                **values,
                "rule_ids": rule_values[key],
                "band_ids": [
                    Command.create({"name": n, "min_score": s, "color": c}) for n, s, c in bands
                ],
            }
            for key, values in specs.items()
        ]
    )
    if bench.args.segments:
        env["lead.scoring.grade"].create(
            {
                "model_id": scoring_models[0].id,
                "name": "C-level",
                "domain": "[('function', 'ilike', 'CEO')]",
                "multiplier": 2.0,
            }
        )
    bench.cr.commit()
    return dict(zip(specs, scoring_models, strict=True))


def add_segments_grades_rollup(specs, rule_values):
    """--segments: how marketers segment (a model per customer type, a C-level
    grade on engagement, an accounts model that rolls contacts up)."""
    specs["profile"]["domain"] = "[('is_company', '=', False)]"
    specs["accounts"] = {"name": "Accounts", "target": "contact", "sequence": 3, "rollup": "sum"}
    rule_values["accounts"] = [
        Command.create(
            {
                "name": "Reachable contact of a company",
                "domain": "[('parent_id', '!=', False), ('email', '!=', False)]",
                "points": 5.0,
            }
        )
    ]


# ----------------------------------------------------------------------------
# Steps
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


def percentile_ms(durations, share):
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


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
    scoring_models = create_scoring_models(bench, args.rules)
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
    scoring_models = create_scoring_models(bench, args.rules)
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


# PostgreSQL settings that change the cold run's time (checkpoints, cache).
PG_SETTINGS = ("shared_buffers", "max_wal_size", "work_mem")


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


def print_report(bench, machine):
    args = bench.args
    header = (
        f"{'step':<46} {'records':>9} {'seconds':>9} {'queries':>8} {'SQL s':>7}"
        f" {'RSS MB':>7} {'+RSS MB':>8}"
    )
    print()
    print(
        f"lead_scoring benchmark: {args.contacts:,} contacts, {args.deals:,} deals, "
        f"{args.rules} rules, seed {args.seed}"
    )
    print(
        f"machine: {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs, "
        f"{machine['ram_gb']:.1f} GB RAM; Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']} ({machine['postgresql_settings']}), "
        f"Odoo {machine['odoo']}"
    )
    print()
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


@contextlib.contextmanager
def database(bench, db):
    """A fresh database with lead_scoring installed, open for the block's steps.

    The main phase and the naive comparison each get their own: the main
    phase's cold run must find a ledger nobody wrote nor analysed yet, as after
    an install (the comparison's churn would have let autovacuum analyse it).
    Each database is created with the same seed, so the naive one holds the
    first K contacts of the main one.
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
        prepare_references(bench)
        yield
        bench.cr.commit()
    finally:
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(db)


def run(bench):
    args = bench.args
    with database(bench, args.db):
        main_phase(bench)
        machine = machine_info(bench)
    if args.segments:
        # The naive loop knows no segments, grades or roll-ups: compare without them.
        print("--segments: the naive comparison runs without it (make bench measures it)")
    else:
        with database(bench, f"{args.db}_naive"):
            naive_phase(bench)
    print_report(bench, machine)
    if args.json is not None:
        write_json(bench, machine, args.json)


def release_databases(bench):
    """Drop the benchmark's databases at its end, or keep them (``--keep-db``)."""
    for db in bench.databases:
        if bench.args.keep_db:
            print(f"Database {db} kept.")
        else:
            drop_database(db)
            print(f"Database {db} dropped.")


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
