"""Inbox filters, counts and the timeout scan, against the plain group inbox of the same run.

Service layer on SQLite (no HTTP), or on PostgreSQL with ``BENCH_PG_URL`` (its tables are
dropped and re-created, then ANALYZEd after the seed). BENCH_FILTER_TASKS (20,000) open
finance group tasks are bulk-inserted with amounts, dealers, regions and due dates (a tenth overdue); then, as
``finance``, BENCH_FILTER_N (100) calls each of:

- the plain first page ``inbox(user, "group")`` — the baseline;
- filtered first pages (amount range + region; overdue; sort by amount; page 20);
- ``counts()`` (every tab under a filter);
- ``check_timeouts()`` with nothing due (what the minute job costs when idle).

    .venv/bin/python bench/bench_inbox_filters.py
    BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/dealerflow_bench \\
        .venv/bin/python bench/bench_inbox_filters.py
"""

import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

REGIONS = ["east", "south", "north", "west", "central"]


def _seed(count: int) -> None:
    from sqlalchemy import func, insert, select, text

    from app.core.models import utcnow
    from app.dealers.models import Dealer
    from app.engine.models import ProcessInstance, ProcessVersion
    from app.extensions import db
    from app.tasks.models import HumanTask, TaskCandidate

    version_id = db.session.scalar(select(ProcessVersion.id).order_by(ProcessVersion.id)
                                   .limit(1))
    dealers = db.session.scalars(select(Dealer.id)).all() or [None]
    first_pi = (db.session.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
    first_ht = (db.session.scalar(select(func.max(HumanTask.id))) or 0) + 1
    now = utcnow()
    instances, tasks, candidates = [], [], []
    for i in range(count):
        when = now - timedelta(seconds=count - i)
        iid, tid = first_pi + i, first_ht + i
        instances.append({"id": iid, "created_at": when, "process_version_id": version_id,
                          "process_key": "oa_bench", "status": "running", "title": f"#{i}",
                          "region": REGIONS[i % 5], "lock_version": 1, "state": "{}",
                          "updated_at": when, "waiting_messages": ""})
        due = now + timedelta(hours=(i % 10) - 1)  # one in ten is overdue
        tasks.append({"id": tid, "created_at": when, "instance_id": iid,
                      "process_key": "oa_bench", "title": f"#{i}",
                      "engine_task_id": str(uuid.uuid4()), "bpmn_id": "check", "name": "check",
                      "candidate_roles": "finance", "candidate_users": "", "status": "open",
                      "due_at": due, "warn_at": due - timedelta(hours=1), "warned_at": due,
                      "amount": (i * 37) % 50_000, "dealer_id": dealers[i % len(dealers)],
                      "priority": 50, "pass_no": 1, "kind": "engine"})
        candidates.append({"task_id": tid, "kind": "role", "value": "finance",
                           "created_at": when})
    db.session.execute(insert(ProcessInstance.__table__), instances)
    db.session.execute(insert(HumanTask.__table__), tasks)
    db.session.execute(insert(TaskCandidate.__table__), candidates)
    # already timed out: the idle scan has nothing to act on
    db.session.execute(HumanTask.__table__.update().where(HumanTask.due_at <= now)
                       .values(timed_out_at=now))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum would
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def _time(fn, n: int) -> list[float]:
    from app.extensions import db

    fn()
    db.session.rollback()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(c.ms(time.perf_counter() - t0))
        db.session.rollback()
    return out


def run(app, count: int, n: int) -> None:
    from app.core.models import User
    from app.tasks import inbox as boxes
    from app.tasks.services import inbox
    from app.tasks.timeouts import check_timeouts

    with app.app_context():
        t0 = time.perf_counter()
        _seed(count)
        print(f"[seed] {count:,} open group tasks in {time.perf_counter() - t0:.1f} s")
        user = User.by_username("finance")

        def filtered(**params):
            full = boxes.parse(params)
            return lambda: boxes.filtered(user, "group", full, 50)

        cases = [
            ("plain group inbox, first page (baseline)", lambda: inbox(user, "group")),
            ("filter amount 10,000–20,000 + region east", filtered(
                amount_min="10000", amount_max="20000", region="east")),
            ("filter overdue", filtered(overdue="1")),
            ("sort by amount", filtered(sort="amount")),
            ("page 20", filtered(page="20")),
            ("counts per tab (amount ≥ 10,000)", lambda: boxes.counts(
                user, boxes.parse({"amount_min": "10000"}))),
            ("timeout scan, nothing due", lambda: check_timeouts()),
        ]
        results = [(label, _time(fn, n)) for label, fn in cases]
    base = c.median(results[0][1])
    rows = [[label, c.median(t), c.p90(t), f"{c.median(t) / base:.1f}×"]
            for label, t in results]
    c.print_table(["ms (as finance)", "median", "p90", "vs plain"], rows,
                  title=f"Inbox with {count:,} open group tasks, {n} calls each")


def main() -> None:
    count = c.env_int("BENCH_FILTER_TASKS", 20_000)
    n = c.env_int("BENCH_FILTER_N", 100)
    url = os.environ.get("BENCH_PG_URL")
    where = "PostgreSQL" if url else "SQLite"
    c.header(f"Inbox filters, counts and the timeout scan — {count:,} open tasks, {where}")
    c.with_service_app(run, count, n, database_url=url)


if __name__ == "__main__":
    main()
