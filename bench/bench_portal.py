"""Dealer portal pages at scale, in process (Flask test client, temp SQLite, ``create_all``).

Data: the demo users, dealers and catalogue; BENCH_PORTAL_ORDERS (5,000) orders over the two
demo dealers with mixed statuses (credit-blocked ones carry their credit-check figures),
BENCH_PORTAL_NOTICES (300) announcements with mixed regions, dealer types and validity.
The ERP points at a closed port, so the dashboard's credit read falls back at once (no network
time in the figures).

Measured BENCH_PORTAL_N (100) times each, median and p90:
- baseline: ``/portal/cart`` (signed in, a template and nothing else);
- the dealer dashboard (credit, to-dos from the inbox, prepayable orders, announcements);
- ``GET /api/v1/announcements`` as a dealer (targeting filtered for its dealer);
- the staff order list as ``cs``: region + date range filter, page 2 of 50.

    .venv/bin/python bench/bench_portal.py
"""

import os
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common as c

N = int(os.environ.get("BENCH_PORTAL_N", "100"))
ORDERS = int(os.environ.get("BENCH_PORTAL_ORDERS", "5000"))
NOTICES = int(os.environ.get("BENCH_PORTAL_NOTICES", "300"))


def seed(app) -> None:
    from sqlalchemy import insert, select

    from app.admin.demo import seed_demo
    from app.announcements.models import Announcement
    from app.dealers.models import Dealer
    from app.extensions import db
    from app.orders.models import OrderEvent, SalesOrder
    from app.portal.demo import seed_demo_commerce

    seed_demo()
    seed_demo_commerce()
    db.session.commit()
    dealers = list(db.session.scalars(select(Dealer.id).order_by(Dealer.id)))
    statuses = ["submitted", "credit_blocked", "in_erp", "shipped", "completed", "rejected"]
    now = datetime.utcnow()
    orders = [{"number": f"SO{i:012d}", "dealer_id": dealers[i % len(dealers)],
               "submit_key": f"bench-{i:08d}", "status": statuses[i % len(statuses)],
               "currency": "CNY", "list_total": Decimal("1000.00"), "discount_total": Decimal("0"),
               "net_total": Decimal("1000.00"), "promotions": [], "created_by": "bench",
               "created_at": now - timedelta(hours=i), "updated_at": now}
              for i in range(ORDERS)]
    db.session.execute(insert(SalesOrder), orders)
    blocked = db.session.scalars(select(SalesOrder.id).where(SalesOrder.status == "credit_blocked"))
    db.session.execute(insert(OrderEvent), [
        {"order_id": oid, "kind": "credit_checked", "actor": "worker", "created_at": now,
         "details": {"available_after": "-250.00"}} for oid in blocked])
    regions = [[], ["east"], ["south"], ["east", "south"]]
    types = [[], ["tier1"], ["tier2"], ["retailer"]]
    today = date.today()
    db.session.execute(insert(Announcement), [
        {"title": f"公告 {i}", "body": "正文 " * 40, "regions": regions[i % 4],
         "dealer_types": types[(i // 4) % 4], "status": "published" if i % 7 else "unpublished",
         "valid_from": today - timedelta(days=i % 30), "created_by": "bench",
         "valid_to": today + timedelta(days=30) if i % 5 else today - timedelta(days=1),
         "created_at": now, "updated_at": now} for i in range(NOTICES)])
    db.session.commit()


def timed(client, path: str, expect: int = 200) -> list[float]:
    for _ in range(5):
        client.get(path)
    out = []
    for _ in range(N):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        if r.status_code != expect:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
    return out


def main() -> None:
    from app import create_app
    from app.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "ERP_URL": "http://127.0.0.1:9/sap",
                      "ERP_TIMEOUT_SECONDS": 1, "DEPLOY_ON_STARTUP": False})
    with app.app_context():
        db.create_all()
        from app.engine.services import deploy_directory

        deploy_directory(app.config["PROCESSES_DIR"], "bench")
        t0 = time.perf_counter()
        seed(app)
        print(f"seeded {ORDERS} orders and {NOTICES} announcements in {time.perf_counter() - t0:.1f} s")
    dealer, cs = c.logged_in_client(app, "dealer_east"), c.logged_in_client(app, "cs")
    since = (date.today() - timedelta(days=60)).isoformat()
    rows = []
    base = timed(dealer, "/portal/cart")
    for label, client, path in [
        ("baseline: /portal/cart", dealer, "/portal/cart"),
        ("dealer dashboard /portal", dealer, "/portal"),
        ("GET /api/v1/announcements (dealer)", dealer, "/api/v1/announcements"),
        ("staff list: region + dates, page 2", cs, f"/portal/orders?region=east&date_from={since}&page=2"),
    ]:
        values = base if path == "/portal/cart" else timed(client, path)
        rows.append((label, c.ms(c.median(values)), c.ms(c.p90(values)),
                     c.median(values) / c.median(base)))
    c.print_table(["page", "median ms", "p90 ms", "× baseline"], rows,
                  title=f"Dealer portal, in process, n={N} ({ORDERS} orders, {NOTICES} announcements)")


if __name__ == "__main__":
    main()
