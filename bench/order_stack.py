"""A whole order-to-ERP stack for the order benchmarks, every part a real process.

gunicorn (``web`` sync workers) on SQLite or PostgreSQL, the ERP simulator under gunicorn
(threaded, keep-alive) with its own SQLite file, and ``flask worker`` processes. Helpers seed
extra dealers (users, sales areas, ERP customers with a credit limit), place orders over the
API and let an approver bot work customer service, finance and shipment tasks.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_worker as bw
import common as c
import requests
from bench_journey import BenchError, _check, session_for

# Human steps of order_approval and the data each approver sends.
APPROVALS = {"cs_review": ("cs", {"decision": "approve", "comment": "ok"}),
             "finance_release": ("finance", {"decision": "release", "comment": "ok"}),
             "shipment_approval": ("director", {"decision": "approve", "comment": "ok"})}


class PgBenchServer(c.BenchServer):
    """BenchServer on a PostgreSQL database (its public schema is dropped and recreated)."""

    def __init__(self, url: str, workers: int = 1, extra_env: dict | None = None):
        super().__init__(workers=workers, extra_env=extra_env)
        self.env["DEALERFLOW_DATABASE_URL"] = url
        self.url = self.db_path = url

    def prepare(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        super().prepare()


class OrderStack:
    """Web, ERP simulator and workers; use as a context manager."""

    def __init__(self, *, pg_url: str | None = None, web: int = 1, workers: int = 1,
                 worker_env: dict | None = None):
        self.pg_url, self.web, self.n_workers = pg_url, web, workers
        self.worker_env = worker_env or {}
        self.server = (PgBenchServer(pg_url, web) if pg_url else c.BenchServer(workers=web))
        self.tmp = self.server.tmp
        self.simulator = None
        self.workers: list[subprocess.Popen] = []

    def __enter__(self) -> "OrderStack":
        try:
            self.erp_url, self.simulator = bw._start_simulator(self.tmp, "gunicorn")
            self.sim_base = self.erp_url.split("/sap/")[0]
            self.server.env["DEALERFLOW_ERP_URL"] = self.erp_url
            self.server.__enter__()
            self.base = self.server.base_url
        except BaseException:
            self._stop_simulator()
            self.server.cleanup()
            raise
        return self

    def start_workers(self) -> None:
        env = dict(self.server.env, **self.worker_env)
        for i in range(self.n_workers):
            log = open(self.tmp / f"worker-{i}.log", "w")  # noqa: SIM115 - closed with the process
            self.workers.append(subprocess.Popen(
                [c.FLASK, "worker", "--id", f"bench-{i}"], cwd=c.ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))

    def _stop_simulator(self) -> None:
        if self.simulator is not None and self.simulator.poll() is None:
            os.killpg(self.simulator.pid, signal.SIGTERM)
            self.simulator.wait(timeout=10)

    def __exit__(self, *exc):
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self._stop_simulator()
        self.server.cleanup()
        return False

    def app(self):
        """An in-process app on the stack's database (for seeding and checks)."""
        os.environ["DEALERFLOW_INSTANCE_PATH"] = str(self.tmp)
        from app import create_app

        url = self.server.env["DEALERFLOW_DATABASE_URL"]
        return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "ERP_URL": self.erp_url,
                           "DEPLOY_ON_STARTUP": False, "UPLOAD_DIR": str(self.tmp / "uploads")})

    def wait_listening(self, timeout: float = 60) -> None:
        """Wait until every worker has started (PostgreSQL: its LISTEN connection is open)."""
        if not self.pg_url:
            time.sleep(3)
            return
        from sqlalchemy import create_engine, text

        engine = create_engine(self.pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    n = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                         "application_name = 'dealerflow-worker-listen' AND "
                                         "datname = current_database()"))
                if n >= self.n_workers:
                    return
                time.sleep(0.2)
        finally:
            engine.dispose()
        raise BenchError("workers did not start listening")


def seed_dealers(app, erp_url: str, n: int, credit_limit: str = "100000000.00") -> list[str]:
    """``n`` active East dealers, each with a user (password demo), the 1000/10/00 sales area
    at price list 01 and a customer with ``credit_limit`` in the ERP simulator; usernames."""
    from decimal import Decimal

    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from app.catalog.models import DealerSalesArea
    from app.core.models import User
    from app.dealers.models import Dealer
    from app.extensions import db
    from app.forms import uscc_check_char
    from connectors.erp.soap import ErpClient, ErpSettings

    erp = ErpClient(ErpSettings(url=erp_url, timeout=10))
    password = generate_password_hash("demo")
    names = []
    with app.app_context():
        for i in range(n):
            code = f"DB{i + 1:06d}"
            if db.session.scalar(select(Dealer.id).where(Dealer.code == code)):
                names.append(f"bench_dealer_{i + 1}")
                continue
            company = {"NAME": f"压测经销商 {i + 1}", "CITY": "杭州", "COUNTRY": "CN", "LANGU": "1"}
            ref = {"SALESORG": "1000", "DISTR_CHAN": "10", "DIVISION": "00"}
            kunnr = erp.call("BAPI_CUSTOMER_CREATEFROMDATA1", PI_COMPANYDATA=company,
                             PI_COPYREFERENCE=ref, IDEMPOTENCY_KEY=f"bench-{code}")["CUSTOMERNO"]
            erp.call("ZDF_CREDIT_LIMIT_SET", CUSTOMER=kunnr, CREDITCONTROLAREA="1000",
                     CREDIT_LIMIT=Decimal(credit_limit), CURRENCY="CNY",
                     IDEMPOTENCY_KEY=f"bench-limit-{code}")
            body = f"91330100MB{i + 1:06d}X"[:17]
            dealer = Dealer(code=code, name=f"压测经销商 {i + 1}", uscc=body + uscc_check_char(body),
                            dealer_type="tier1", level="A", region="east", status="active",
                            credit_limit=Decimal(credit_limit), payment_terms="net30",
                            contact_name="王经理", contact_phone="13800138000",
                            erp_customer_no=kunnr)
            db.session.add(dealer)
            db.session.flush()
            db.session.add(DealerSalesArea(dealer_id=dealer.id, sales_org="1000", distr_chan="10",
                                           division="00", price_list="01"))
            user = User(username=f"bench_dealer_{i + 1}", display_name=dealer.name,
                        region="east", dealer_id=dealer.id, password_hash=password)
            user.roles = ["dealer"]
            db.session.add(user)
            names.append(user.username)
        db.session.commit()
        db.session.remove()
    return names


def plain_lines(session: requests.Session, base: str, count: int = 2) -> list[dict]:
    """Lines of an order without gifts or special prices: the first on-shelf products."""
    products = _check(session.get(base + "/api/v1/catalog/products"), 200, "catalogue")
    items = products["items"] if isinstance(products, dict) else products
    if len(items) < count:
        raise BenchError(f"only {len(items)} products on the dealer's catalogue")
    return [{"product_id": p["id"], "quantity": 10 * (p.get("order_multiple") or 1)}
            for p in items[:count]]


def submit(session: requests.Session, base: str, lines: list[dict]) -> dict:
    body = {"lines": lines, "submit_key": uuid.uuid4().hex}
    return _check(session.post(base + "/api/v1/orders", json=body), 201, "submit order")


def open_tasks(sessions: dict, base: str) -> list[tuple[str, dict]]:
    """Every open order_approval task the approvers see, as (bpmn_id, task)."""
    found = []
    for bpmn_id, (username, _) in APPROVALS.items():
        tasks = _check(sessions[username].get(base + "/api/v1/tasks",
                                              params={"scope": "group"}), 200, "inbox")
        found += [(bpmn_id, t) for t in tasks if t["bpmn_id"] == bpmn_id]
    return found


def approve(sessions: dict, base: str, bpmn_id: str, task_id: int) -> bool:
    """Claim and complete one task; False when someone else got there first (409)."""
    username, data = APPROVALS[bpmn_id]
    s = sessions[username]
    r = s.post(f"{base}/api/v1/tasks/{task_id}/claim")
    if r.status_code == 409:
        return False
    _check(r, 200, f"claim {bpmn_id}")
    r = s.post(f"{base}/api/v1/tasks/{task_id}/complete", json={"data": data})
    if r.status_code == 409:
        return False
    _check(r, 200, f"complete {bpmn_id}")
    return True


def approver_sessions(base: str) -> dict:
    return {username: session_for(base, username)
            for username in {u for u, _ in APPROVALS.values()}}


def sim_sales_orders(tmp: Path) -> list[tuple[str, str, str]]:
    """(sold-to, purchase order number, sales document) of every order in the simulator."""
    import sqlite3

    conn = sqlite3.connect(tmp / "sim.db")
    try:
        return conn.execute("SELECT kunnr, bstkd, vbeln FROM vbak").fetchall()
    finally:
        conn.close()
