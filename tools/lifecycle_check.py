"""Install, score, upgrade and uninstall lead_scoring on a throwaway database.

Checks that an upgrade keeps every score and ledger line, and that an
uninstall removes the addon's tables, columns and automations while leaving
partners and leads intact. Prints one "lifecycle: ..." line per check and a
final "lifecycle passed" / "lifecycle FAILED" line; exits non-zero on failure.

Usage: python3 tools/lifecycle_check.py DBNAME ADDONS_PATH
"""

import os
import subprocess
import sys

import psycopg2
from psycopg2 import sql

DB, ADDONS = sys.argv[1], sys.argv[2]
CONNECT = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": os.environ.get("PGUSER", "odoo"),
    "password": os.environ.get("PGPASSWORD", "odoo"),
}
failures = []


def odoo_command(*args):
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
        f"--addons-path={ADDONS}",
        "-d",
        DB,
        "--log-level=warn",
    ]


def odoo(*args):
    """Run Odoo on the throwaway database and stop."""
    command = odoo_command("--stop-after-init", *args)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode or " ERROR " in result.stderr or " CRITICAL " in result.stderr:
        print(result.stderr[-4000:])
        failures.append(f"odoo {' '.join(args)} failed")


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


def drop_database():
    conn = psycopg2.connect(dbname="postgres", **CONNECT)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DB)))
    finally:
        conn.close()


def main():
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
    subprocess.run(
        odoo_command("shell"),
        input=code,
        capture_output=True,
        text=True,
        check=False,
    )
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
