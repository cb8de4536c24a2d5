#!/usr/bin/env bash
# Harness test of issue 21: `make deps` must not break an Odoo installed with
# `pip install -e`. In a throwaway venv:
#   1. Odoo is installed editable (PEP 660, as recent pip always does): setuptools
#      maps `odoo` to the checkout with an import hook, which any folder odoo/ in
#      site-packages (no __init__.py) shadows: `import odoo` then gives an empty
#      namespace package;
#   2. the old `make deps` (pip install --no-deps odoo-addon-queue_job into
#      site-packages) must break it: proves this test sees the bug;
#   3. `make deps` of this checkout must leave `import odoo` working, and the
#      addons path of tools/odoo.sh must find queue_job (in .oca-addons/).
# The venv reuses the system Python's packages (Odoo's requirements) through a
# folder of links to its site-packages without anything Odoo (the machine's own
# Odoo on sys.path, or an odoo/ folder there, would hide or fake the bug).
# Odoo is found from ODOO_PATH or `import odoo` ($PYTHON, default python3).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
start=$SECONDS
fail() { echo "test_editable_odoo: FAIL $*" >&2; exit 1; }

if [ -n "${ODOO_PATH:-}" ]; then
    odoo_root=$(cd "$ODOO_PATH" && pwd)
else
    odoo_root=$("$PYTHON" -c 'import os, odoo; print(os.path.dirname(os.path.dirname(odoo.__file__)))') \
        || fail "Odoo 18 is not importable by $PYTHON. Fix: export ODOO_PATH=/path/to/odoo-18.0"
fi
[ -f "$odoo_root/setup.py" ] || fail "$odoo_root has no setup.py (not an Odoo checkout)"

tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
# True when the .pth file $1 puts an Odoo checkout on sys.path.
pth_has_odoo() {
    local line
    while read -r line; do
        [ -f "$line/odoo/__init__.py" ] && return 0
    done <"$1"
    return 1
}
# The system's site-packages, without Odoo.
mkdir "$tmp/system-site"
"$PYTHON" -c 'import site; print(*site.getsitepackages(), sep="\n")' | while read -r site_dir; do
    [ -d "$site_dir" ] || continue
    for entry in "$site_dir"/*; do
        name=$(basename "$entry")
        case "$name" in
        odoo | odoo-* | odoo_* | __editable__*odoo*) continue ;;
        esac
        [[ $name == *.pth ]] && pth_has_odoo "$entry" && continue
        [ -e "$tmp/system-site/$name" ] || ln -s "$entry" "$tmp/system-site/$name"
    done
done
"$PYTHON" -m venv "$tmp/venv"
vpy="$tmp/venv/bin/python"
site=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; site.addsitedir('$tmp/system-site')" >"$site/system-site.pth"
"$vpy" -c 'import odoo' 2>/dev/null && fail "the venv already imports odoo before installing it"

# A copy of the checkout's packaging files, its code linked: the editable build
# writes odoo.egg-info next to setup.py, which must not land in the checkout.
mkdir "$tmp/odoo-src"
cp -r "$odoo_root/setup.py" "$odoo_root/setup.cfg" "$odoo_root/setup" "$tmp/odoo-src/"
for name in MANIFEST.in README.md LICENSE requirements.txt; do
    [ -e "$odoo_root/$name" ] && cp "$odoo_root/$name" "$tmp/odoo-src/"
done
ln -s "$odoo_root/odoo" "$tmp/odoo-src/odoo"
ln -s "$odoo_root/addons" "$tmp/odoo-src/addons"
"$vpy" -m pip install -q --disable-pip-version-check --no-deps --use-pep517 \
    -e "$tmp/odoo-src" 2>&1 | grep -v "^WARNING: Location" >&2 || true
ls "$site"/__editable__*odoo* >/dev/null 2>&1 || fail "pip install -e of Odoo made no editable install"
imports_odoo() {
    "$vpy" -c 'import odoo, odoo.release, sys; sys.exit(not odoo.__file__ or odoo.release.version_info[0] != 18)' 2>/dev/null
}
imports_odoo || fail "Odoo installed editable is not importable, even before make deps"
echo "test_editable_odoo: ok   Odoo $("$vpy" -c 'import odoo.release as r; print(r.version)') installed editable in a venv"

# The old `make deps`: must break it, or this test could not see the bug.
"$vpy" -m pip install -q --disable-pip-version-check --no-deps -r "$repo/requirements-odoo-addons.txt" \
    2>&1 | grep -v "^WARNING: Location" >&2 || true
imports_odoo && fail "the old make deps did not break import odoo: this test cannot see issue 21"
echo "test_editable_odoo: ok   the old make deps (OCA addons into site-packages) breaks import odoo"
"$vpy" -m pip uninstall -q -y odoo-addon-queue_job
rm -rf "$site/odoo"
imports_odoo || fail "could not undo the old make deps"

# This checkout's `make deps`.
# Into a folder of this test: a real make test may be using .oca-addons/.
export OCA_ADDONS="$tmp/oca-addons"
make -s -C "$repo" deps PYTHON="$vpy" >"$tmp/deps.log" 2>&1 || { cat "$tmp/deps.log" >&2; fail "make deps failed"; }
[ -e "$site/odoo" ] && fail "make deps put files into site-packages/odoo"
imports_odoo || fail "import odoo is broken after make deps (issue 21)"
"$vpy" -m odoo --version >/dev/null 2>&1 || fail "python -m odoo --version failed after make deps"
echo "test_editable_odoo: ok   import odoo and python -m odoo --version after make deps"
addons=$(PYTHON="$vpy" "$repo/tools/odoo.sh" addons-path)
"$vpy" - "$addons" "$repo" <<'PY' || fail "the addons path of tools/odoo.sh does not find the addons"
import os, sys
import odoo
from odoo.modules.module import get_module_path, initialize_sys_path
odoo.tools.config.parse_config(["--addons-path", sys.argv[1]])
initialize_sys_path()
queue_job, ours = get_module_path("queue_job"), get_module_path("lead_scoring_queue_job")
expected = os.path.join(os.environ["OCA_ADDONS"], "odoo", "addons", "queue_job")
assert queue_job and os.path.samefile(queue_job, expected), (queue_job, expected)
assert ours and os.path.samefile(ours, os.path.join(sys.argv[2], "lead_scoring_queue_job")), ours
PY
echo "test_editable_odoo: ok   queue_job found in the OCA addons folder of make deps, on the addons path of tools/odoo.sh"
echo "test_editable_odoo: passed ($((SECONDS - start)) s)"
