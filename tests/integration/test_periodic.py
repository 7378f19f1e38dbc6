"""Periodic jobs: once per slot whatever the number of workers, failures visible to admins."""

import threading
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.models import Region
from app.extensions import db
from app.jobs import periodic
from app.jobs.models import PeriodicRun
from app.jobs.worker import configure, run_slot

RUNS: list[str] = []
LOCK = threading.Lock()


def _count():
    with LOCK:
        RUNS.append(threading.current_thread().name)
    return {"rows": 3}


def _register(name="test.sync", every=timedelta(hours=1), func=_count):
    RUNS.clear()
    return periodic.register_periodic(name, every=every, func=func, description="test job")


def _race(app, name, workers, now=None):
    """``workers`` threads, each its own app context and connection, fire the same slot."""
    barrier = threading.Barrier(workers)
    outcomes = []

    def worker(i):
        with app.app_context():
            barrier.wait()
            run = periodic.run_periodic(name, f"worker-{i}", now=now)
            outcomes.append(None if run is None else run.status)
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,), name=f"w{i}") for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_workers_racing_the_same_slot_run_it_exactly_once(app):
    _register()
    try:
        t0 = datetime(2026, 3, 2, 10, 0, 0)
        outcomes = _race(app, "test.sync", 4, now=t0 + timedelta(minutes=1))
        assert outcomes.count("done") == 1 and outcomes.count(None) == 3
        outcomes = _race(app, "test.sync", 4, now=t0 + timedelta(minutes=59))
        assert outcomes == [None] * 4  # later in the same 10:00 slot: already run
        outcomes = _race(app, "test.sync", 4, now=t0 + timedelta(hours=1, seconds=1))
        assert outcomes.count("done") == 1  # the 11:00 slot is a new one
        assert len(RUNS) == 2
        runs = db.session.scalars(select(PeriodicRun).order_by(PeriodicRun.id)).all()
        assert [r.slot_start for r in runs] == [t0, t0 + timedelta(hours=1)]
        assert all(r.status == "done" and r.result == '{"rows":3}' for r in runs)
    finally:
        periodic.unregister_periodic("test.sync")


def test_worker_slots_race_through_the_scheduler_entry_point(app):
    _register(every=timedelta(days=1))
    try:
        threads = [threading.Thread(target=run_slot, args=(app, "test.sync", f"w{i}"))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(RUNS) == 1
        [run] = db.session.scalars(select(PeriodicRun)).all()
        assert run.slot_start.hour == 0 and run.slot_start.minute == 0 and run.trigger == "schedule"
    finally:
        periodic.unregister_periodic("test.sync")


def test_failure_is_recorded_rolled_back_and_shown_to_admins(app, api):
    def failing():
        db.session.add(Region(code="zz", name_zh="测试", name_en="Test"))
        db.session.flush()
        raise RuntimeError("ERP master data unreachable")

    periodic.register_periodic("test.failing", every=timedelta(minutes=5), func=failing)
    try:
        run = periodic.run_periodic("test.failing", "w1", now=datetime(2026, 3, 2, 10, 7))
        assert run.status == "failed" and "ERP master data unreachable" in run.last_error
        assert run.slot_start == datetime(2026, 3, 2, 10, 5)
        assert db.session.get(Region, "zz") is None  # the job's own writes were rolled back

        admin = api("admin")
        r = admin.get("/api/v1/jobs/periodic")
        assert r.status_code == 200
        [row] = [j for j in r.json if j["name"] == "test.failing"]
        assert row["every_seconds"] == 300 and row["last_run"]["status"] == "failed"
        assert "RuntimeError: ERP master data unreachable" in row["last_failure"]["last_error"]
        assert api("finance").get("/api/v1/jobs/periodic").status_code == 403

        # The next slot runs again; the failure stays visible as the last failure.
        periodic.register_periodic("test.failing", every=timedelta(minutes=5), func=lambda: None)
        run = periodic.run_periodic("test.failing", "w1", now=datetime(2026, 3, 2, 10, 11))
        assert run.status == "done"
        [row] = [j for j in admin.get("/api/v1/jobs/periodic").json if j["name"] == "test.failing"]
        assert row["last_run"]["status"] == "done"
        assert "unreachable" in row["last_failure"]["last_error"]
        runs = admin.get("/api/v1/jobs/periodic/test.failing/runs").json
        assert [x["status"] for x in runs] == ["done", "failed"]
    finally:
        periodic.unregister_periodic("test.failing")


def test_run_now_from_api_and_cli_is_audited(app, api):
    _register()
    try:
        admin = api("admin")
        r = admin.post("/api/v1/jobs/periodic/test.sync/run")
        assert r.status_code == 200 and r.json["trigger"] == "manual" and r.json["status"] == "done"
        assert admin.post("/api/v1/jobs/periodic/nope/run").status_code == 404
        assert api("mgr_east").post("/api/v1/jobs/periodic/test.sync/run").status_code == 403

        runner = app.test_cli_runner()
        out = runner.invoke(args=["jobs", "run-periodic", "test.sync"])
        assert out.exit_code == 0 and "test.sync done" in out.output
        assert runner.invoke(args=["jobs", "run-periodic", "nope"]).exit_code == 2
        assert len(RUNS) == 2  # two manual runs: they never collide with a slot or each other
        listing = runner.invoke(args=["jobs", "periodic"]).output
        [line] = [ln for ln in listing.splitlines() if ln.startswith("test.sync")]
        assert "3600s" in line and "done" in line
        audited = db.session.scalars(select(AuditEvent.actor)
                                     .where(AuditEvent.action == "periodic.run")).all()
        assert sorted(audited) == ["admin", "cli"]
    finally:
        periodic.unregister_periodic("test.sync")


def test_worker_schedules_each_periodic_job_at_its_slot_starts(app):
    _register("test.quarter", every=timedelta(minutes=15))
    try:
        scheduler = BackgroundScheduler()
        configure(scheduler, app, "w1")
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert "poll" in jobs and "periodic:test.quarter" in jobs
        from datetime import UTC

        now = datetime(2026, 3, 2, 10, 7, 30, tzinfo=UTC)
        fire = jobs["periodic:test.quarter"].trigger.get_next_fire_time(None, now)
        assert fire == datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
    finally:
        periodic.unregister_periodic("test.quarter")


def test_a_period_under_one_second_is_refused():
    import pytest

    with pytest.raises(ValueError, match="at least one second"):
        periodic.register_periodic("test.fast", every=timedelta(milliseconds=10), func=_count)
