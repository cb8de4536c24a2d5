"""Run Odoo's own test suites on a database where lead_scoring is installed.

Odoo runs an app's at_install tests right after installing that app, before
the addons that depend on it are loaded: crm's own tests never see
lead_scoring that way. This runner loads the whole registry first (every
installed addon), then runs the at_install and post_install tests of the
given apps, so that Odoo's suites exercise crm, base_automation and the
partner/user/merge code with lead_scoring's overrides in place.

Usage: python3 tools/run_suites.py MODULES TEST_TAGS [odoo options...]
    MODULES    comma-separated apps whose tests to collect (crm,base,...)
    TEST_TAGS  Odoo --test-tags filter (/crm,/base:TestPartner,...)
Prints Odoo's "N failed, N error(s) of N tests" line, read by test_summary.py.
"""

import logging
import sys
import threading

import odoo
from odoo.modules.registry import Registry
from odoo.service import server as odoo_server
from odoo.tools import config


def main(modules, test_tags, options):
    config.parse_config(options)
    odoo_server.load_server_wide_modules()
    db_name = config["db_name"].split(",")[0]
    threading.current_thread().dbname = db_name
    # Loaded with tests off: with them on, Odoo would run each app's
    # at_install tests while loading it, before the addons that extend it.
    registry = Registry.new(db_name)
    config["test_enable"] = True
    config["test_tags"] = test_tags
    from odoo.tests import loader  # noqa: PLC0415 (test mode must be on first)
    from odoo.tests.result import OdooTestResult  # noqa: PLC0415

    report = OdooTestResult()

    # Read every addon's manifest for the static files now, in this thread:
    # done lazily by the first request of a browser tour, it parses manifests
    # in the HTTP thread while this one runs tests, and CPython 3.11's parser
    # is not safe for that ("AST constructor recursion depth mismatch": the
    # tour's CSS answered 500 and crm_tour failed).
    odoo.http.root.statics  # noqa: B018 (a lazy property, computed on first access)
    # HttpCase tests talk to the server this process runs, as under `odoo --test-enable`.
    odoo_server.server = odoo_server.ThreadedServer(odoo.http.root)
    odoo_server.server.http_spawn()
    for position in ("at_install", "post_install"):
        suite = loader.make_suite(modules, position)
        if suite.has_http_case():
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                env["ir.qweb"]._pregenerate_assets_bundles()
        report.update(loader.run_suite(suite))
    report.log_stats()
    log = logging.getLogger("odoo.tests.result")
    (log.info if report.wasSuccessful() else log.error)("%s of Odoo's own suites", report)
    odoo_server.server.httpd.shutdown()
    return 0 if report.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].split(","), sys.argv[2], sys.argv[3:]))
