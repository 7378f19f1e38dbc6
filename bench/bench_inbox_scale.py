"""Inbox at scale: 100,000 open human tasks, then the group inbox and the whole journey.

1. Real server (gunicorn, 1 sync worker) on a temp SQLite DB; the whole-instance journey on
   the (nearly) empty DB first — the baseline of this run.
2. Bulk-insert BENCH_SCALE_TASKS (100,000) open regional_manager tasks spread over five
   regions (placeholder process_instance rows for the foreign key) with Core executemany.
3. GET /api/v1/tasks?scope=group (first page of 50) as mgr_east × 200: median and p90,
   plus the in-process SQL time and SQLite's query plan of the same query.
4. The journey again on the large DB; ratio large / empty (target ≤ 1.2×).

    .venv/bin/python bench/bench_inbox_scale.py   # BENCH_SCALE_N=100 instances per journey
"""

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import MetaData, create_engine, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_journey as bj
import common as c

LIST_TARGET_MS = 10.0
RATIO_TARGET = 1.2
REGIONS = ["east", "south", "north", "west", "central"]
BATCH = 10_000


def seed_open_tasks(db_path: Path, count: int) -> dict:
    """Bulk-insert ``count`` placeholder instances, open human tasks and role candidates."""
    engine = create_engine(f"sqlite:///{db_path}")
    meta = MetaData()
    meta.reflect(engine, only=["process_instance", "human_task", "task_candidate",
                               "process_version"])
    pi, ht, tc, pv = (meta.tables[n] for n in ("process_instance", "human_task",
                                               "task_candidate", "process_version"))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        version_id = conn.scalar(select(pv.c.id).where(pv.c.process_key == "dealer_admission")
                                 .order_by(pv.c.version.desc()).limit(1))
        next_pi = (conn.scalar(select(func.max(pi.c.id))) or 0) + 1
        next_ht = (conn.scalar(select(func.max(ht.c.id))) or 0) + 1
        next_tc = (conn.scalar(select(func.max(tc.c.id))) or 0) + 1
        start = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=count + 60)
        for lo in range(0, count, BATCH):
            instances, tasks, candidates = [], [], []
            for i in range(lo, min(lo + BATCH, count)):
                when = start + timedelta(seconds=i)
                region = REGIONS[i % len(REGIONS)]
                iid, tid = next_pi + i, next_ht + i
                title = f"占位经销商 Placeholder {i}"
                instances.append({
                    "id": iid, "created_at": when, "process_version_id": version_id,
                    "process_key": "dealer_admission", "status": "running", "outcome": None,
                    "outcome_reason": None, "business_key": None, "title": title,
                    "subject_type": None, "subject_id": None, "region": region,
                    "started_by_id": None, "lock_version": 1, "state": "{}",
                    "next_timer_at": None, "error": None, "summary": "{}",
                    "updated_at": when, "completed_at": None})
                tasks.append({
                    "id": tid, "created_at": when, "instance_id": iid,
                    "process_key": "dealer_admission", "title": title,
                    "engine_task_id": str(uuid.uuid4()), "bpmn_id": "manager_review",
                    "name": "区域经理审批 Regional manager review", "form_key": "admission_review",
                    "lane": "Regional manager", "candidate_roles": "regional_manager",
                    "candidate_users": "", "scope_region": region, "assignee_id": None,
                    "status": "open", "due_at": None, "priority": 50, "claimed_at": None,
                    "completed_at": None, "completed_by_id": None, "outcome": None,
                    "comment": None, "submitted": None, "pass_no": 1})
                candidates.append({"id": next_tc + i, "created_at": when, "task_id": tid,
                                   "kind": "role", "value": "regional_manager"})
            conn.execute(insert(pi), instances)
            conn.execute(insert(ht), tasks)
            conn.execute(insert(tc), candidates)
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = {n: conn.scalar(text(f"SELECT count(*) FROM {n}"))
                  for n in ("process_instance", "human_task", "task_candidate")}
        counts["open_group_east"] = conn.scalar(text(
            "SELECT count(*) FROM human_task WHERE status='open' AND assignee_id IS NULL "
            "AND scope_region='east'"))
    engine.dispose()
    counts["seconds"] = seconds
    return counts


def measure_list(base_url: str, username: str, n: int, warmup: int = 10) -> tuple[list[float], int]:
    s = bj.session_for(base_url, username)
    try:
        for _ in range(warmup):
            s.get(base_url + "/api/v1/tasks", params={"scope": "group"})
        times, size = [], 0
        for _ in range(n):
            t0 = time.perf_counter()
            r = s.get(base_url + "/api/v1/tasks", params={"scope": "group"})
            size = len(r.json())
            times.append(c.ms(time.perf_counter() - t0))
        if r.status_code != 200:
            raise bj.BenchError(f"list: HTTP {r.status_code}: {r.text[:300]}")
    finally:
        s.close()
    return times, size


def inprocess_inbox(tmp: Path, username: str, n: int = 50) -> dict:
    """The inbox query in-process on the same DB file: SQL + ORM time and the query plan."""
    from sqlalchemy import event

    c.quiet_logging()
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "SECRET_KEY": "bench",
                      "UPLOAD_DIR": str(tmp / "uploads")})
    c.quiet_logging()
    from app.core.models import User
    from app.extensions import db
    from app.tasks.services import inbox

    out = {}
    with app.app_context():
        user = User.by_username(username)
        captured = []

        def _capture(conn, cursor, statement, parameters, context, executemany):
            if "FROM human_task" in statement and "task_candidate" in statement:
                captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", _capture)
        rows = inbox(user, "group")
        event.remove(db.engine, "before_cursor_execute", _capture)
        db.session.rollback()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            inbox(user, "group")
            times.append(c.ms(time.perf_counter() - t0))
            db.session.rollback()
        out["rows"] = len(rows)
        out["times"] = times
        if captured:
            stmt, params = captured[0]
            raw = db.session.connection().connection.dbapi_connection
            plan = raw.execute("EXPLAIN QUERY PLAN " + stmt, params).fetchall()
            out["sql"] = " ".join(stmt.split())
            out["plan"] = [row[-1] for row in plan]
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    n = c.env_int("BENCH_SCALE_N", 100)
    warmup = c.env_int("BENCH_SCALE_WARMUP", 30)
    count = c.env_int("BENCH_SCALE_TASKS", 100_000)
    list_n = c.env_int("BENCH_LIST_N", 200)
    c.header(f"Inbox at scale — {count:,} open human tasks; journey {warmup} warm-up + {n} "
             f"measured on the empty and on the large DB")
    with c.BenchServer() as srv:
        journey = bj.Journey(srv.base_url)
        try:
            empty = bj.summarize(bj.measure_journey(journey, n, warmup, "empty DB"))
            list_empty, size_empty = measure_list(srv.base_url, "mgr_east", list_n)

            counts = seed_open_tasks(srv.db_path, count)
            print(f"[seed] {count:,} open tasks inserted in {counts['seconds']:.1f} s; rows now: "
                  f"process_instance {counts['process_instance']:,}, human_task "
                  f"{counts['human_task']:,}, task_candidate {counts['task_candidate']:,}; "
                  f"open group tasks in east: {counts['open_group_east']:,}")

            list_large, size_large = measure_list(srv.base_url, "mgr_east", list_n)
            inproc = inprocess_inbox(srv.tmp, "mgr_east")
            large = bj.summarize(bj.measure_journey(journey, n, min(warmup, 10), "large DB"))
        finally:
            journey.close()

    rows = [
        [f"GET /tasks?scope=group, empty DB ({size_empty} rows returned)",
         c.median(list_empty), c.p90(list_empty)],
        [f"GET /tasks?scope=group, {count:,} tasks ({size_large} rows returned)",
         c.median(list_large), c.p90(list_large)],
        [f"  in-process inbox() query only ({inproc.get('rows')} rows)",
         c.median(inproc["times"]), c.p90(inproc["times"])],
    ]
    c.print_table(["ms (mgr_east, first page of 50)", "median", "p90"], rows,
                  title=f"Group inbox as mgr_east ({list_n} calls each)")
    lm = c.median(list_large)
    print(f"list target ≤ {LIST_TARGET_MS:.0f} ms median: {lm:.2f} ms "
          f"({'meets' if lm <= LIST_TARGET_MS else 'misses'}; {lm / LIST_TARGET_MS:.2f}× target); "
          f"large / empty list = {lm / c.median(list_empty):.1f}×")
    if inproc.get("plan"):
        print("SQLite query plan of the group-inbox query:")
        for line in inproc["plan"]:
            print(f"    {line}")
        print(f"SQL: {inproc['sql']}")

    bj.print_journey(empty, title=f"Journey on the empty DB (n={empty['n']})")
    bj.print_journey(large, title=f"Journey on the {count:,}-task DB (n={large['n']})")
    ratio = large["total_med"] / empty["total_med"]
    c.print_table(
        ["ms", "empty DB", f"{count:,} tasks", "ratio"],
        [["whole instance median", empty["total_med"], large["total_med"], ratio],
         ["whole instance p90", empty["total_p90"], large["total_p90"],
          large["total_p90"] / empty["total_p90"]]]
        + [[f"{s} median", c.median(empty["steps"][s]), c.median(large["steps"][s]),
            c.median(large["steps"][s]) / c.median(empty["steps"][s])] for s in bj.STEPS],
        title="Large DB vs empty DB (same run)")
    print(f"journey ratio large / empty = {ratio:.2f}× (target ≤ {RATIO_TARGET}×: "
          f"{'meets' if ratio <= RATIO_TARGET else 'misses'})")


if __name__ == "__main__":
    main()
