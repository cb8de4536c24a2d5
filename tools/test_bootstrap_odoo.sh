#!/usr/bin/env bash
# Harness test of tools/bootstrap_odoo.sh (make demo / make test on a machine
# without Odoo). From a Python that cannot import Odoo (a bare venv), into a
# temporary folder, with ODOO_SOURCE = the local Odoo 18 (ODOO_PATH or
# `import odoo` of $PYTHON, default python3):
#   1. the bootstrap makes .odoo/ and .venv/ (Odoo's requirements from PyPI,
#      wheels only but for a few pure-Python sdists) and prints the venv's python,
#      which imports Odoo from .odoo/ and runs `python -m odoo --version`;
#   2. a second run reuses both;
#   3. an ODOO_SOURCE that cannot be fetched fails with one ERROR line and its fix.
# ODOO_BOOTSTRAP_SYSTEM_SITE=1 takes Odoo's requirements from the system Python
# instead of PyPI (offline machines).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
start=$SECONDS
fail() { echo "test_bootstrap_odoo: FAIL $*" >&2; exit 1; }

if [ -n "${ODOO_PATH:-}" ]; then
    odoo_root=$(cd "$ODOO_PATH" && pwd)
else
    odoo_root=$("$PYTHON" -c 'import os, odoo; print(os.path.dirname(os.path.dirname(odoo.__file__)))') \
        || fail "Odoo 18 is not importable by $PYTHON. Fix: export ODOO_PATH=/path/to/odoo-18.0"
fi
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
"$PYTHON" -m venv --without-pip "$tmp/bare"
bare="$tmp/bare/bin/python"
"$bare" -c 'import odoo' 2>/dev/null && fail "the bare venv imports odoo: cannot test the bootstrap"
bootstrap() {
    env -u ODOO_PATH PYTHON="$bare" ODOO_BOOTSTRAP_DIR="$tmp/$1" ODOO_SOURCE="$2" \
        "$repo/tools/bootstrap_odoo.sh" 2>"$tmp/$1.log"
}

mkdir "$tmp/home"
first=$SECONDS
vpy=$(bootstrap home "$odoo_root") || { cat "$tmp/home.log" >&2; fail "the bootstrap failed"; }
seconds=$((SECONDS - first))
sed 's/^/    /' "$tmp/home.log"
[ "$vpy" = "$tmp/home/.venv/bin/python" ] || fail "the bootstrap printed $vpy, not the venv's python"
"$vpy" -c 'import odoo, sys; sys.exit(not odoo.__file__.startswith(sys.argv[1]))' "$tmp/home/.odoo/" \
    || fail "the venv does not import Odoo from .odoo/"
version=$("$vpy" -m odoo --version 2>/dev/null) || fail "python -m odoo --version failed in the venv"
[[ $version == "Odoo Server 18.0"* ]] || fail "python -m odoo --version printed $version"
echo "test_bootstrap_odoo: ok   Odoo into .odoo/ and .venv/, \`python -m odoo --version\`: $version ($seconds s)"

second=$SECONDS
again=$(bootstrap home "$odoo_root") || fail "the second bootstrap failed"
if [ "$again" != "$vpy" ] || ! grep -q reusing "$tmp/home.log"; then
    fail "the second run did not reuse .odoo/ and .venv/"
fi
echo "test_bootstrap_odoo: ok   a second run reuses them ($((SECONDS - second)) s)"

mkdir "$tmp/offline"
if bootstrap offline "$tmp/no-such-odoo.git" >/dev/null; then
    fail "the bootstrap passed with an ODOO_SOURCE that does not exist"
fi
error=$(grep "^ERROR" "$tmp/offline.log" || true)
[ "$(wc -l <<<"$error")" = 1 ] && [[ $error == *Fix:* ]] \
    || { cat "$tmp/offline.log" >&2; fail "no one-line ERROR with its fix when Odoo cannot be fetched"; }
echo "test_bootstrap_odoo: ok   unfetchable Odoo: $error"
echo "test_bootstrap_odoo: passed ($((SECONDS - start)) s)"
