"""Browser-test fixtures: the app on a live port, a real `flask worker`, Debian's chromium."""

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_server(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture
def worker(app, sim, tmp_path):
    """A `flask worker` process on the test database, calling the test's ERP simulator."""
    env = os.environ | {"FLASK_APP": "wsgi", "DEALERFLOW_SECRET_KEY": "test",
                        "DEALERFLOW_DATABASE_URL": app.config["DATABASE_URL"],
                        "DEALERFLOW_ERP_URL": app.config["ERP_URL"],
                        "DEALERFLOW_INSTANCE_PATH": str(tmp_path),
                        "DEALERFLOW_WORKER_POLL_SECONDS": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(browser, base: str, username: str, **context):
    """A new browser context signed in as ``username`` (English UI unless ``context`` says)."""
    page = browser.new_context(**({"locale": "en-US"} | context)).new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


@pytest.fixture
def api(api):
    """The API client of tests/conftest.py, made safe beside a live server and a worker.

    An in-process request shares the test's database session; a read the test left open
    would make the request's first write an upgrade of an old SQLite snapshot, which fails
    once the server or the worker has written. Each call ends the test's transaction first
    (committing what the test set up, as the request would).
    """
    from app.extensions import db

    class LiveApi:
        def __init__(self, username):
            db.session.commit()
            self._api = api(username)

        def get(self, path, **kw):
            db.session.commit()
            return self._api.get(path, **kw)

        def post(self, path, json=None, **kw):
            db.session.commit()
            return self._api.post(path, json=json, **kw)

    return LiveApi
