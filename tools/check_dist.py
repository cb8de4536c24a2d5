"""Build the addons' wheels (whool, OCA style) and check them.

    python3 tools/check_dist.py --build-only   (make dist) wheels into dist/
    python3 tools/check_dist.py                (make check-dist, .ci/run)

The full check builds one wheel per addon, odoo-addon-<addon>, and checks its
file name, its version (the manifest's), its dependencies (odoo 18.0, the
addons it depends on that are not Odoo's own, e.g. odoo-addon-queue_job) and
that it holds every file the manifest loads (data, demo, assets) and the
translations, README and icon. It then installs the wheels with
``pip install --no-deps --target`` into a throwaway folder and installs
lead_scoring from there (not from this checkout) into a fresh database.
Run it with the Python that runs Odoo; it starts PostgreSQL (tools/pg.sh).
"""

import ast
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from email.parser import HeaderParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist"
ADDONS = sorted(p.parent.name for p in REPO.glob("*/__manifest__.py"))
PIP = (sys.executable, "-m", "pip", "-q", "--disable-pip-version-check")
STATE_QUERY = "SELECT state, icon FROM ir_module_module WHERE name = 'lead_scoring'"
failures = []


def check(label, ok, detail=""):
    print(f"check_dist: {'ok  ' if ok else 'FAIL'} {label} {detail}".rstrip(), flush=True)
    if not ok:
        failures.append(label)


def manifest(addon):
    return ast.literal_eval((REPO / addon / "__manifest__.py").read_text())


def addon_files(addon):
    """The addon's files git does not ignore (tracked or not yet), or all of them
    outside a git checkout."""
    result = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO / addon,
        capture_output=True,
        check=False,
    )
    if result.returncode:
        return [
            os.path.relpath(os.path.join(folder, name), REPO / addon)
            for folder, _dirs, names in os.walk(REPO / addon)
            if "__pycache__" not in folder
            for name in names
        ]
    return [name for name in result.stdout.decode().split("\0") if name]


def build():
    """One wheel per addon into dist/ (older wheels of these addons removed).

    whool packs the files git tracks; the wheels are built from a copy of the
    working tree (files git does not ignore), so that they hold new files too.
    """
    missing = [addon for addon in ADDONS if not (REPO / addon / "pyproject.toml").is_file()]
    if missing:
        sys.exit(
            f"check_dist: FAIL no pyproject.toml in {', '.join(missing)}. "
            f"Fix: cp lead_scoring/pyproject.toml {missing[0]}/"
        )
    DIST.mkdir(exist_ok=True)
    for addon in ADDONS:
        for old in DIST.glob(f"odoo_addon_{addon}-*.whl"):
            old.unlink()
    with tempfile.TemporaryDirectory() as tree:
        for addon in ADDONS:
            for name in addon_files(addon):
                if (REPO / addon / name).is_file():
                    Path(tree, addon, name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / addon / name, Path(tree, addon, name))
        subprocess.run(
            [*PIP, "wheel", "--no-deps", "-w", str(DIST), *(f"./{addon}" for addon in ADDONS)],
            cwd=tree,
            check=True,
        )
    return {addon: DIST / wheel_name(addon) for addon in ADDONS}


def wheel_name(addon):
    return f"odoo_addon_{addon}-{manifest(addon)['version']}-py3-none-any.whl"


def odoo_core_addons():
    """Odoo's own addons (its wheel-less dependencies), from the Odoo in use."""
    import odoo  # noqa: PLC0415 (only the full check needs Odoo)

    root = Path(odoo.__file__).resolve().parent.parent
    return {p.parent.name for p in root.glob("addons/*/__manifest__.py")} | {
        p.parent.name for p in root.glob("odoo/addons/*/__manifest__.py")
    }, root


def loaded_files(addon, data):
    """Paths (in the addon) of the files the manifest loads, globs expanded."""
    files = set(data.get("data", [])) | set(data.get("demo", []))
    for bundle in data.get("assets", {}).values():
        for entry in bundle:
            if isinstance(entry, (list, tuple)) and entry[0] in ("include", "remove"):
                continue
            path = entry[-1] if isinstance(entry, (list, tuple)) else entry
            if not path.startswith(f"{addon}/"):
                continue  # another addon's file
            matches = glob.glob(str(REPO / path), recursive=True)
            check(f"{addon}: the assets {path} match files", bool(matches))
            files |= {os.path.relpath(m, REPO / addon) for m in matches}
    files |= {os.path.relpath(p, REPO / addon) for p in (REPO / addon).glob("i18n/*.po*")}
    files |= {"__manifest__.py", "__init__.py", "README.rst"}
    files |= {"static/description/icon.png", "static/description/index.html"}
    return files


def check_wheel(addon, wheel, core):
    data = manifest(addon)
    check(f"{addon}: {wheel.name} built", wheel.is_file())
    if not wheel.is_file():
        return
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"odoo_addon_{addon}-{data['version']}.dist-info/METADATA"
        metadata = HeaderParser().parsestr(archive.read(info).decode())
    name = metadata["Name"]
    check(f"{addon}: distribution name", name == f"odoo-addon-{addon}", name)
    check(f"{addon}: version = manifest's", metadata["Version"] == data["version"])
    requires = set(metadata.get_all("Requires-Dist") or [])
    expected = {"odoo==18.0.*"} | {
        f"odoo-addon-{depend}==18.0.*" for depend in data["depends"] if depend not in core
    }
    check(f"{addon}: dependencies", requires == expected, f"{sorted(requires)}")
    loaded = loaded_files(addon, data)
    missing = sorted(f for f in loaded if f"odoo/addons/{addon}/{f}" not in names)
    check(f"{addon}: every file the manifest loads is in the wheel", not missing, f"{missing}")
    stray = sorted(n for n in names if not n.startswith((f"odoo/addons/{addon}/", "odoo_addon_")))
    check(f"{addon}: nothing outside odoo/addons/{addon}", not stray, f"{stray}")


def install_in_database(wheels, odoo_root):
    """pip install --no-deps --target, then lead_scoring from there into a fresh database."""
    env = dict(os.environ, TZ="UTC", PGOPTIONS="-c client_min_messages=warning")
    for key, default in [("PGHOST", "127.0.0.1"), ("PGPORT", "5432")]:
        env.setdefault(key, default)
    env.setdefault("PGUSER", "odoo")
    env.setdefault("PGPASSWORD", "odoo")
    subprocess.run([str(REPO / "tools" / "pg.sh")], check=True, env=env)
    db = os.environ.get("DIST_DB", "lead_scoring_dist")
    files = [str(wheel) for wheel in wheels]
    with tempfile.TemporaryDirectory() as target:
        subprocess.run(
            [*PIP, "install", "--root-user-action=ignore", "--no-deps", "--target", target, *files],
            check=True,
        )
        addons = Path(target, "odoo", "addons")
        check("wheels installed with pip --target", (addons / "lead_scoring").is_dir())
        paths = [addons, odoo_root / "addons", odoo_root / "odoo" / "addons"]
        addons_path = ",".join(map(str, paths))
        subprocess.run(["dropdb", "--if-exists", db], check=True, env=env)
        started = time.monotonic()
        result = subprocess.run(
            [
                *(sys.executable, "-m", "odoo", f"--addons-path={addons_path}", "-d", db),
                *(f"--db_host={env['PGHOST']}", f"--db_port={env['PGPORT']}"),
                *(f"--db_user={env['PGUSER']}", f"--db_password={env['PGPASSWORD']}"),
                *("-i", "lead_scoring", "--stop-after-init", "--log-level=warn"),
                "--http-port=8077",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        log = result.stderr + result.stdout
        errors = [line for line in log.splitlines() if " ERROR " in line or " CRITICAL " in line]
        if result.returncode or errors:
            print(log[-4000:])
        state = subprocess.run(
            ["psql", "-d", db, "-Atc", STATE_QUERY],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        ).stdout.strip()
        state, _sep, icon = state.partition("|")
        check(
            "lead_scoring installed from the wheels into a fresh database (with demo data)",
            not result.returncode and not errors and state == "installed",
            f"(state {state or 'none'}, {time.monotonic() - started:.0f} s)",
        )
        # Odoo shows the icon on the Apps screen when the wheel has it.
        check("its Apps icon", icon == "/lead_scoring/static/description/icon.png", icon)
        subprocess.run(["dropdb", "--if-exists", db], check=False, env=env)


def main():
    started = time.monotonic()
    wheels = build()
    print(f"check_dist: built {', '.join(w.name for w in wheels.values())} into dist/", flush=True)
    if "--build-only" in sys.argv:
        return 0
    core, odoo_root = odoo_core_addons()
    for addon, wheel in wheels.items():
        check_wheel(addon, wheel, core)
    if not failures:
        install_in_database(wheels.values(), odoo_root)
    status = "FAILED" if failures else "passed"
    print(f"check_dist: {status} ({time.monotonic() - started:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
