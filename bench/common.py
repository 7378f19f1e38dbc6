"""Shared benchmark helpers: a real gunicorn server on a temp SQLite DB, stats and tables.

Benchmarks print figures; they never assert. Everything they create lives in a temp
directory that is removed at the end (the server is stopped first).
"""

import math
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
FLASK = str(BIN / "flask")
GUNICORN = str(BIN / "gunicorn")

if str(ROOT) not in sys.path:  # run as `python bench/x.py`: make `app` and `bench` importable
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------- statistics

def percentile(values, p: float) -> float:
    """Linear-interpolated percentile (p in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def p90(values) -> float:
    return percentile(values, 90)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def fmt(value, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def print_table(headers, rows, title: str | None = None) -> None:
    """Print a plain aligned table (first column left-aligned, the rest right-aligned)."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    line = "  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w)
                     for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    print(line)
    print("-" * len(line))
    for r in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    sys.stdout.flush()


def header(text: str) -> None:
    print("\n" + "=" * 78)
    print(text)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"(machine: {os.cpu_count()} CPUs, load average {load}; other processes add noise)")
    print("=" * 78)
    sys.stdout.flush()


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


# ---------------------------------------------------------------------------- test data

def tiny_png() -> bytes:
    """A valid 1×1 PNG (the same bytes the test suite uploads)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


_uscc_counter = iter(range(10_000, 99_999))


def fresh_uscc() -> str:
    """A new valid unified social credit code (GB 32100-2015 check character)."""
    from app.forms import uscc_check_char

    body = f"91330100MA{next(_uscc_counter):05d}X1"[:17]
    return body + uscc_check_char(body)


def application(licence_id: int, level: str = "A", **overrides) -> dict:
    """A valid East admission application (as in tests/conftest.py ``admission_data``)."""
    data = {
        "company_name": "杭州西湖食品有限公司", "city": "杭州", "uscc": fresh_uscc(),
        "legal_representative": "张三", "contact_name": "李四", "contact_phone": "13912345678",
        "region": "east", "dealer_type": "tier1", "level": level,
        "requested_credit_limit": "300000.00", "bank_name": "招商银行",
        "bank_account": "6225880212345678",
        "shipping_addresses": [{"address": "杭州市西湖区文三路 1 号", "receiver": "王五",
                                "phone": "13700001111"}],
        "business_licence": licence_id,
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------------------- temp DB / app

def temp_dir(prefix: str = "dealerflow-bench-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def server_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "DEALERFLOW_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "DEALERFLOW_SECRET_KEY": "bench",
        "DEALERFLOW_INSTANCE_PATH": str(tmp),
        "DEALERFLOW_UPLOAD_DIR": str(tmp / "uploads"),
        "FLASK_APP": "wsgi",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("DEALERFLOW_DEV", None)
    return env


def make_service_app(tmp: Path, database_url: str | None = None, config: dict | None = None):
    """An in-process app on a fresh database (SQLite in ``tmp`` unless ``database_url``,
    whose tables are dropped first): tables, demo users, processes. ``config`` overrides
    settings."""
    os.environ["DEALERFLOW_INSTANCE_PATH"] = str(tmp)
    from app import create_app
    from app.admin.demo import seed_demo
    from app.engine.services import clear_caches, deploy_directory
    from app.extensions import db

    app = create_app({"DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.db'}",
                      "SECRET_KEY": "bench", "UPLOAD_DIR": str(tmp / "uploads"),
                      "DEPLOY_ON_STARTUP": False, **(config or {})})
    with app.app_context():
        if database_url:
            db.drop_all()
        db.create_all()
        clear_caches()
        seed_demo()
        deploy_directory(actor="bench")
        db.session.commit()
        db.session.remove()
    return app


def with_service_app(run, *args, database_url: str | None = None) -> None:
    """Call ``run(app, *args)`` on a fresh service-layer app in a temp dir, then clean up."""
    tmp = temp_dir()
    try:
        quiet_logging()
        app = make_service_app(tmp, database_url)
        quiet_logging()
        run(app, *args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def quiet_logging() -> None:
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    for name in ("app", "werkzeug", "SpiffWorkflow", "spiff"):
        logging.getLogger(name).setLevel(logging.WARNING)


def logged_in_client(app, username: str):
    """A Flask test client logged in to the pages as ``username`` (demo password)."""
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo"})
    if r.status_code not in (302, 303):
        raise SystemExit(f"login {username}: HTTP {r.status_code}")
    return client


def add_attachment(username: str = "applicant") -> int:
    """Insert one Attachment row (inside an app context) and return its id."""
    import hashlib

    from app.core.models import User
    from app.extensions import db
    from app.files.models import Attachment

    content = tiny_png()
    user = User.by_username(username)
    att = Attachment(sha256=hashlib.sha256(content).hexdigest(), filename="licence.png",
                     content_type="image/png", size=len(content),
                     uploaded_by_id=user.id if user else None)
    db.session.add(att)
    db.session.flush()
    return att.id


def free_port() -> int:
    """A free local port; within BENCH_PORTS ("5100-5199") when set, else any."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high or low) + 1) if low else [0]
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


class NoopServer:
    """gunicorn serving ``bench/noop_wsgi.py`` (a WSGI app that does nothing), 1 worker."""

    def __init__(self, gunicorn_args: tuple[str, ...] = ("--worker-class", "sync")):
        self.gunicorn_args = tuple(gunicorn_args)
        self.proc = None
        self.base_url = None

    def __enter__(self):
        port = free_port()
        self.proc = subprocess.Popen(
            [GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1", *self.gunicorn_args,
             "--log-level", "warning", "noop_wsgi:app"],
            cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.base_url = f"http://127.0.0.1:{port}"
        import requests

        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.base_url + "/", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("the no-op gunicorn did not start")

    def __exit__(self, *_exc):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


class BenchServer:
    """A real server: temp SQLite DB, migrations, deploy, demo seed, gunicorn (1 sync worker).

    Use as a context manager; ``base_url`` is set once /healthz answers.
    """

    def __init__(self, workers: int = 1, extra_env: dict | None = None,
                 gunicorn_args: tuple[str, ...] = ("--worker-class", "sync")):
        self.workers = workers
        self.gunicorn_args = tuple(gunicorn_args)
        self.tmp = temp_dir()
        self.env = server_env(self.tmp)
        if extra_env:
            self.env.update(extra_env)
        self.db_path = self.tmp / "bench.db"
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.base_url = None
        self._log = None

    def _flask(self, *args: str) -> str:
        r = subprocess.run([FLASK, *args], check=False, cwd=ROOT, env=self.env, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed ({r.returncode}):\n"
                               f"{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
        return r.stdout.strip()

    def prepare(self) -> None:
        t0 = time.perf_counter()
        self._flask("db", "upgrade")
        self._flask("processes", "deploy")
        self._flask("demo", "seed")
        print(f"[server] temp DB ready in {time.perf_counter() - t0:.1f} s: {self.db_path}")

    def start(self) -> None:
        self.port = free_port()
        self._log = open(self.tmp / "gunicorn.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             *self.gunicorn_args, "--log-level", "warning", "--timeout", "120",
             "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._wait_healthy()
        print(f"[server] gunicorn ({self.workers} worker, {' '.join(self.gunicorn_args)}) "
              f"pid {self.proc.pid} on {self.base_url}")
        sys.stdout.flush()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        import requests

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.tmp / "gunicorn.log").read_text()[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # gunicorn runs in its own session (process group); stop that group only.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        try:
            self.prepare()
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False
