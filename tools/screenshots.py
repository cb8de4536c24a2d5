"""Screenshots of a running demo database, for the README.

Logs in over JSON-RPC, hands the session cookie to headless Chromium through
the DevTools protocol and saves PNGs of the given pages.

Usage: python3 tools/screenshots.py URL DB OUTDIR name=/odoo/path[|css-to-click] ...
e.g.   python3 tools/screenshots.py http://localhost:8069 lead_scoring_demo /tmp/shots \
           contacts=/odoo/contacts
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import requests
import websocket

PORT = 9333


def login(base, db):
    response = requests.post(
        f"{base}/web/session/authenticate",
        json={"jsonrpc": "2.0", "params": {"db": db, "login": "admin", "password": "admin"}},
        timeout=30,
    )
    response.raise_for_status()
    return response.cookies["session_id"]


def devtools(browser):
    for _ in range(50):
        try:
            pages = requests.get(f"http://127.0.0.1:{PORT}/json", timeout=2).json()
            page = next(p for p in pages if p["type"] == "page")
            return websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        except (requests.ConnectionError, StopIteration):
            time.sleep(0.2)
    browser.kill()
    raise RuntimeError("Chromium's DevTools did not answer")


def main(base, db, outdir, *pages):
    session = login(base, db)
    profile = tempfile.mkdtemp()
    browser = subprocess.Popen(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={PORT}",
            # Chromium refuses DevTools websockets from origins it was not told
            # to allow (since 111); this is the origin websocket-client sends.
            f"--remote-allow-origins=http://127.0.0.1:{PORT}",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ws = devtools(browser)
    counter = iter(range(1, 10000))

    def call(method, **params):
        message_id = next(counter)
        ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            answer = json.loads(ws.recv())
            if answer.get("id") == message_id:
                return answer.get("result", {})

    try:
        call("Network.enable")
        call("Network.setCookie", name="session_id", value=session, url=base)
        os.makedirs(outdir, exist_ok=True)
        for spec in pages:
            name, path = spec.split("=", 1)
            path, _, click = path.partition("|")
            call("Page.navigate", url=base + path)
            time.sleep(10)  # the web client loads its assets and data
            if click:
                # e.g. open a notebook tab before the shot
                expression = f"[...document.querySelectorAll({json.dumps(click)})].pop().click()"
                call("Runtime.evaluate", expression=expression)
                time.sleep(2)
            shot = call("Page.captureScreenshot", format="png")
            with open(os.path.join(outdir, f"{name}.png"), "wb") as file:
                file.write(base64.b64decode(shot["data"]))
            print(f"{name}: {base}{path}")
    finally:
        ws.close()
        browser.kill()


if __name__ == "__main__":
    main(*sys.argv[1:])
