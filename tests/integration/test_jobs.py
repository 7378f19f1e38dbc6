"""Service tasks as jobs: worker runs, retries with backoff, incidents, lease takeover."""

from datetime import timedelta

from app.core.models import User, utcnow
from app.engine.services import deploy_files
from app.extensions import db
from app.jobs.models import Incident, Job
from app.jobs.services import claim_next, run_due_jobs, run_job
from app.tasks.services import start_instance
from connectors.registry import BusinessError, ConnectorError, registry

CALLS: list[str] = []
FAIL = {"times": 0}


@registry.register("test.flaky")
def _flaky(params, ctx):
    CALLS.append(ctx.idempotency_key)
    if FAIL["times"] > 0:
        FAIL["times"] -= 1
        raise ConnectorError("ERP timed out after 10 s")
    return {"erp_no": "0000012345"}


@registry.register("test.blocked")
def _blocked(params, ctx):
    raise BusinessError("BLOCKED", "Customer is blocked for orders")


SERVICE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:error id="err_blocked" name="Blocked" errorCode="BLOCKED"/>
<bpmn:process id="svc" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:serviceTask id="call"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="OP" resultVariable="erp"><spiffworkflow:parameters/>
    </spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:boundaryEvent id="on_blocked" attachedToRef="call">
    <bpmn:errorEventDefinition errorRef="err_blocked"/></bpmn:boundaryEvent>
  <bpmn:scriptTask id="mark"><bpmn:script>outcome = 'blocked'</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
  <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
  <bpmn:sequenceFlow id="f3" sourceRef="on_blocked" targetRef="mark"/>
  <bpmn:sequenceFlow id="f4" sourceRef="mark" targetRef="e2"/>
</bpmn:process></bpmn:definitions>"""


def _start(op: str):
    deploy_files({"svc.bpmn": SERVICE.replace("OP", op).encode()}, "test")
    instance = start_instance("svc", User.by_username("admin"), None)
    db.session.commit()
    return instance


def test_job_is_created_not_run_in_request_and_worker_completes(app):
    FAIL["times"], CALLS[:] = 0, []
    instance = _start("test.flaky")
    assert instance.status == "running" and CALLS == []
    assert run_due_jobs("w1") == 1
    db.session.expire_all()
    assert instance.status == "completed"
    assert CALLS == [f"{instance.id}:{db.session.query(Job).one().engine_task_id}"]


def test_retries_with_backoff_then_incident_then_retry(app):
    app.config["JOB_BACKOFF_SECONDS"] = 30
    FAIL["times"], CALLS[:] = 10, []
    try:
        instance = _start("test.flaky")
        job = db.session.query(Job).one()
        job.max_attempts = 3
        db.session.commit()
        assert run_due_jobs("w1") == 1  # first attempt fails, next one is 30 s away
        job = db.session.get(Job, job.id)
        assert job.status == "pending" and "timed out" in job.last_error
        assert job.due_at > utcnow() + timedelta(seconds=20)
        for expected_delay in (60, None):
            job.due_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
            run_due_jobs("w1")
            job = db.session.get(Job, job.id)
            if expected_delay:
                assert job.due_at > utcnow() + timedelta(seconds=expected_delay - 10)
        assert job.status == "incident"
        [incident] = db.session.query(Incident).all()
        assert "timed out" in incident.error and incident.attempts == 3
    finally:
        app.config["JOB_BACKOFF_SECONDS"] = 0
    FAIL["times"] = 0
    from tests.conftest import Api

    admin = Api(app.test_client(), "admin")
    listed = admin.get("/api/v1/incidents").json
    assert [i["id"] for i in listed] == [incident.id]
    assert admin.post(f"/api/v1/incidents/{incident.id}/retry").status_code == 200
    assert admin.post(f"/api/v1/incidents/{incident.id}/retry").status_code == 409
    assert run_due_jobs("w1") == 1
    db.session.expire_all()
    assert db.session.get(type(instance), instance.id).status == "completed"


def test_business_error_is_caught_by_boundary_event(app):
    instance = _start("test.blocked")
    run_due_jobs("w1")
    db.session.expire_all()
    instance = db.session.get(type(instance), instance.id)
    assert instance.status == "completed" and instance.outcome == "blocked"
    assert db.session.query(Incident).count() == 0


def test_killed_workers_expired_lease_is_taken_over(app):
    FAIL["times"] = 0
    _start("test.flaky")
    job = claim_next("dead-worker")
    assert job.locked_by == "dead-worker"
    assert claim_next("w2") is None  # lease still valid
    job.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    taken = claim_next("w2")
    assert taken is not None and taken.id == job.id and taken.locked_by == "w2"
    assert run_job(taken) == "done"
