"""Order load: 50 dealers ordering for 60 s against 2 web + 2 worker processes on PostgreSQL.

Everything runs on loopback: gunicorn with two sync web workers, two `flask worker` processes
(LISTEN/NOTIFY on), the ERP simulator under gunicorn, all on one PostgreSQL database (emptied
and recreated). The bench seeds BENCH_DEALERS dealers (user, sales area at price list 01, ERP
customer with a large credit limit). Each dealer thread submits an order of 1–3 random
catalogue products (``POST /api/v1/orders``), then thinks 0.5–1.5 s, until BENCH_SECONDS are
over; approver bots (customer service, finance, the sales director) work their inboxes
throughout. After the ordering stops the workers and bots drain the rest (at most
BENCH_DRAIN_SECONDS), then the bench checks:

- 0 errors (every submit answered 201, every approval 200 or a 409 from another bot);
- 0 lost orders (every order a dealer was told about is stored, and reached the ERP);
- exactly one ERP sales order per split part: the simulator's VBAK has one document per
  purchase order number (order number + part), and it is the number stored on the part.

Prints orders per minute (submitted, and in the ERP), submit latency median and p95, and how long
the backlog took to drain.

    BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/dealerflow_bench \\
        BENCH_SECONDS=60 BENCH_DEALERS=50 .venv/bin/python bench/bench_load_orders.py
"""

import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c
import order_stack as st
from bench_journey import _check, session_for

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/dealerflow_bench"


class Load:
    """What the dealer threads and bots saw, shared between threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders: dict[int, str] = {}  # order id -> number, as the API answered
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.approvals = Counter()
        self.stop_ordering = threading.Event()
        self.stop_bots = threading.Event()

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message[:300])


def _dealer(load: Load, base: str, username: str, products: list[dict]) -> None:
    rng = random.Random(username)
    try:
        s = session_for(base, username)
    except Exception as exc:  # noqa: BLE001 - counted, reported
        load.error(f"{username}: sign-in failed: {exc}")
        return
    time.sleep(rng.uniform(0, 1.5))  # dealers do not all click at the same instant
    while not load.stop_ordering.is_set():
        picked = rng.sample(products, rng.randint(1, min(3, len(products))))
        lines = [{"product_id": p["id"], "quantity": (p.get("order_multiple") or 1)
                  * rng.randint(1, 20)} for p in picked]
        t0 = time.perf_counter()
        try:
            order = st.submit(s, base, lines)
        except Exception as exc:  # noqa: BLE001 - counted, reported
            load.error(f"{username}: {exc}")
        else:
            with load.lock:
                load.latencies.append(time.perf_counter() - t0)
                load.orders[order["id"]] = order["number"]
        load.stop_ordering.wait(rng.uniform(0.5, 1.5))


def _bot(load: Load, base: str, bpmn_id: str) -> None:
    username, _ = st.APPROVALS[bpmn_id]
    sessions = {username: session_for(base, username)}
    while not load.stop_bots.is_set():
        try:
            tasks = _check(sessions[username].get(base + "/api/v1/tasks",
                                                  params={"scope": "group"}), 200, "inbox")
            mine = [t for t in tasks if t["bpmn_id"] == bpmn_id]
            for task in mine:
                done = st.approve(sessions, base, bpmn_id, task["id"])
                with load.lock:
                    load.approvals[bpmn_id if done else f"{bpmn_id} (409)"] += 1
        except Exception as exc:  # noqa: BLE001 - counted, reported
            load.error(f"bot {bpmn_id}: {exc}")
            mine = []
        if not mine:
            load.stop_bots.wait(0.2)


def _state(app) -> dict:
    from sqlalchemy import func, select

    from app.dealers.models import Dealer
    from app.extensions import db
    from app.orders.models import OrderPart, SalesOrder

    with app.app_context():
        customers = set(db.session.scalars(select(Dealer.erp_customer_no)
                                           .where(Dealer.code.like("DB%"))))
        orders = dict(db.session.execute(select(SalesOrder.id, SalesOrder.status)).all())
        parts = db.session.execute(select(OrderPart.order_id, OrderPart.purch_no,
                                          OrderPart.erp_order_number)).all()
        open_jobs = db.session.execute(select(func.count()).select_from(
            db.metadata.tables["job"]).where(db.metadata.tables["job"].c.status != "done")
        ).scalar()
        incidents = db.session.execute(select(func.count()).select_from(
            db.metadata.tables["incident"])).scalar()
        db.session.remove()
    return {"orders": orders, "parts": parts, "open_jobs": open_jobs, "incidents": incidents,
            "customers": customers}


def _all_in_erp(state: dict, ids) -> bool:
    with_parts = {p.order_id for p in state["parts"]}
    return (all(i in with_parts for i in ids)
            and all(p.erp_order_number for p in state["parts"]))


def run(url: str, seconds: int, n_dealers: int, drain_limit: int) -> None:
    with st.OrderStack(pg_url=url, web=2, workers=2) as stack:
        app = stack.app()
        t0 = time.perf_counter()
        dealers = st.seed_dealers(app, stack.erp_url, n_dealers)
        print(f"[load] {len(dealers)} dealers seeded in {time.perf_counter() - t0:.1f} s")
        stack.start_workers()
        stack.wait_listening()
        base = stack.base
        products = _check(session_for(base, dealers[0]).get(
            base + "/api/v1/catalog/products", params={"per_page": 50}), 200, "catalogue")["items"]
        products = [p for p in products if p.get("price") not in (None, "0.00")] or products
        load = Load()
        bots = [threading.Thread(target=_bot, args=(load, base, b), daemon=True)
                for b in st.APPROVALS]
        threads = [threading.Thread(target=_dealer, args=(load, base, u, products), daemon=True)
                   for u in dealers]
        for t in bots + threads:
            t.start()
        started = time.perf_counter()
        time.sleep(seconds)
        load.stop_ordering.set()
        for t in threads:
            t.join(timeout=60)
        ordering = time.perf_counter() - started
        ids = set(load.orders)
        drain_start = time.perf_counter()
        while time.perf_counter() - drain_start < drain_limit:
            state = _state(app)
            if _all_in_erp(state, ids):
                break
            time.sleep(1)
        drained = time.perf_counter() - drain_start
        load.stop_bots.set()
        for t in bots:
            t.join(timeout=30)
        state = _state(app)
        erp = [row for row in st.sim_sales_orders(stack.tmp) if row[0] in state["customers"]]

    submitted = len(ids)
    stored = {i for i in ids if i in state["orders"]}
    in_erp_orders = {p.order_id for p in state["parts"] if p.erp_order_number}
    not_in_erp = {i for i in ids if i not in in_erp_orders
                  or any(not p.erp_order_number for p in state["parts"] if p.order_id == i)}
    per_purch = Counter(bstkd for _, bstkd, _ in erp)
    erp_by_purch = {bstkd: vbeln for _, bstkd, vbeln in erp}
    parts = state["parts"]
    duplicates = sum(1 for p in parts if per_purch.get(p.purch_no, 0) > 1)
    missing = sum(1 for p in parts if per_purch.get(p.purch_no, 0) == 0)
    mismatched = sum(1 for p in parts if p.erp_order_number
                     and erp_by_purch.get(p.purch_no) != p.erp_order_number)
    stray = sum(1 for bstkd in per_purch if bstkd not in {p.purch_no for p in parts})
    lost = (submitted - len(stored)) + len(not_in_erp)
    lat = load.latencies
    rows = [["dealers / web workers / workers", f"{n_dealers} / 2 / 2"],
            ["ordering time", f"{ordering:.0f} s"],
            ["orders submitted", str(submitted)],
            ["orders per minute (submitted)", c.fmt(submitted * 60 / ordering, 0)],
            ["orders per minute (submit → every part in the ERP)",
             c.fmt(len(in_erp_orders & ids) * 60 / (ordering + drained), 0)],
            ["submit latency median / p95 / max (ms)",
             f"{c.ms(c.median(lat)):.0f} / {c.ms(c.percentile(lat, 95)):.0f} / "
             f"{c.ms(max(lat) if lat else float('nan')):.0f}"],
            ["backlog drained after ordering stopped", f"{drained:.1f} s"],
            ["approvals (bots)", ", ".join(f"{k} {v}" for k, v in sorted(load.approvals.items()))],
            ["errors", str(len(load.errors))],
            ["lost orders (not stored, or not all parts in the ERP)", str(lost)],
            ["split parts / ERP sales orders", f"{len(parts)} / {len(erp)}"],
            ["parts with 0 / 2+ ERP orders, wrong number, ERP orders of no part",
             f"{missing} / {duplicates} / {mismatched} / {stray}"],
            ["incidents / jobs not done", f"{state['incidents']} / {state['open_jobs']}"]]
    c.print_table(["order load on PostgreSQL", "value"], rows,
                  title=f"{n_dealers} dealers ordering for {seconds} s")
    for message in load.errors[:10]:
        print("  error:", message)
    ok = (not load.errors and lost == 0 and missing == duplicates == mismatched == stray == 0
          and submitted > 0)
    print(f"checks: 0 errors, 0 lost orders, exactly one ERP order per part: "
          f"{'pass' if ok else 'FAIL'}")


def main() -> None:
    from sqlalchemy import create_engine

    seconds = c.env_int("BENCH_SECONDS", 60)
    n_dealers = c.env_int("BENCH_DEALERS", 50)
    drain_limit = c.env_int("BENCH_DRAIN_SECONDS", 300)
    url = os.environ.get("BENCH_PG_URL", DEFAULT_URL)
    try:
        with create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)).connect():
            pass
    except Exception as exc:  # noqa: BLE001 - no database, no figure
        print(f"PostgreSQL not reachable at {url} ({type(exc).__name__}); set BENCH_PG_URL")
        return
    c.header(f"Order load — {n_dealers} dealers for {seconds} s, 2 web + 2 worker processes, "
             "PostgreSQL")
    run(url, seconds, n_dealers, drain_limit)


if __name__ == "__main__":
    main()
