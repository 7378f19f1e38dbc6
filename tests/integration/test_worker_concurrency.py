"""The worker's thread pool and several workers on one database: every job runs exactly once."""

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text, update

from app.core.models import User
from app.engine.models import ProcessInstance
from app.engine.services import deploy_files
from app.erp.models import ErpMessage
from app.extensions import db
from app.jobs.models import Incident, Job
from app.jobs.services import run_due_jobs
from app.tasks.services import start_instance
from connectors.registry import registry

ROOT = Path(__file__).resolve().parents[2]

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="PID" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:serviceTask id="call"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="OP" resultVariable="result"><spiffworkflow:parameters>
      PARAMS</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
  <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""
CREDIT = '<spiffworkflow:parameter id="customer_number" type="str" value="\'0000010001\'"/>'


def _deploy(pid: str, op: str, params: str = "") -> None:
    xml = MODEL.replace("PID", pid).replace("OP", op).replace("PARAMS", params)
    deploy_files({f"{pid}.bpmn": xml.encode()}, "test")
    db.session.commit()


def _start(pid: str, n: int) -> list[int]:
    admin = User.by_username("admin")
    ids = [start_instance(pid, admin, None).id for _ in range(n)]
    db.session.commit()
    return ids


def _worker_env(app, tmp_path) -> dict:
    env = dict(os.environ)
    env.update({"FLASK_APP": "wsgi", "DEALERFLOW_DATABASE_URL": app.config["DATABASE_URL"],
                "DEALERFLOW_ERP_URL": app.config["ERP_URL"], "DEALERFLOW_SECRET_KEY": "test",
                "DEALERFLOW_DEPLOY_ON_STARTUP": "false", "DEALERFLOW_JOB_BACKOFF_SECONDS": "0",
                "DEALERFLOW_INSTANCE_PATH": str(tmp_path / "worker-instance"),
                "PYTHONUNBUFFERED": "1"})
    return env


def test_two_worker_processes_run_500_erp_jobs_each_exactly_once(app, sim, tmp_path):
    n = 500
    _deploy("credit_check", "erp.get_credit_status", CREDIT)
    ids = _start("credit_check", n)
    env = _worker_env(app, tmp_path)
    workers = [subprocess.Popen([sys.executable, "-m", "flask", "jobs", "drain", "--idle", "1.5",
                                 "--id", f"worker-{i}"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in (1, 2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    ran = [int(out.split(": ")[1].split()[0]) for out, _ in outputs]
    assert sum(ran) == n, ran  # no job ran twice, none was left behind

    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Job)
                             .where(Job.status == "done")) == n
    statuses = db.session.execute(select(ProcessInstance.status, func.count())
                                  .where(ProcessInstance.id.in_(ids))
                                  .group_by(ProcessInstance.status)).all()
    assert statuses == [("completed", n)]
    # One SOAP call per job, as the ERP message log (written by the workers) shows.
    per_key = db.session.execute(select(ErpMessage.idempotency_key, func.count())
                                 .group_by(ErpMessage.idempotency_key)).all()
    assert len(per_key) == n and {count for _, count in per_key} == {1}
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_erp_slower_than_the_timeout_is_abandoned_retried_and_never_hangs_the_pool(app, sim):
    app.config.update(ERP_TIMEOUT_SECONDS=0.4, JOB_MAX_ATTEMPTS=2)
    _deploy("credit_check", "erp.get_credit_status", CREDIT)
    ids = _start("credit_check", 6)
    sim.faults(slow_ms=3000)
    try:
        started = time.perf_counter()
        assert run_due_jobs("w1", limit=100, concurrency=4) == 12  # 6 jobs × 2 attempts
        elapsed = time.perf_counter() - started
    finally:
        app.config.update(JOB_MAX_ATTEMPTS=5)
    # Every call was abandoned at 0.4 s: waiting for the slow answers (3 s each, four at a
    # time) would take at least 9 s.
    assert elapsed < 6, elapsed
    incidents = db.session.scalars(select(Incident)).all()
    assert len(incidents) == 6 and all("timed out after 0.4 s" in i.error for i in incidents)
    timeouts = db.session.scalar(select(func.count()).select_from(ErpMessage)
                                 .where(ErpMessage.outcome == "technical_error"))
    assert timeouts == 12

    sim.faults(slow_ms=0)
    for incident in incidents:
        db.session.execute(update(Job).where(Job.id == incident.job_id)
                           .values(status="pending", attempts=0))
    db.session.commit()
    assert run_due_jobs("w1", limit=100, concurrency=4) == 6  # the pool's threads are free
    db.session.expire_all()
    assert {db.session.get(ProcessInstance, i).status for i in ids} == {"completed"}


CALLS: list[str] = []


@registry.register("test.remote_while_user_saves")
def _remote_while_user_saves(params, ctx):
    """A remote call during which someone else saves the instance (its lock moves on)."""
    CALLS.append(ctx.idempotency_key)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE process_instance SET lock_version = lock_version + 1 "
                          "WHERE id = :id"), {"id": ctx.instance_id})
    return {"erp_no": "0000012345"}


def test_a_stale_instance_retries_the_apply_and_never_repeats_the_call(app):
    CALLS.clear()
    _deploy("stale_apply", "test.remote_while_user_saves")
    [iid] = _start("stale_apply", 1)
    instance = db.session.get(ProcessInstance, iid)  # cached with the lock version it had
    before = instance.lock_version
    assert run_due_jobs("w1", concurrency=4) == 1
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, iid)
    assert instance.status == "completed" and instance.lock_version == before + 2
    assert len(CALLS) == 1  # the 409 made the apply run again, not the call
    job = db.session.scalars(select(Job).where(Job.instance_id == iid)).one()
    assert job.status == "done" and job.attempts == 1
