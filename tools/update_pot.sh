#!/usr/bin/env bash
# Regenerates ADDON/i18n/ADDON.pot (default lead_scoring) from a fresh database and
# merges new or changed strings into every .po next to it (they then need translating).
#   tools/update_pot.sh [ADDON]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
addon=${1:-lead_scoring}
export TZ=UTC PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-odoo} PGPASSWORD=${PGPASSWORD:-odoo}
PYTHON=${PYTHON:-python3}
odoo_root=$("$PYTHON" -c 'import os, odoo; print(os.path.dirname(os.path.dirname(odoo.__file__)))')
addons="$odoo_root/addons,$odoo_root/odoo/addons,$repo"
# The OCA addons of `make deps` (tools/deps.sh).
[ -d "$repo/.oca-addons/odoo/addons" ] && addons="$addons,$repo/.oca-addons/odoo/addons"
"$repo/tools/pg.sh"
db=${addon}_i18n
dropdb --if-exists "$db"
common=(--db_host="$PGHOST" --db_user="$PGUSER" --db_password="$PGPASSWORD"
        --addons-path="$addons" -d "$db")
"$PYTHON" -m odoo "${common[@]}" -i "$addon" --without-demo=all --stop-after-init --log-level=warn
"$PYTHON" -m odoo "${common[@]}" --i18n-export="$repo/$addon/i18n/$addon.pot" \
    --modules="$addon" --stop-after-init --log-level=warn
dropdb "$db"
"$PYTHON" - "$repo/$addon/i18n" "$addon" <<'PY'
import pathlib, sys
import polib
folder = pathlib.Path(sys.argv[1])
pot = polib.pofile(str(folder / f"{sys.argv[2]}.pot"))
for po_path in folder.glob("*.po"):
    po = polib.pofile(str(po_path))
    po.merge(pot)
    po.save()
    missing = [e.msgid for e in po if not e.msgstr or "fuzzy" in e.flags]
    print(f"{po_path.name}: {len(po)} entries, {len(missing)} to translate")
    for msgid in missing:
        print("   ", msgid[:100])
PY
