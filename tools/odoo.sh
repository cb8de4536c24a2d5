#!/usr/bin/env bash
# Runs Odoo 18 with this repository's addon on the local PostgreSQL.
#   tools/odoo.sh test   fresh database, install lead_scoring, run all its tests
#   tools/odoo.sh demo   fresh database with demo data, serve on http://localhost:8069
#   tools/odoo.sh addons-path   print the addons path the two others use
# Odoo comes from ODOO_PATH (an Odoo 18 checkout) or from `import odoo`.
set -euo pipefail
mode=${1:?usage: tools/odoo.sh test|demo|addons-path}
repo=$(cd "$(dirname "$0")/.." && pwd)
export TZ=UTC PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432}
export PGUSER=${PGUSER:-odoo} PGPASSWORD=${PGPASSWORD:-odoo}
PYTHON=${PYTHON:-python3}

if [ -n "${ODOO_PATH:-}" ]; then
    export PYTHONPATH="$ODOO_PATH${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! odoo_root=$("$PYTHON" -c 'import os, odoo; print(os.path.dirname(os.path.dirname(odoo.__file__)))' 2>/dev/null) \
    || ! "$PYTHON" -c 'import odoo.release as r, sys; sys.exit(r.version_info[0] != 18)' 2>/dev/null; then
    # A folder odoo/ without __init__.py (left by `pip install odoo-addon-*` into
    # site-packages) turns `import odoo` into an empty namespace package.
    shadow=$("$PYTHON" -c 'import odoo; print(*odoo.__path__) if not odoo.__file__ else None' 2>/dev/null || true)
    if [ -n "$shadow" ]; then
        echo "ERROR: Odoo is shadowed by the folder $shadow (OCA addons installed into site-packages). Fix: $PYTHON -m pip uninstall odoo-addon-queue_job; rm -r $shadow (make deps now installs them into .oca-addons/)." >&2
    else
        echo "ERROR: Odoo 18.0 is not importable by $PYTHON. Fix: export ODOO_PATH=/path/to/odoo-18.0 (an Odoo 18 checkout with its requirements installed), or unset it and let make test get Odoo itself." >&2
    fi
    exit 1
fi
# Odoo's addons, this repository's, and the OCA addons `make deps` installs
# into .oca-addons/ or $OCA_ADDONS (tools/deps.sh).
addons="$odoo_root/addons,$odoo_root/odoo/addons,$repo"
oca=${OCA_ADDONS:-$repo/.oca-addons}/odoo/addons
[ -d "$oca" ] && addons="$addons,$oca"
if [ "$mode" = addons-path ]; then
    echo "$addons"
    exit 0
fi
# Odoo's own test classes of res.partner, res.users and the contact merge wizard.
base_suites=TestPartner,TestPartnerAddressCompany,TestPartnerForm,TestPartnerRecursion
base_suites=$base_suites,TestMergePartner,TestUsers,TestUsers2,TestUsersGroupWarning
base_suites=$base_suites,TestUsersTweaks,TestUsersIdentitycheck
ODOO_SUITES="/crm,/test_base_automation,/base:${base_suites//,/,/base:}"

"$repo/tools/pg.sh"

db=${DB:-lead_scoring_$mode}
dropdb --if-exists "$db"
# Odoo's options for database $1.
odoo_options() {
    echo --db_host="$PGHOST" --db_port="$PGPORT" --db_user="$PGUSER" --db_password="$PGPASSWORD" \
        --addons-path="$addons" -d "$1" --db-filter="^$1\$"
}
read -r -a common <<< "$(odoo_options "$db")"

case "$mode" in
test)
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
        || command -v google-chrome >/dev/null \
        || echo "warning: Chromium not found: the browser tours will fail. Fix: apt-get install -y chromium" >&2
    log=$(mktemp)
    # The addons of this repository with their tests (test_lead_scoring scores a
    # third model); the tags keep Odoo's own suites out of this step.
    "$PYTHON" -m odoo "${common[@]}" -i "${TEST_ADDONS:-lead_scoring,test_lead_scoring}" \
        --without-demo=all --test-enable --stop-after-init --log-level=test \
        --test-tags "${TEST_TAGS:-/lead_scoring,/test_lead_scoring}" \
        --http-port="${HTTP_PORT:-8079}" 2>&1 | tee "$log" || true
    summary_args=()
    if [ -z "${TEST_TAGS:-}" ]; then
        # Odoo's own suites of what the addon extends, run with the addon loaded
        # (see tools/run_suites.py): crm, base_automation (through its test
        # app, installed after lead_scoring), res.partner, res.users, the merge wizard.
        "$PYTHON" -m odoo "${common[@]}" -i test_base_automation --stop-after-init \
            --log-level=warn 2>&1 | tee -a "$log" || true
        "$PYTHON" "$repo/tools/run_suites.py" crm,test_base_automation,base "$ODOO_SUITES" \
            "${common[@]}" --log-level=test --http-port="${HTTP_PORT:-8079}" 2>&1 | tee -a "$log" || true
        # The full run also installs, upgrades and uninstalls on a throwaway database.
        "$PYTHON" "$repo/tools/lifecycle_check.py" "${db}_lifecycle" "$addons" 2>&1 | tee -a "$log" || true
        # The bridge addons on databases of their own: they bring apps (Email
        # Marketing, Website) the core must be tested without, and queue_job
        # turns recomputes into jobs, which the other tests do not expect.
        bridges=$(cd "$repo" && ls -d */__manifest__.py | cut -d/ -f1 \
                  | grep -vx -e lead_scoring -e test_lead_scoring -e lead_scoring_queue_job \
                  | paste -sd, -)
        for addon_set in "$bridges" lead_scoring_queue_job; do
            [ -n "$addon_set" ] && [ -d "$repo/${addon_set%%,*}" ] || continue
            set_db="${db}_${addon_set##*_}"
            dropdb --if-exists "$set_db"
            read -r -a set_options <<< "$(odoo_options "$set_db")"
            "$PYTHON" -m odoo "${set_options[@]}" -i "$addon_set" \
                --without-demo=all --test-enable --stop-after-init --log-level=test \
                --test-tags "/${addon_set//,/,/}" \
                --http-port="${HTTP_PORT:-8079}" 2>&1 | tee -a "$log" || true
            dropdb --if-exists "$set_db"
        done
        summary_args=(--require-lifecycle)
    fi
    "$PYTHON" "$repo/tools/test_summary.py" "$log" "${summary_args[@]}"
    ;;
demo)
    # With the Email Marketing and Website bridges (and the apps they bring):
    # the demo shows e-mail opens, page visits and API events scoring.
    "$PYTHON" -m odoo "${common[@]}" -i "${DEMO_ADDONS:-lead_scoring,lead_scoring_mass_mailing,lead_scoring_website}" \
        --stop-after-init --log-level=warn
    echo
    echo "Lead scoring demo: http://localhost:${HTTP_PORT:-8069}/odoo  (login: admin, password: admin)"
    echo
    exec "$PYTHON" -m odoo "${common[@]}" --http-port="${HTTP_PORT:-8069}"
    ;;
*)
    echo "usage: tools/odoo.sh test|demo" >&2
    exit 2
    ;;
esac
