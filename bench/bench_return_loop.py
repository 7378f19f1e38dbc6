"""Return for revision 1,000 times on one instance (service layer, no HTTP, SQLite).

One round trip = mgr_east returns manager_review ("return" + comment) and the applicant
resubmits the reopened submit_application; each service call is followed by a commit
(services only flush; the benchmark owns the transaction). Prints the round-trip time at
the 1st, 10th, 100th, 500th and 1000th round (median of a ±2 window), the ratio
1000th / 1st (target ≤ 1.5×) and the stored process_instance.state size (target: flat).

    .venv/bin/python bench/bench_return_loop.py   # BENCH_LOOPS=1000
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

RATIO_TARGET = 1.5
WINDOW = 2


def _checkpoints(loops: int) -> list[int]:
    return sorted({k for k in (1, 10, 100, 500, 1000, loops) if k <= loops})


def _window(values: list[float], k: int) -> float:
    """Median of rounds k-WINDOW … k+WINDOW (1-based, clipped)."""
    lo, hi = max(1, k - WINDOW), min(len(values), k + WINDOW)
    return c.median(values[lo - 1:hi])


def main() -> None:
    loops = c.env_int("BENCH_LOOPS", 1000)
    c.header(f"Return for revision {loops:,} times on one instance — service layer, SQLite")
    c.with_service_app(run, loops)


def run(app, loops: int) -> None:
    from sqlalchemy import func, select, text

    from app.audit.models import AuditEvent
    from app.core.models import User
    from app.engine.models import ProcessInstance
    from app.engine.serialization import dump_workflow
    from app.engine.services import load_workflow_of
    from app.extensions import db
    from app.tasks import services as ts
    from app.tasks.models import HumanTask
    from app.tasks.schemas import InstanceSchema

    with app.app_context():
        applicant = User.by_username("applicant")
        mgr = User.by_username("mgr_east")
        licence = c.add_attachment("applicant")
        db.session.commit()
        data = c.application(licence, level="B")
        instance = ts.start_instance("dealer_admission", applicant, data)
        db.session.commit()
        iid = instance.id
        # plain identities so expired ORM objects never reload behind our back
        applicant_id, mgr_id = applicant.id, mgr.id

        def state_bytes() -> int:
            return db.session.execute(text(
                "SELECT length(CAST(state AS BLOB)) FROM process_instance WHERE id = :i"),
                {"i": iid}).scalar()

        def find(user, scope, bpmn_id):
            for t in ts.inbox(user, scope):
                if t.instance_id == iid and t.bpmn_id == bpmn_id:
                    return t
            raise RuntimeError(f"no open {bpmn_id} in {user.username}'s {scope} inbox")

        total, t_return, t_resubmit, sizes = [], [], [], [state_bytes()]
        extras = {}
        checkpoints = set(_checkpoints(loops))
        t_all = time.perf_counter()
        for i in range(1, loops + 1):
            mgr_u = db.session.get(User, mgr_id)
            app_u = db.session.get(User, applicant_id)
            t0 = time.perf_counter()
            task = find(mgr_u, "group", "manager_review")
            ts.complete_task(task, mgr_u, {"decision": "return", "comment": f"请补充资料 #{i}"})
            db.session.commit()
            t1 = time.perf_counter()
            redo = find(app_u, "mine", "submit_application")
            ts.complete_task(redo, app_u, data)
            db.session.commit()
            t2 = time.perf_counter()
            total.append(c.ms(t2 - t0))
            t_return.append(c.ms(t1 - t0))
            t_resubmit.append(c.ms(t2 - t1))
            sizes.append(state_bytes())
            if i in checkpoints:
                extras[i] = _side_costs(db, iid, ProcessInstance, HumanTask, AuditEvent,
                                        load_workflow_of, dump_workflow, ts, InstanceSchema,
                                        func, select)
        elapsed = time.perf_counter() - t_all
        final = db.session.get(ProcessInstance, iid)
        status = (final.status, final.lock_version)
        db.session.remove()
        db.engine.dispose()

    print(f"[loop] {loops:,} round trips in {elapsed:.1f} s; instance {iid} still "
          f"{status[0]}, lock_version {status[1]}")
    rows = []
    for k in sorted(checkpoints):
        x = extras[k]
        rows.append([f"round {k}", _window(total, k), _window(t_return, k),
                     _window(t_resubmit, k), sizes[k], x["tasks"], x["audit"], x["tree"],
                     x["load_ms"], x["dump_ms"], x["api_ms"]])
    c.print_table(["checkpoint", "round ms", "return ms", "resubmit ms", "state B", "task rows",
                   "audit rows", "spiff tasks", "load ms", "dump ms", "API body ms"], rows,
                  title=f"Round-trip time (median of rounds k±{WINDOW}) and stored state size")
    print("state B = bytes of process_instance.state after round k (before round 1: "
          f"{sizes[0]} B); load/dump = deserialize/serialize of that state (median of 3); "
          "API body = instance_for_api() + InstanceSchema dump, what POST /complete returns")
    first, last = _window(total, 1), _window(total, loops)
    ratio = last / first
    print(f"ratio round {loops} / round 1 = {ratio:.2f}× (target ≤ {RATIO_TARGET}×: "
          f"{'meets' if ratio <= RATIO_TARGET else 'misses'})")
    steady_first = c.median(total[:50])
    steady_last = c.median(total[-50:])
    print(f"first 50 rounds median {steady_first:.2f} ms, last 50 rounds median "
          f"{steady_last:.2f} ms (ratio {steady_last / steady_first:.2f}×); "
          f"p90 over all rounds {c.p90(total):.2f} ms")
    growth = sizes[loops] - sizes[1] if loops > 1 else 0
    print(f"state size round 1 → {loops}: {sizes[1]:,} → {sizes[loops]:,} B "
          f"({'flat' if abs(growth) <= 0.05 * sizes[1] else f'{growth:+,} B'}); "
          f"max {max(sizes):,} B")


def _side_costs(db, iid, ProcessInstance, HumanTask, AuditEvent, load_workflow_of,
                dump_workflow, ts, InstanceSchema, func, select) -> dict:
    """Row counts and the cost of loading/dumping the state and of the API response body."""
    inst = db.session.get(ProcessInstance, iid)
    load, dump, api = [], [], []
    for _ in range(3):  # median of three single shots
        t0 = time.perf_counter()
        wf = load_workflow_of(inst)
        t1 = time.perf_counter()
        dump_workflow(wf)
        t2 = time.perf_counter()
        InstanceSchema().dump(ts.instance_for_api(inst))
        t3 = time.perf_counter()
        load.append(c.ms(t1 - t0))
        dump.append(c.ms(t2 - t1))
        api.append(c.ms(t3 - t2))
    out = {"load_ms": c.median(load), "dump_ms": c.median(dump), "api_ms": c.median(api),
           "tree": len(wf.tasks),
           "tasks": db.session.scalar(select(func.count()).select_from(HumanTask)
                                      .where(HumanTask.instance_id == iid)),
           "audit": db.session.scalar(select(func.count()).select_from(AuditEvent))}
    db.session.rollback()
    return out


if __name__ == "__main__":
    main()
