"""Scale-out: one vs two worker processes on one PostgreSQL, each task a real zeep call.

N instances of a one-service-task process (``erp.get_credit_status``) are queued with their jobs
due a few seconds ahead; worker processes (`flask jobs drain`, the worker's loop) are started
meanwhile, so their start-up is not measured. Throughput = N / (last job finished − due time),
both read from the database. The ERP simulator runs under gunicorn (threaded, keep-alive) in
its own process. Rounds alternate between 1 and 2 workers (BENCH_WORKERS_REPEAT times each).
Prints median tasks/s for 1 and 2 workers, the ratio (target ≥ 1.5×) and the CPU time the
worker processes used per task: equal CPU per task with two workers means no contention cost,
and the ratio is then bounded by the CPU the machine has free (2 cores, shared with the
database, the simulator and anything else running).

    BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/dealerflow_bench \\
        .venv/bin/python bench/bench_workers_pg.py        (BENCH_WORKERS_N, default 600)

The database named in BENCH_PG_URL is emptied and recreated (it must exist).
"""

import os
import statistics
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_worker as bw
import common as c

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/dealerflow_bench"
# Jobs fall due this long after queueing; workers start meanwhile. A loaded 2-core machine needs
# several seconds to start two worker processes at once: start-up must not be measured.
LEAD_SECONDS = float(os.environ.get("BENCH_LEAD_SECONDS", 15))


def _make_app(url: str, tmp: Path):
    os.environ["DEALERFLOW_INSTANCE_PATH"] = str(tmp)
    from app import create_app
    from app.admin.demo import seed_demo
    from app.engine.services import clear_caches, deploy_directory, deploy_files
    from app.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEPLOY_ON_STARTUP": False,
                      "UPLOAD_DIR": str(tmp / "uploads")})
    with app.app_context():
        db.drop_all()
        db.create_all()
        clear_caches()
        seed_demo()
        deploy_directory(actor="bench")
        deploy_files({"erp.bpmn": bw._model("erp_bench", "erp.get_credit_status",
                                            bw.ERP_PARAM)}, "bench")
        db.session.commit()
        db.session.remove()
    return app


def _round(app, url: str, erp_url: str, tmp: Path, n: int, workers: int) -> tuple[float, float]:
    """(seconds from due time to the last job done, CPU seconds the worker processes used)."""
    from sqlalchemy import func, select, update

    from app.core.models import User, utcnow
    from app.extensions import db
    from app.jobs.models import Job
    from app.tasks.services import start_instance

    with app.app_context():
        admin = User.by_username("admin")
        for _ in range(n):
            start_instance("erp_bench", admin, None)
        due = utcnow() + timedelta(seconds=LEAD_SECONDS)
        db.session.execute(update(Job).where(Job.status == "pending").values(due_at=due))
        db.session.commit()
    env = dict(os.environ, FLASK_APP="wsgi", DEALERFLOW_DATABASE_URL=url,
               DEALERFLOW_ERP_URL=erp_url, DEALERFLOW_SECRET_KEY="bench",
               DEALERFLOW_DEPLOY_ON_STARTUP="false", DEALERFLOW_INSTANCE_PATH=str(tmp))
    procs = [subprocess.Popen([c.FLASK, "jobs", "drain", "--idle", str(LEAD_SECONDS + 2),
                               "--id", f"bench-{workers}-{i}"], cwd=c.ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for i in range(workers)]
    outs = [p.communicate(timeout=600)[0].strip() for p in procs]
    # CPU of the worker processes while they ran jobs (their start-up and idle polls excluded),
    # as `flask jobs drain` reports it: "<id>: <n> jobs run (<s> s CPU)".
    cpu = sum(float(out.rsplit("(", 1)[1].split()[0]) for out in outs)
    with app.app_context():
        done, last = db.session.execute(select(func.count(), func.max(Job.updated_at))
                                        .where(Job.status == "done", Job.due_at == due)).one()
        db.session.rollback()
        db.session.remove()
    if done != n:
        print(f"  warning: {done} of {n} jobs done ({'; '.join(outs)})")
    return (last - due).total_seconds(), cpu


def run(url: str, n: int, repeat: int) -> None:
    tmp = c.temp_dir()
    try:
        c.quiet_logging()
        app = _make_app(url, tmp)
        c.quiet_logging()
        erp_url, simulator = bw._start_simulator(tmp, "gunicorn")
        try:
            _round(app, url, erp_url, tmp, 40, 1)  # warm the simulator and the caches
            # Rounds alternate (1, 2, 1, 2 …) so a change in the machine's load hits both.
            results = {1: [], 2: []}
            for _ in range(repeat):
                for workers in (1, 2):
                    results[workers].append(_round(app, url, erp_url, tmp, n, workers))
        finally:
            os.killpg(simulator.pid, 15)
            simulator.wait(timeout=10)
        seconds = {w: statistics.median(s for s, _ in r) for w, r in results.items()}
        cpu_ms = {w: statistics.median(cpu for _, cpu in r) * 1000 / n for w, r in results.items()}
        rows = [[f"{w} worker{'s' if w > 1 else ''}", c.fmt(n / seconds[w], 0),
                 c.fmt(seconds[w], 2), c.fmt(cpu_ms[w], 2),
                 " ".join(f"{n / s:.0f}" for s, _ in results[w])] for w in (1, 2)]
        c.print_table(["PostgreSQL, erp.get_credit_status", "tasks/s", "seconds",
                       "worker CPU ms/task", "tasks/s of each round"], rows,
                      title=f"Worker scale-out ({n} tasks per round, median of {repeat} rounds)")
        ratio = seconds[1] / seconds[2]
        print(f"target 2 workers ≥ 1.5× one worker: {ratio:.2f}× "
              f"({'meets' if ratio >= 1.5 else 'misses'}); worker CPU per task "
              f"{cpu_ms[1]:.2f} ms with one, {cpu_ms[2]:.2f} ms with two (equal: no contention "
              "cost; then the ratio is what the machine's free CPU allows)")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"(load average at the end: {load})")
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    from sqlalchemy import create_engine

    n = c.env_int("BENCH_WORKERS_N", 600)
    url = os.environ.get("BENCH_PG_URL", DEFAULT_URL)
    try:
        with create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)).connect():
            pass
    except Exception as exc:  # noqa: BLE001 - no database, no figure
        print(f"PostgreSQL not reachable at {url} ({type(exc).__name__}); set BENCH_PG_URL")
        return
    c.header(f"Two workers on one PostgreSQL — {n} service tasks, real SOAP calls over loopback")
    run(url, n, c.env_int("BENCH_WORKERS_REPEAT", 2))


if __name__ == "__main__":
    main()
