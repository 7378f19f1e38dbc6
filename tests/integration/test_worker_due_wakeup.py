"""The worker polls again when the next job or timer falls due, not only at its poll interval."""

import time
from datetime import UTC, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from app.core.models import User
from app.engine.models import ProcessInstance
from app.engine.services import deploy_files
from app.extensions import db
from app.jobs.models import Job
from app.jobs.services import next_due_at
from app.jobs.worker import configure
from app.tasks.services import start_instance
from connectors.registry import ConnectorError, registry
from tests.integration.service_models import one_service_task

CALLS: list[float] = []


@registry.register("test.fails_once")
def _fails_once(params, ctx):
    CALLS.append(time.monotonic())
    if len(CALLS) == 1:
        raise ConnectorError("ERP timed out")
    return {"ok": True}


SERVICE = one_service_task("fails_once", "test.fails_once", "r")

TIMER = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
  targetNamespace="t">
<bpmn:process id="short_wait" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:intermediateCatchEvent id="wait">
    <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1.5S"</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


@pytest.fixture
def worker(app):
    """Start a worker's scheduler whose regular poll is a minute away; yields its waker."""
    saved = {k: app.config[k] for k in ("WORKER_POLL_SECONDS", "JOB_BACKOFF_SECONDS")}
    app.config.update(WORKER_POLL_SECONDS=60, JOB_BACKOFF_SECONDS=1.5)
    scheduler = BackgroundScheduler(timezone=UTC)
    waker = configure(scheduler, app, "due-waker")
    scheduler.start()
    try:
        yield waker
    finally:
        scheduler.shutdown(wait=True)
        app.config.update(saved)


def _wait_for(check, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        db.session.rollback()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("not done in time")


def test_next_due_at_is_the_earliest_pending_job_lease_end_or_timer(app):
    deploy_files({"fails_once.bpmn": SERVICE, "short_wait.bpmn": TIMER}, "test")
    admin = User.by_username("admin")
    assert next_due_at() is None
    waiting = start_instance("short_wait", admin, None)
    db.session.commit()
    assert next_due_at() == waiting.next_timer_at
    start_instance("fails_once", admin, None)
    db.session.commit()
    job = db.session.scalars(select(Job)).one()
    assert next_due_at() == job.due_at  # queued now: before the timer
    job.status, job.locked_until = "running", waiting.next_timer_at.replace(year=2000)
    db.session.commit()
    assert next_due_at() == job.locked_until  # a lease that ran out: due for takeover
    job.status = "done"
    db.session.commit()
    assert next_due_at() == waiting.next_timer_at


def test_a_job_retried_after_its_backoff_runs_at_its_due_time_not_at_the_next_poll(app, worker):
    deploy_files({"fails_once.bpmn": SERVICE}, "test")
    CALLS.clear()
    instance = start_instance("fails_once", User.by_username("admin"), None)
    db.session.commit()
    worker.wake()  # the first poll (a PostgreSQL worker's listener does this on connecting)
    _wait_for(lambda: CALLS, 10)
    retry = _wait_for(lambda: db.session.scalar(select(Job.due_at).where(
        Job.status == "pending", Job.attempts == 1)), 5)
    done = _wait_for(lambda: db.session.scalar(select(Job.updated_at).where(
        Job.status == "done")), 10)
    assert len(CALLS) == 2
    assert 1.4 <= CALLS[1] - CALLS[0] < 3.5  # the 1.5 s backoff, with a 60 s poll interval
    assert retry <= done < retry + timedelta(seconds=2)
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"


def test_a_timer_fires_at_its_time_not_at_the_next_poll(app, worker):
    deploy_files({"short_wait.bpmn": TIMER}, "test")
    instance = start_instance("short_wait", User.by_username("admin"), None)
    db.session.commit()
    due = instance.next_timer_at
    assert due is not None
    worker.wake()  # nothing due yet: the poll sleeps until the timer, not for a minute
    completed = _wait_for(lambda: db.session.scalar(select(ProcessInstance.completed_at).where(
        ProcessInstance.id == instance.id, ProcessInstance.status == "completed")), 10)
    assert due <= completed < due + timedelta(seconds=2)
