"""Stores at scale: one month's inspections for 10,000 stores, and the filtered ledger page.

1. Real server (gunicorn, 1 sync worker) on a temp SQLite DB (with the demo stores). The store
   tables are created with ``create_all`` after the migrations (no migration for them ships yet).
2. Baseline of this run: the ledger page (GET /stores?region=east&status=active, storeops,
   session cookie) on the empty ledger; the generation baseline is a plain Core executemany
   of the same number of rows into a scratch table.
3. Bulk-insert BENCH_STORES (10,000) stores of 40 dealers over five regions (Core executemany),
   two inspection plans (standard monthly, flagship monthly).
4. ``generate_inspections('2026-12')`` in-process: first run (target ≤ 10 s), second run (must
   create 0), then two ``flask stores generate-inspections --slot 2027-01`` processes at once
   (together they must create exactly one inspection per store).
5. The ledger page again with 10,000 stores: median / p90 over HTTP (target ≤ 50 ms), the
   REST list and a dealer's scoped page; ratio against the empty-ledger baseline.

    .venv/bin/python bench/stores.py     # BENCH_STORES=10000 BENCH_LEDGER_N=200
"""

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

GENERATE_TARGET_S = 10.0
LEDGER_TARGET_MS = 50.0
REGIONS = ["east", "south", "north", "west", "central"]
TYPES = ["standard", "standard", "standard", "flagship", "kiosk"]


def session_for(base: str, username: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": username, "password": "demo"}
    if token:
        data["csrf_token"] = token.group(1)
    r = s.post(f"{base}/login", data=data, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:300]
    return s


def timed_gets(session, url: str, n: int, warmup: int = 10, headers=None) -> list[float]:
    for _ in range(warmup):
        session.get(url, headers=headers, timeout=30)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.get(url, headers=headers, timeout=30)
        times.append(c.ms(time.perf_counter() - t0))
        assert r.status_code == 200, r.text[:300]
    return times


def make_app(db_path: Path, tmp: Path):
    from app import create_app

    return create_app({"DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "bench",
                       "UPLOAD_DIR": str(tmp / "uploads"), "DEPLOY_ON_STARTUP": False})


def seed_stores(count: int) -> int:
    """Dealers and ``count`` active stores with Core executemany; return the dealer_east id."""
    from app.dealers.models import Dealer
    from app.extensions import db
    from app.stores.models import InspectionPlan, Store

    now = datetime.now(UTC).replace(tzinfo=None)
    dealers = [{"code": f"DB{i:06d}", "name": f"基准经销商 {i}", "dealer_type": "tier1",
                "level": "B", "region": REGIONS[i % 5], "status": "active", "created_at": now,
                "updated_at": now} for i in range(40)]
    db.session.execute(Dealer.__table__.insert(), dealers)
    ids = db.session.scalars(select(Dealer.id).where(Dealer.code.like("DB%"))
                             .order_by(Dealer.id)).all()
    regions = dict(db.session.execute(select(Dealer.id, Dealer.region)).all())
    east_dealer = db.session.scalar(select(Dealer.id).where(Dealer.code == "DE000001"))
    ids.append(east_dealer)
    rows = []
    for i in range(count):
        dealer = ids[i % len(ids)]
        rows.append({"code": f"SB{i:07d}", "name": f"门店 {i}", "dealer_id": dealer,
                     "region": regions[dealer], "status": "active", "city": "城市",
                     "address": f"路 {i} 号", "store_type": TYPES[i % len(TYPES)],
                     "area_m2": 100, "budget_total": 100000, "actual_total": 90000,
                     "created_at": now, "updated_at": now})
    db.session.execute(Store.__table__.insert(), rows)
    planned = set(db.session.scalars(select(InspectionPlan.store_type)))  # the demo's plan
    for store_type in {"standard", "flagship", "kiosk"} - planned:
        db.session.add(InspectionPlan(name=f"{store_type} monthly", store_type=store_type,
                                      every_months=1, start_month="2026-01", due_days=20,
                                      threshold=70, created_by="bench"))
    db.session.commit()
    return east_dealer


def baseline_insert(db_path: Path, count: int) -> float:
    """The floor: the same number of rows, Core executemany into a scratch table."""
    engine = create_engine(f"sqlite:///{db_path}")
    meta = MetaData()
    scratch = Table("bench_scratch", meta, Column("id", Integer, primary_key=True),
                    Column("plan_id", Integer), Column("store_id", Integer),
                    Column("slot", String(7)), Column("region", String(20)))
    meta.create_all(engine)
    rows = [{"plan_id": 1, "store_id": i, "slot": "2026-12", "region": "east"}
            for i in range(count)]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(scratch.insert(), rows)
    took = time.perf_counter() - t0
    meta.drop_all(engine)
    engine.dispose()
    return took


def generation(app, srv, count: int) -> list:
    from app.extensions import db
    from app.stores.inspections import generate_inspections
    from app.stores.models import Inspection

    out = []
    with app.app_context():
        t0 = time.perf_counter()
        first = generate_inspections("2026-12", actor="bench")
        db.session.commit()
        out.append(("generate 2026-12, first run", time.perf_counter() - t0, first))
        t0 = time.perf_counter()
        second = generate_inspections("2026-12", actor="bench")
        db.session.commit()
        out.append(("generate 2026-12, second run", time.perf_counter() - t0, second))
    cmd = [c.FLASK, "stores", "generate-inspections", "--slot", "2027-01"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=c.ROOT, env=srv.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].strip().splitlines()[-1] for p in procs]
    took = time.perf_counter() - t0
    with app.app_context():
        made = db.session.scalar(select(func.count(Inspection.id))
                                 .where(Inspection.slot == "2027-01"))
        db.session.remove()
    out.append((f"2 processes at once, 2027-01 ({' | '.join(outputs)})", took, made))
    return out


class StoresServer(c.BenchServer):
    """The bench server, with the store tables created (``create_all``) after the migrations,
    until a migration for them ships."""

    def prepare(self) -> None:
        t0 = time.perf_counter()
        self._flask("db", "upgrade")
        app = make_app(self.db_path, self.tmp)
        from app.extensions import db

        with app.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()
        self._flask("processes", "deploy")
        self._flask("demo", "seed")
        print(f"[server] temp DB ready in {time.perf_counter() - t0:.1f} s: {self.db_path}")


def main() -> None:
    count = c.env_int("BENCH_STORES", 10_000)
    n = c.env_int("BENCH_LEDGER_N", 200)
    c.header(f"Stores at scale — {count:,} stores; ledger page × {n}")
    with StoresServer() as srv:
        c.quiet_logging()
        app = make_app(srv.db_path, srv.tmp)
        c.quiet_logging()
        from app.extensions import db
        ops = session_for(srv.base_url, "storeops")
        url = f"{srv.base_url}/stores?region=east&status=active"
        noop = timed_gets(ops, f"{srv.base_url}/healthz", n)
        empty = timed_gets(ops, url, n)
        floor = baseline_insert(srv.db_path, count)
        with app.app_context():
            t0 = time.perf_counter()
            east_dealer = seed_stores(count)
            print(f"[seed] {count:,} stores in {time.perf_counter() - t0:.1f} s")
            db.session.remove()
        gen = generation(app, srv, count)
        full = timed_gets(ops, url, n)
        page = ops.get(url, timeout=30).text
        shown = page.count('data-testid="store-row"')
        typed = timed_gets(ops, f"{srv.base_url}/stores?region=south&status=active"
                                f"&store_type=flagship&q=门店", n)
        dealer = timed_gets(session_for(srv.base_url, "dealer_east"),
                            f"{srv.base_url}/stores?status=active", n)
        token = requests.post(f"{srv.base_url}/api/v1/auth/token", timeout=10,
                              json={"username": "storeops", "password": "demo"}).json()["token"]
        api = timed_gets(requests.Session(), f"{srv.base_url}/api/v1/stores?region=east"
                         f"&status=active&limit=50", n,
                         headers={"Authorization": f"Bearer {token}"})
    rows = [[f"baseline: Core executemany of {count:,} rows", floor, "-"]]
    rows += [[label, took, made] for label, took, made in gen]
    c.print_table(["inspection generation", "seconds", "created"], rows,
                  f"Generation (target ≤ {GENERATE_TARGET_S:.0f} s for {count:,} stores)")
    print(f"first run / executemany baseline = {gen[0][1] / floor:.1f}×; "
          f"second run created {gen[1][2]} (must be 0); "
          f"concurrent runs created {gen[2][2]:,} for the stores due that month")
    c.print_table(["ms", "median", "p90"], [
        ["floor: GET /healthz (one SELECT 1)", c.median(noop), c.p90(noop)],
        ["baseline: /stores?region=east&status=active, empty ledger", c.median(empty),
         c.p90(empty)],
        [f"same page, {count:,} stores ({shown} rows shown)", c.median(full), c.p90(full)],
        ["/stores?region=south&status=active&store_type=flagship&q=…", c.median(typed),
         c.p90(typed)],
        ["dealer_east: /stores?status=active (own stores only)", c.median(dealer),
         c.p90(dealer)],
        ["GET /api/v1/stores?region=east&status=active&limit=50", c.median(api), c.p90(api)],
    ], f"Ledger over HTTP (gunicorn, 1 sync worker; target ≤ {LEDGER_TARGET_MS:.0f} ms median)")
    print(f"large / empty ledger page = {c.median(full) / c.median(empty):.1f}×; "
          f"dealer_east id {east_dealer}")


if __name__ == "__main__":
    main()
