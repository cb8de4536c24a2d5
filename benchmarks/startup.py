"""Preparing a benchmark process before Odoo loads. Standard library only.

Every ``bench_*.py`` script calls :func:`prepare_process` first, under
``if __name__ == "__main__"``, then imports ``harness`` and Odoo: importing
a benchmark module changes nothing in the process.
"""

import importlib.util
import os
import sys
import time

# Same connection defaults as tools/odoo.sh; libpq reads them, so does Odoo.
PG_DEFAULTS = {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "odoo", "PGPASSWORD": "odoo"}


def prepare_process():
    """UTC clock, PostgreSQL connection defaults, and Odoo on the path.

    Odoo stores naive UTC datetimes: the process clock must be UTC before
    Odoo loads. As in tools/odoo.sh, ``ODOO_PATH``, when set, is the Odoo 18
    checkout to use (here and in the subprocesses that install addons).
    Exits with a hint when Odoo is not importable.
    """
    os.environ["TZ"] = "UTC"
    time.tzset()
    for name, value in PG_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if os.environ.get("ODOO_PATH"):
        sys.path.insert(0, os.environ["ODOO_PATH"])
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [os.environ["ODOO_PATH"], os.environ.get("PYTHONPATH")])
        )
    if importlib.util.find_spec("odoo") is None:
        sys.exit(
            "ERROR: Odoo 18.0 is not importable by python3. "
            "Fix: export ODOO_PATH=/path/to/odoo-18.0 (an Odoo 18 checkout with its requirements)."
        )
