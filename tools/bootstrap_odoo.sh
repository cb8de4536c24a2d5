#!/usr/bin/env bash
# Prints (on stdout) the Python that runs Odoo 18 for `make demo` / `make test`:
#   - $PYTHON (default python3) when it imports Odoo 18 or ODOO_PATH is set;
#   - otherwise .venv/bin/python of this repository, made once by this script:
#     Odoo 18.0's source into .odoo/ (a shallow git clone of $ODOO_SOURCE, default
#     https://github.com/odoo/odoo branch 18.0; ODOO_SOURCE may also name a local
#     folder, used in place, or a tarball, extracted) and a .venv with Odoo's
#     requirements for this Python (wheels preferred; psycopg2-binary; no
#     gevent, greenlet or python-ldap), Odoo put on its path by a .pth file.
# A second run reuses both; `make clean-odoo` removes them. Progress goes to stderr.
#   ODOO_BOOTSTRAP_DIR   where .odoo/ and .venv/ go (default: this repository)
#   ODOO_BOOTSTRAP_SYSTEM_SITE=1   venv with --system-site-packages, Odoo's
#       requirements taken from the system Python when it has them (harness test only)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
dir=${ODOO_BOOTSTRAP_DIR:-$repo}
source_dir="$dir/.odoo" venv="$dir/.venv"
ODOO_SOURCE=${ODOO_SOURCE:-https://github.com/odoo/odoo}
ODOO_BRANCH=${ODOO_BRANCH:-18.0}
# Odoo requirements published as source only (pure Python, built by pip).
ODOO_SDISTS=${ODOO_SDISTS:-ofxparse,vobject,docopt}
# Odoo pins with no wheel for any Python: the newest patch release of the same minor.
ODOO_RELAX=${ODOO_RELAX:-rjsmin}
fix="Fix: ODOO_SOURCE=<Odoo 18.0 folder, tarball or git URL> make ..., or ODOO_PATH=<Odoo 18 checkout with its requirements installed>"

say() { echo "bootstrap: $*" >&2; }
# True when python $1 imports Odoo 18 as a regular package.
has_odoo() {
    "$1" -c 'import odoo, odoo.release as r, sys; sys.exit(not odoo.__file__ or r.version_info[0] != 18)' \
        >/dev/null 2>&1
}

if [ -n "${ODOO_PATH:-}" ] || has_odoo "$PYTHON"; then
    echo "$PYTHON"
    exit 0
fi
# Odoo installed (e.g. pip install -e) but hidden by a folder odoo/ in
# site-packages: say so rather than fetch another Odoo.
shadow=$("$PYTHON" -c 'import odoo, odoo.release; print(*odoo.__path__) if not odoo.__file__ else None' \
    2>/dev/null || true)
if [ -n "$shadow" ]; then
    echo "ERROR: $PYTHON has Odoo, but the folder $shadow (OCA addons installed into site-packages by an older make deps) hides it. Fix: $PYTHON -m pip uninstall odoo-addon-queue_job; rm -r $shadow" >&2
    exit 1
fi
if [ -x "$venv/bin/python" ] && has_odoo "$venv/bin/python"; then
    say "reusing Odoo of ${source_dir#"$repo"/} and ${venv#"$repo"/}"
    echo "$venv/bin/python"
    exit 0
fi

start=$SECONDS
say "Odoo 18 is not importable by $PYTHON and ODOO_PATH is not set: getting it into $dir"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "ERROR: Odoo 18 needs Python 3.11+ ($PYTHON is older). Fix: make PYTHON=python3.11 ... (apt-get install python3 python3-venv)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "ERROR: $PYTHON has no venv module. Fix: apt-get install -y python3-venv" >&2
    exit 1
fi
command -v psql >/dev/null || command -v pg_ctlcluster >/dev/null \
    || say "warning: PostgreSQL not found. Fix: apt-get install -y postgresql"
command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
    || command -v google-chrome >/dev/null \
    || say "warning: Chromium not found (browser tours of make test). Fix: apt-get install -y chromium"

# 1. Odoo's source.
if [ ! -f "$source_dir/odoo/release.py" ]; then
    rm -rf "$source_dir" "$source_dir.tmp"
    if [ -d "$ODOO_SOURCE" ]; then
        say "using the Odoo source of $ODOO_SOURCE (symbolic link .odoo)"
        [ -f "$ODOO_SOURCE/odoo/release.py" ] || { echo "ERROR: $ODOO_SOURCE has no odoo/release.py. $fix" >&2; exit 1; }
        ln -s "$(cd "$ODOO_SOURCE" && pwd)" "$source_dir"
    elif [ -f "$ODOO_SOURCE" ]; then
        say "extracting $ODOO_SOURCE"
        mkdir -p "$source_dir.tmp"
        tar -xf "$ODOO_SOURCE" -C "$source_dir.tmp" --strip-components=1 \
            || { echo "ERROR: could not extract $ODOO_SOURCE. $fix" >&2; exit 1; }
        mv "$source_dir.tmp" "$source_dir"
    else
        say "shallow clone of $ODOO_SOURCE, branch $ODOO_BRANCH (several hundred MB)"
        command -v git >/dev/null || { echo "ERROR: git not found. Fix: apt-get install -y git" >&2; exit 1; }
        git clone -q --depth 1 --branch "$ODOO_BRANCH" "$ODOO_SOURCE" "$source_dir.tmp" \
            || { echo "ERROR: could not fetch Odoo $ODOO_BRANCH from $ODOO_SOURCE. $fix" >&2; exit 1; }
        mv "$source_dir.tmp" "$source_dir"
    fi
    say "Odoo source ready ($((SECONDS - start)) s)"
fi
if ! grep -q "^version_info = (18, 0" "$source_dir/odoo/release.py"; then
    echo "ERROR: $source_dir is not Odoo 18.0. $fix" >&2
    exit 1
fi

# 2. The venv with Odoo's requirements.
rm -rf "$venv"
venv_options=()
[ "${ODOO_BOOTSTRAP_SYSTEM_SITE:-}" = 1 ] && venv_options=(--system-site-packages)
say "creating ${venv#"$repo"/} with $("$PYTHON" --version) ${venv_options[*]}"
"$PYTHON" -m venv "${venv_options[@]}" "$venv"
vpy="$venv/bin/python"
requirements="$venv/odoo-requirements.txt"
# Odoo's requirements.txt for this Python: on 3.11 the pins meant for 3.12
# (those have wheels), $ODOO_RELAX relaxed to its minor release, psycopg2-binary for psycopg2, without gevent/greenlet
# (only the longpolling worker needs them) and python-ldap (needs headers).
"$vpy" - "$source_dir/requirements.txt" "$ODOO_RELAX" >"$requirements" <<'PY'
import re, sys
from pip._vendor.packaging.markers import Marker, default_environment
from pip._vendor.packaging.requirements import Requirement
env = default_environment()
if tuple(map(int, env["python_version"].split("."))) < (3, 12):
    env.update(python_version="3.12", python_full_version="3.12.0")
for line in open(sys.argv[1], encoding="utf-8"):
    line = re.sub(r"\s+#.*", "", line).strip()
    if not line or line.startswith("#"):
        continue
    req = Requirement(line)
    if req.marker and not req.marker.evaluate(env):
        continue
    name = req.name.lower()
    if name in {"gevent", "greenlet", "python-ldap"}:
        continue
    if name == "psycopg2":
        req.name = "psycopg2-binary"
    pinned = str(req.specifier).removeprefix("==")
    if name in sys.argv[2].split(",") and str(req.specifier).startswith("=="):
        # A pin without wheels: the same minor release, which has them.
        major, minor = pinned.split(".")[:2]
        req = Requirement(f"{req.name}>={pinned},<{major}.{int(minor) + 1}")
    req.marker = None
    print(req)
PY
if [ "${ODOO_BOOTSTRAP_SYSTEM_SITE:-}" = 1 ] && "$vpy" -c '
import sys
from importlib.metadata import PackageNotFoundError, version
from pip._vendor.packaging.requirements import Requirement
for line in open(sys.argv[1]):
    req = Requirement(line)
    name = {"psycopg2-binary": "psycopg2"}.get(req.name, req.name)
    try:
        version(name)
    except PackageNotFoundError:
        try:
            version(req.name)
        except PackageNotFoundError:
            sys.exit(1)
' "$requirements"; then
    say "Odoo's requirements come from the system Python (ODOO_BOOTSTRAP_SYSTEM_SITE=1)"
else
    say "installing Odoo's requirements ($(wc -l <"$requirements") packages, wheels only but for $ODOO_SDISTS)"
    if ! "$vpy" -m pip install -q --disable-pip-version-check --only-binary=:all: \
            --no-binary="$ODOO_SDISTS" -r "$requirements" >"$venv/pip.log" 2>&1; then
        grep -v "^WARNING: Location" "$venv/pip.log" | tail -20 >&2
        echo "ERROR: could not install Odoo's requirements into $venv (see above). $fix" >&2
        exit 1
    fi
fi
# Odoo itself: its source on the venv's path (as `pip install -e` would).
site=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$source_dir" >"$site/odoo-source.pth"
if ! "$vpy" -c 'import odoo, odoo.release, odoo.tools' 2>"$venv/import-error.log"; then
    tail -5 "$venv/import-error.log" >&2
    echo "ERROR: Odoo is not importable in $venv after installing its requirements (see above). $fix" >&2
    exit 1
fi
say "Odoo $("$vpy" -c 'import odoo.release as r; print(r.version)') ready in ${venv#"$repo"/} ($((SECONDS - start)) s)"
echo "$vpy"
