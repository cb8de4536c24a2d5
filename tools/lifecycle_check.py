"""Install, score, upgrade and uninstall lead_scoring on a throwaway database.

Checks that an upgrade keeps every score and ledger line, both of this
checkout and of a database made by the previous release, that a recompute
after upgrading that database changes nothing, and that an uninstall removes
the addon's tables, columns and automations while leaving partners and leads
intact. Prints one "lifecycle: ..." line per check and a final
"lifecycle passed" / "lifecycle FAILED" line; exits non-zero on failure.

Usage: python3 tools/lifecycle_check.py DBNAME ADDONS_PATH
(ADDONS_PATH includes this checkout; the previous release needs git and the
commit below in this clone's history.)
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile

import psycopg2
from psycopg2 import sql

DB, ADDONS = sys.argv[1], sys.argv[2]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The previous release, lead_scoring 18.0.1.6.1: databases made by it must
# upgrade to this checkout. Move it forward at each release.
PREVIOUS_RELEASE = os.environ.get("LEAD_SCORING_PREVIOUS", "15dd6e6")
CONNECT = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": os.environ.get("PGUSER", "odoo"),
    "password": os.environ.get("PGPASSWORD", "odoo"),
}
failures = []


def odoo_command(*args, addons=ADDONS):
    """``python3 -m odoo [command]`` on the throwaway database."""
    return [
        sys.executable,
        "-m",
        "odoo",
        *args,
        f"--db_host={CONNECT['host']}",
        f"--db_port={CONNECT['port']}",
        f"--db_user={CONNECT['user']}",
        f"--db_password={CONNECT['password']}",
        f"--addons-path={addons}",
        "-d",
        DB,
        "--log-level=warn",
    ]


def odoo(*args, addons=ADDONS, stdin=None):
    """Run Odoo on the throwaway database and stop (an Odoo command such as
    ``shell`` runs the code given as ``stdin``); False if it failed."""
    stop = () if args[0] == "shell" else ("--stop-after-init",)
    command = odoo_command(*stop, *args, addons=addons)
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode or " ERROR " in result.stderr or " CRITICAL " in result.stderr:
        print(result.stderr[-4000:])
        failures.append(f"odoo {' '.join(args)} failed")
        return False
    return True


def query(statement, params=None):
    with psycopg2.connect(dbname=DB, **CONNECT) as conn, conn.cursor() as cr:
        cr.execute(statement, params)
        return cr.fetchall()


def check(label, ok, detail=""):
    print(f"lifecycle: {'ok  ' if ok else 'FAIL'} {label} {detail}".rstrip())
    if not ok:
        failures.append(label)


def counts():
    return {
        "partners": query("SELECT count(*) FROM res_partner")[0][0],
        "leads": query("SELECT count(*) FROM crm_lead")[0][0],
        "scores": query("SELECT count(*) FROM lead_scoring_score")[0][0],
        "ledger": query("SELECT count(*) FROM lead_scoring_point")[0][0],
        "scored partners": query("SELECT count(*) FROM res_partner WHERE contact_score != 0")[0][0],
    }


def ledger_and_scores(model_ids=None):
    """Counts and sums that an upgrade, and a recompute with nothing new, must
    leave as they were (sums rounded: a float sum depends on the scan order).

    :param model_ids: only these scoring models' lines, scores and crossings
        (an upgrade may bring new demo models, which the next run scores)
    """
    params = {"all": model_ids is None, "models": list(model_ids or [])}

    def row(statement):
        return tuple(round(value or 0, 6) for value in query(statement, params)[0])

    return {
        "ledger lines": row(
            "SELECT count(*), sum(points) FROM lead_scoring_point"
            " WHERE %(all)s OR model_id = ANY(%(models)s)"
        ),
        "live lines": row(
            "SELECT count(*), sum(points) FROM lead_scoring_point"
            " WHERE is_live AND (%(all)s OR model_id = ANY(%(models)s))"
        ),
        "scores": row(
            "SELECT count(*), sum(score) FROM lead_scoring_score"
            " WHERE %(all)s OR model_id = ANY(%(models)s)"
        ),
        "contact scores": row("SELECT count(*), sum(contact_score) FROM res_partner"),
        "deal scores": row("SELECT count(*), sum(deal_score) FROM crm_lead"),
        "threshold crossings": row(
            "SELECT count(*) FROM lead_scoring_threshold_crossing c"
            " JOIN lead_scoring_threshold t ON t.id = c.threshold_id"
            " WHERE %(all)s OR t.model_id = ANY(%(models)s)"
        ),
    }


# "Recompute now" on every scoring model: every rule on every record.
RECOMPUTE = "env['lead.scoring.model'].search([]).action_recompute()\nenv.cr.commit()\n"


@contextlib.contextmanager
def previous_release_addons():
    """ADDONS with this checkout replaced by a temporary worktree of the
    previous release (removed on exit)."""
    addons = ADDONS.split(",")
    ours = [path for path in addons if os.path.realpath(path) == os.path.realpath(REPO)]
    if not ours:
        raise RuntimeError(f"ADDONS_PATH {ADDONS} does not contain this checkout ({REPO})")
    parent = tempfile.mkdtemp(prefix="lead_scoring_previous_")
    worktree = os.path.join(parent, "checkout")
    try:
        subprocess.run(
            ["git", "-C", REPO, "worktree", "add", "--detach", worktree, PREVIOUS_RELEASE],
            capture_output=True,
            text=True,
            check=True,
        )
        yield ",".join(worktree if path in ours else path for path in addons)
    finally:
        with contextlib.suppress(OSError):  # no git: nothing was added
            subprocess.run(
                ["git", "-C", REPO, "worktree", "remove", "--force", worktree],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(parent, ignore_errors=True)


def upgrade_from_previous_release():
    """A database made and scored by the previous release upgrades to this
    checkout with every score and ledger line, and is then up to date."""
    drop_database()
    try:
        with previous_release_addons() as previous_addons:
            installed = odoo("-i", "lead_scoring", addons=previous_addons) and odoo(
                "shell", addons=previous_addons, stdin=RECOMPUTE
            )
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or str(error)
        check(
            f"previous release {PREVIOUS_RELEASE} checked out (needs git and the commit"
            " in this clone's history; LEAD_SCORING_PREVIOUS overrides it)",
            False,
            detail.strip(),
        )
        return
    model_ids = [row[0] for row in query("SELECT id FROM lead_scoring_model")] if installed else []
    before = ledger_and_scores(model_ids) if installed else {}
    check(
        f"previous release {PREVIOUS_RELEASE} installs and scores",
        installed and before["ledger lines"][0] > 0 and before["scores"][0] > 0,
        str(before),
    )
    if not installed:
        return
    odoo("-u", "lead_scoring")
    upgraded = ledger_and_scores(model_ids)
    check(
        f"upgrade from {PREVIOUS_RELEASE} keeps every score and ledger line",
        upgraded == before,
        str(upgraded),
    )
    odoo("shell", stdin=RECOMPUTE)
    recomputed = ledger_and_scores(model_ids)
    check(
        f"recompute after the upgrade from {PREVIOUS_RELEASE} changes nothing",
        recomputed == upgraded,
        str(recomputed),
    )


def drop_database():
    conn = psycopg2.connect(dbname="postgres", **CONNECT)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DB)))
    finally:
        conn.close()


def main():
    upgrade_from_previous_release()
    drop_database()

    odoo("-i", "lead_scoring")
    installed = counts()
    # Records that are not the addon's own demo data must survive the uninstall.
    others = sql.SQL(
        "SELECT id FROM {} WHERE id NOT IN (SELECT res_id FROM ir_model_data"
        " WHERE module = 'lead_scoring' AND model = %s)"
    )
    kept_partners = query(others.format(sql.Identifier("res_partner")), ["res.partner"])
    kept_leads = query(others.format(sql.Identifier("crm_lead")), ["crm.lead"])
    check(
        "install with demo data scores contacts", installed["scored partners"] > 0, str(installed)
    )

    odoo("-u", "lead_scoring")
    check("upgrade keeps scores and ledger", counts() == installed, str(counts()))

    code = (
        "module = env['ir.module.module'].search([('name', '=', 'lead_scoring')])\n"
        "module.button_immediate_uninstall()\n"
        "env.cr.commit()\n"
    )
    odoo("shell", stdin=code)
    state = query("SELECT state FROM ir_module_module WHERE name = 'lead_scoring'")[0][0]
    check("uninstall completes", state == "uninstalled", state)
    tables = query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'lead_scoring%%'")
    check("uninstall drops the addon's tables", not tables, str(tables))
    columns = query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE column_name IN ('contact_score', 'deal_score', 'contact_band_id', 'deal_band_id', "
        "'lead_scoring_threshold_id', 'score_model_id', 'score_points')"
    )
    check("uninstall drops the addon's columns", not columns, str(columns))
    actions = query("SELECT count(*) FROM ir_act_server WHERE state = 'lead_score'")[0][0]
    check("uninstall removes Adjust score actions", actions == 0, str(actions))
    partners = query("SELECT id FROM res_partner")
    leads = query("SELECT id FROM crm_lead")
    check(
        "partners and leads intact",
        set(kept_partners) <= set(partners) and set(kept_leads) <= set(leads),
        f"{len(partners)} partners, {len(leads)} leads",
    )

    drop_database()
    print("lifecycle passed" if not failures else f"lifecycle FAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
