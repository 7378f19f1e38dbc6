"""LISTEN/NOTIFY on PostgreSQL: a queued job wakes an idle worker at once, not at its next poll."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.core.models import User
from app.engine.services import deploy_files
from app.extensions import db
from app.jobs import wakeup
from app.jobs.models import Job
from app.tasks.services import start_instance
from tests.integration.service_models import one_service_task

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("DEALERFLOW_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY needs PostgreSQL")

MODEL = one_service_task("echo_once", "platform.echo")


def _deploy() -> None:
    deploy_files({"echo_once.bpmn": MODEL}, "test")
    db.session.commit()


def _listen():
    import psycopg

    conn = psycopg.connect(wakeup.listen_url(db.engine.url), autocommit=True)
    conn.execute(f"LISTEN {wakeup.CHANNEL}")
    return conn


def _notes(conn, timeout: float) -> list[str]:
    return [n.channel for n in conn.notifies(timeout=timeout)]


def test_a_queued_job_is_announced_at_commit_once_and_never_after_a_rollback(app):
    _deploy()
    admin = User.by_username("admin")
    conn = _listen()
    try:
        start_instance("echo_once", admin, None)
        start_instance("echo_once", admin, None)
        assert _notes(conn, 0.3) == []  # nothing before the commit
        db.session.commit()
        assert _notes(conn, 1.0) == [wakeup.CHANNEL]  # two jobs, one notification

        start_instance("echo_once", admin, None)
        db.session.rollback()
        assert _notes(conn, 0.5) == []  # the job was never queued: no wake-up
        start_instance("echo_once", admin, None)
        db.session.commit()
        assert _notes(conn, 1.0) == [wakeup.CHANNEL]  # the rollback did not mute the next one
    finally:
        conn.close()


def _listening_workers() -> int:
    return db.session.scalar(text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'dealerflow-worker-listen' AND query LIKE 'LISTEN%'"))


def test_an_idle_postgresql_worker_runs_a_new_job_long_before_its_next_poll(app, tmp_path):
    _deploy()
    env = dict(os.environ, FLASK_APP="wsgi", DEALERFLOW_DATABASE_URL=app.config["DATABASE_URL"],
               DEALERFLOW_SECRET_KEY="test", DEALERFLOW_DEPLOY_ON_STARTUP="false",
               DEALERFLOW_WORKER_POLL_SECONDS="60", PYTHONUNBUFFERED="1",
               DEALERFLOW_INSTANCE_PATH=str(tmp_path / "worker-instance"))
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--id", "listener"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _listening_workers() == 0:
            db.session.rollback()
            assert worker.poll() is None, worker.stdout.read()[-2000:]
            assert time.monotonic() < deadline, "the worker never started listening"
            time.sleep(0.1)
        db.session.rollback()
        time.sleep(0.5)  # past the catch-up round the worker runs once it listens

        for _ in range(3):  # each while the worker sleeps for up to a minute
            instance = start_instance("echo_once", User.by_username("admin"), None)
            db.session.commit()
            queued = time.monotonic()
            while True:
                status = db.session.scalar(select(Job.status)
                                           .where(Job.instance_id == instance.id))
                db.session.rollback()
                if status == "done":
                    break
                assert time.monotonic() - queued < 5, "job not run: the worker waited to poll"
                time.sleep(0.02)
            assert time.monotonic() - queued < 2  # a 60 s poll interval, yet done at once
            time.sleep(0.3)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)
