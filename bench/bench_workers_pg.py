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
import threading
import time
from datetime import UTC, timedelta
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


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants (the simulator's gunicorn arbiter and its worker)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


class _CpuSampler(threading.Thread):
    """Samples, every ``interval`` seconds, the CPU used by the PostgreSQL backends connected to
    the bench database (all but the sampler's own) and by the simulator's processes, so the CPU
    spent between two instants (the jobs' due time and the last job done) can be read back."""

    def __init__(self, url: str, simulator_pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.url, self.simulator_pid, self.interval = url, simulator_pid, interval
        self.samples: list[tuple[float, dict[int, float], float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            sim = _process_tree(self.simulator_pid)
            while not self.stop.is_set():
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")]
                pg = {pid: cpu for pid in pids if (cpu := _proc_cpu(pid)) is not None}
                sim_cpu = sum(cpu for pid in sim if (cpu := _proc_cpu(pid)) is not None)
                self.samples.append((time.time(), pg, sim_cpu))
                self.stop.wait(self.interval)

    def between(self, start: float, end: float) -> tuple[float, float]:
        """(PostgreSQL backends' CPU seconds, simulator CPU seconds) from ``start`` to ``end``."""
        def at(t: float):
            return min(self.samples, key=lambda s: abs(s[0] - t))
        (_, pg0, sim0), (_, pg1, sim1) = at(start), at(end)
        # A backend that connected after ``start`` counts from zero.
        pg = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
        return pg, sim1 - sim0


def _round(app, url: str, erp_url: str, tmp: Path, n: int, workers: int,
           sampler: "_CpuSampler | None" = None) -> tuple[float, float, float, float]:
    """(seconds from due time to the last job done, CPU seconds the worker processes used,
    CPU seconds of the PostgreSQL backends serving them and of the simulator meanwhile)."""
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
    pg_cpu = sim_cpu = 0.0
    if sampler is not None:
        epoch = due.replace(tzinfo=UTC).timestamp()  # timestamps in the database are naive UTC
        pg_cpu, sim_cpu = sampler.between(epoch, epoch + (last - due).total_seconds())
    return (last - due).total_seconds(), cpu, pg_cpu, sim_cpu


def run(url: str, n: int, repeat: int) -> None:
    tmp = c.temp_dir()
    try:
        c.quiet_logging()
        app = _make_app(url, tmp)
        c.quiet_logging()
        erp_url, simulator = bw._start_simulator(tmp, "gunicorn")
        sampler = _CpuSampler(url, simulator.pid)
        sampler.start()
        try:
            _round(app, url, erp_url, tmp, 40, 1)  # warm the simulator and the caches
            # Rounds alternate (1, 2, 1, 2 …) so a change in the machine's load hits both.
            results = {1: [], 2: []}
            for _ in range(repeat):
                for workers in (1, 2):
                    results[workers].append(_round(app, url, erp_url, tmp, n, workers, sampler))
        finally:
            sampler.stop.set()
            sampler.join(timeout=5)
            os.killpg(simulator.pid, 15)
            simulator.wait(timeout=10)
        seconds = {w: statistics.median(r[0] for r in rs) for w, rs in results.items()}

        def per_task(w: int, i: int) -> float:
            return statistics.median(r[i] for r in results[w]) * 1000 / n

        cpu_ms = {w: per_task(w, 1) for w in results}
        rows = [[f"{w} worker{'s' if w > 1 else ''}", c.fmt(n / seconds[w], 0),
                 c.fmt(seconds[w], 2), c.fmt(cpu_ms[w], 2), c.fmt(per_task(w, 2), 2),
                 c.fmt(per_task(w, 3), 2),
                 " ".join(f"{n / r[0]:.0f}" for r in results[w])] for w in (1, 2)]
        c.print_table(["PostgreSQL, erp.get_credit_status", "tasks/s", "seconds",
                       "worker CPU ms/task", "PostgreSQL CPU ms/task", "simulator CPU ms/task",
                       "tasks/s of each round"], rows,
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
