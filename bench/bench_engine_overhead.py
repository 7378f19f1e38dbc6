"""Platform complete_task vs raw SpiffWorkflow for the same step (no HTTP, SQLite).

Step: mgr_east approves manager_review of a freshly submitted admission.
- platform = services.get_task_for + services.complete_task + db.session.commit()
  (form validation, ORM loads, projection of human tasks, jobs, audit chain, flush, commit);
- raw      = load_workflow(state) + set_data + run + do_engine_steps + dump_workflow, with the
  same serializer (app.engine.serialization) and the cached compiled spec
  (app.engine.services.compiled_for), on the very state the platform then completes.
Raw runs twice: with the platform's sandboxed script engine and with Spiff's stock
PythonScriptEngine, so the sandbox's share is visible. Interleaved per instance.

    .venv/bin/python bench/bench_engine_overhead.py   # BENCH_ENGINE_N=300, warm-up 30
"""

import sys
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

STEP_DATA = {"decision": "approve", "comment": "ok"}


def main() -> None:
    n = c.env_int("BENCH_ENGINE_N", 300)
    warmup = c.env_int("BENCH_ENGINE_WARMUP", 30)
    c.header(f"Engine overhead — platform complete_task vs raw SpiffWorkflow "
             f"({warmup} warm-up + {n} measured)")
    c.with_service_app(run, n, warmup)


def raw_step(state: str, proc, engine_task_id: str, script_engine) -> tuple[float, float, float]:
    from app.engine.serialization import dump_workflow, load_workflow

    t0 = time.perf_counter()
    wf = load_workflow(state, proc.spec, proc.subprocess_specs)
    if script_engine is not None:
        wf.script_engine = script_engine
    t1 = time.perf_counter()
    task = wf.get_task_from_id(UUID(engine_task_id))
    task.set_data(**STEP_DATA)
    task.run()
    wf.do_engine_steps()
    t2 = time.perf_counter()
    dump_workflow(wf)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def run(app, n: int, warmup: int) -> None:
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
    from sqlalchemy import select

    from app.core.models import User
    from app.engine import runtime
    from app.engine.models import ProcessInstance
    from app.engine.services import compiled_for
    from app.extensions import db
    from app.tasks import services as ts
    from app.tasks.models import HumanTask

    total = warmup + n
    with app.app_context():
        applicant = User.by_username("applicant")
        mgr = User.by_username("mgr_east")
        licence = c.add_attachment("applicant")
        db.session.commit()
        t0 = time.perf_counter()
        ids = []
        for _ in range(total):
            inst = ts.start_instance("dealer_admission", applicant,
                                     c.application(licence, level="A"))
            db.session.commit()
            ids.append(inst.id)
        print(f"[setup] {total} instances waiting at manager_review in "
              f"{time.perf_counter() - t0:.1f} s")
        mgr_id = mgr.id
        # What each step needs: the stored state, the engine task id, the human task id.
        work = []
        for iid in ids:
            inst = db.session.get(ProcessInstance, iid)
            task = db.session.scalar(select(HumanTask).where(
                HumanTask.instance_id == iid, HumanTask.bpmn_id == "manager_review",
                HumanTask.status == "open"))
            work.append((inst.state, inst.process_version_id, task.engine_task_id, task.id))
        db.session.rollback()
        proc = compiled_for(work[0][1])
        sandbox = runtime.script_engine()
        stock = PythonScriptEngine()

        plat, plat_call, plat_commit = [], [], []
        raw_sb, raw_stock, parts = [], [], []
        for k, (state, _vid, engine_task_id, task_id) in enumerate(work):
            d, r, s = raw_step(state, proc, engine_task_id, sandbox)
            d2, r2, s2 = raw_step(state, proc, engine_task_id, stock)
            user = db.session.get(User, mgr_id)
            t0 = time.perf_counter()
            ts.complete_task(ts.get_task_for(task_id, user), user, dict(STEP_DATA))
            t1 = time.perf_counter()
            db.session.commit()
            t2 = time.perf_counter()
            if k < warmup:
                continue
            plat.append(c.ms(t2 - t0))
            plat_call.append(c.ms(t1 - t0))
            plat_commit.append(c.ms(t2 - t1))
            raw_sb.append(c.ms(d + r + s))
            raw_stock.append(c.ms(d2 + r2 + s2))
            parts.append((c.ms(d), c.ms(r), c.ms(s), c.ms(r2)))
        done = db.session.scalar(select(HumanTask.status).where(HumanTask.id == work[-1][3]))
        state_size = len(work[-1][0].encode())
        db.session.remove()
        db.engine.dispose()

    rows = [
        ["platform: get_task_for + complete_task + commit", c.median(plat), c.p90(plat)],
        ["  complete_task (incl. get_task_for), no commit", c.median(plat_call), c.p90(plat_call)],
        ["  db.session.commit()", c.median(plat_commit), c.p90(plat_commit)],
        ["raw Spiff, sandboxed script engine", c.median(raw_sb), c.p90(raw_sb)],
        ["  deserialize (load_workflow)", c.median([p[0] for p in parts]),
         c.p90([p[0] for p in parts])],
        ["  set_data + run + do_engine_steps", c.median([p[1] for p in parts]),
         c.p90([p[1] for p in parts])],
        ["  serialize (dump_workflow)", c.median([p[2] for p in parts]),
         c.p90([p[2] for p in parts])],
        ["raw Spiff, stock PythonScriptEngine", c.median(raw_stock), c.p90(raw_stock)],
        ["  run + do_engine_steps (stock engine)", c.median([p[3] for p in parts]),
         c.p90([p[3] for p in parts])],
    ]
    c.print_table(["ms per manager_review approval", "median", "p90"], rows,
                  title=f"Platform vs raw SpiffWorkflow (n={len(plat)}, state {state_size:,} B, "
                        f"last task now '{done}')")
    pm, rm, rs = c.median(plat), c.median(raw_sb), c.median(raw_stock)
    print(f"ratio platform / raw (sandboxed engine) = {pm / rm:.1f}×; platform / raw (stock "
          f"engine) = {pm / rs:.1f}×; platform overhead outside the engine ≈ {pm - rm:.2f} ms "
          f"per step ({100 * (pm - rm) / pm:.0f}% of the step)")
    print(f"sandbox cost in the engine step: {c.median([p[1] for p in parts]):.3f} ms vs stock "
          f"{c.median([p[3] for p in parts]):.3f} ms")


if __name__ == "__main__":
    main()
