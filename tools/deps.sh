#!/usr/bin/env bash
# Installs what the addons need beyond Odoo 18.0 for $PYTHON (default python3):
#   - requirements.txt into $PYTHON's environment (use a venv on a Python that is
#     "externally managed", e.g. Debian's: the error says how);
#   - the OCA addons of requirements-odoo-addons.txt (queue_job), with --no-deps,
#     into .oca-addons/ of this repository, never into Odoo's own "odoo" package:
#     a folder odoo/addons/ in site-packages would shadow an Odoo installed with
#     `pip install -e` (issue 21). tools/odoo.sh adds .oca-addons/odoo/addons to
#     the addons path.
# Idempotent: the OCA addons are reinstalled only when the requirements change.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
# OCA_ADDONS: another folder for them (tools/odoo.sh reads the same variable).
target=${OCA_ADDONS:-$repo/.oca-addons}

pip_install() {
    local out
    if ! out=$("$PYTHON" -m pip install -q --disable-pip-version-check "$@" 2>&1); then
        echo "$out" >&2
        if grep -q externally-managed-environment <<<"$out"; then
            echo "ERROR: $PYTHON is externally managed. Fix: python3 -m venv --system-site-packages .venv && make PYTHON=.venv/bin/python ..." >&2
        fi
        return 1
    fi
    grep -v -e "^WARNING: Location" -e "^WARNING: Running pip as" <<<"$out" >&2 || true
}

pip_install -r "$repo/requirements.txt"
# OCA addons an older `make deps` put into site-packages/odoo/addons.
stale=$("$PYTHON" - "$repo/requirements-odoo-addons.txt" <<'PY' 2>/dev/null || true
import re, sys
from importlib.metadata import PackageNotFoundError, distribution
for line in open(sys.argv[1]):
    name = re.split(r"[=<>;\s]", line.strip(), maxsplit=1)[0]
    if name and not name.startswith("#"):
        try:
            print(name, distribution(name).locate_file(""))
        except PackageNotFoundError:
            pass
PY
)
if [ -n "$stale" ]; then
    echo "note: an older make deps installed into $PYTHON's site-packages: $(paste -sd, <<<"$stale"); an Odoo installed with pip install -e breaks on them (issue 21). Fix: $PYTHON -m pip uninstall $(cut -d' ' -f1 <<<"$stale" | paste -sd' ' -) and remove its odoo/ folder if left empty" >&2
fi

stamp="$target/.requirements-odoo-addons.txt"
if [ -f "$stamp" ] && cmp -s "$stamp" "$repo/requirements-odoo-addons.txt"; then
    exit 0
fi
rm -rf "$target" "$target.tmp"
pip_install --no-deps --target "$target.tmp" -r "$repo/requirements-odoo-addons.txt"
cp "$repo/requirements-odoo-addons.txt" "$target.tmp/.requirements-odoo-addons.txt"
mv "$target.tmp" "$target"
echo "OCA addons installed into ${target#"$repo"/}/odoo/addons:" "$target"/odoo/addons/* >&2
