"""Approval operations: batch approve of 500 tasks, and a 10-person countersign node.

Service layer on SQLite (no HTTP), models from tests/integration/bpmn:
- batch: ``operations.batch_complete`` over N open "check" tasks of oa_chain (each task its
  own transaction), against the baseline of completing N such tasks one by one with
  ``services.complete_task`` + commit, in the same run;
- countersign: per-approval latency (get_task_for + complete_task + commit) of the ten
  approvers of an oa_countersign node, against a single-approver task (oa_chain "check").

    .venv/bin/python bench/bench_task_operations.py   # BENCH_BATCH_N=500, BENCH_BATCH_REPS=3,
                                                       # BENCH_SIGN_N=30 instances
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

MODELS = Path(__file__).resolve().parents[1] / "tests" / "integration" / "bpmn"
SIGNERS = [f"signer{i:02d}" for i in range(10)]


def main() -> None:
    n = c.env_int("BENCH_BATCH_N", 500)
    reps = c.env_int("BENCH_BATCH_REPS", 3)
    sign_n = c.env_int("BENCH_SIGN_N", 30)
    c.header(f"Approval operations — batch approve {n} tasks ×{reps}, "
             f"10-person countersign ×{sign_n}")
    c.with_service_app(run, n, reps, sign_n)


def _setup(app):
    from werkzeug.security import generate_password_hash

    from app.core.models import User
    from app.engine.services import deploy_directory
    from app.extensions import db

    deploy_directory(str(MODELS), actor="bench")
    pw = generate_password_hash("demo")
    for name in SIGNERS:
        user = User(username=name, display_name=name, password_hash=pw)
        user.roles = ["finance"]
        db.session.add(user)
    db.session.commit()


def _check_tasks(n: int) -> list[int]:
    """Start n oa_chain instances; return their open "check" task ids."""
    from sqlalchemy import select

    from app.core.models import User
    from app.extensions import db
    from app.tasks.models import HumanTask
    from app.tasks.services import start_instance

    starter = User.by_username("storeops")
    ids = []
    for i in range(n):
        inst = start_instance("oa_chain", starter, {"amount": i})
        db.session.commit()
        ids.append(db.session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == inst.id, HumanTask.bpmn_id == "check")))
    return ids


CPU: list[tuple[str, float]] = []  # (what, CPU seconds): steadier than wall time under load


def _one_by_one(ids: list[int], user) -> float:
    from app.extensions import db
    from app.tasks.services import complete_task, get_task_for

    t0, c0 = time.perf_counter(), time.process_time()
    for task_id in ids:
        complete_task(get_task_for(task_id, user), user, {"decision": "approve"})
        db.session.commit()
    CPU.append(("one-by-one", time.process_time() - c0))
    return time.perf_counter() - t0


def _batch(ids: list[int], user) -> float:
    from app.tasks.operations import batch_complete

    t0, c0 = time.perf_counter(), time.process_time()
    results = batch_complete(user, ids, {"decision": "approve"})
    elapsed = time.perf_counter() - t0
    CPU.append(("batch", time.process_time() - c0))
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise SystemExit(f"batch rows failed: {failed[:3]}")
    return elapsed


def _timed_complete(task_id: int, user) -> float:
    from app.extensions import db
    from app.tasks.services import complete_task, get_task_for

    t0 = time.perf_counter()
    complete_task(get_task_for(task_id, user), user, {"decision": "approve", "vote": "approve"})
    db.session.commit()
    return time.perf_counter() - t0


def run(app, n: int, reps: int, sign_n: int) -> None:
    from sqlalchemy import select

    from app.core.models import User
    from app.extensions import db
    from app.tasks.models import HumanTask
    from app.tasks.services import start_instance

    with app.app_context():
        _setup(app)
        finance = User.by_username("finance")
        batch_s, single_s = [], []
        for _ in range(reps):  # interleaved: batch, then the one-by-one baseline
            batch_s.append(_batch(_check_tasks(n), finance))
            single_s.append(_one_by_one(_check_tasks(n), finance))
        c.print_table(
            ["", "median s", "min s", "max s", "ms/task"],
            [[f"batch_complete of {n}", c.fmt(c.median(batch_s)), c.fmt(min(batch_s)),
              c.fmt(max(batch_s)), c.fmt(c.ms(c.median(batch_s)) / n)],
             [f"baseline: {n} × complete_task", c.fmt(c.median(single_s)),
              c.fmt(min(single_s)), c.fmt(max(single_s)), c.fmt(c.ms(c.median(single_s)) / n)]],
            title="Batch approve (SQLite, each task its own transaction)")
        print(f"batch / one-by-one ratio: {c.median(batch_s) / c.median(single_s):.2f}")
        for what in ("batch", "one-by-one"):
            cpu = [v for k, v in CPU if k == what]
            print(f"{what}: process CPU median {c.median(cpu):.2f} s, min {min(cpu):.2f} s "
                  f"(wall time minus waiting for the CPU on a loaded machine)")

        starter = User.by_username("storeops")
        signers = {name: User.by_username(name) for name in SIGNERS}
        sign_lat, single_lat = [], []
        for _ in range(sign_n):
            [single_id] = _check_tasks(1)
            single_lat.append(_timed_complete(single_id, finance))
            inst = start_instance("oa_countersign", starter, {"approvers": SIGNERS})
            db.session.commit()
            rows = db.session.scalars(select(HumanTask).where(
                HumanTask.instance_id == inst.id, HumanTask.bpmn_id == "sign",
                HumanTask.status == "open")).all()
            for row in rows:
                uid = row.assignee_id
                user = next(u for u in signers.values() if u.id == uid)
                sign_lat.append(_timed_complete(row.id, user))
        c.print_table(
            ["", "median ms", "p90 ms", "n"],
            [["countersign approval (10 approvers)", c.fmt(c.ms(c.median(sign_lat))),
              c.fmt(c.ms(c.p90(sign_lat))), str(len(sign_lat))],
             ["baseline: single-approver task", c.fmt(c.ms(c.median(single_lat))),
              c.fmt(c.ms(c.p90(single_lat))), str(len(single_lat))]],
            title="Per-approval latency")
        print(f"countersign / single ratio: {c.median(sign_lat) / c.median(single_lat):.2f}")


if __name__ == "__main__":
    main()
