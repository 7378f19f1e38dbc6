"""Results that finish together are applied in one transaction: one that cannot be applied
never takes the others down (the batch is then applied one by one), and the audit chain stays
whole."""

from sqlalchemy import func, select, text, update

from app.audit.models import AuditEvent
from app.audit.services import verify_chain
from app.core.models import User
from app.engine.models import ProcessInstance
from app.engine.services import deploy_files
from app.extensions import db
from app.jobs.models import Job
from app.jobs.services import CallOutcome, claim_batch, finish_batch
from app.tasks.services import start_instance
from tests.integration.service_models import one_service_task

MODEL = one_service_task("one_call", "platform.echo")


def _claimed(n: int) -> list[Job]:
    deploy_files({"one_call.bpmn": MODEL}, "test")
    admin = User.by_username("admin")
    for _ in range(n):
        start_instance("one_call", admin, None)
    db.session.commit()
    jobs = claim_batch("w1", n)
    assert len(jobs) == n
    for job in jobs:  # load each instance into the session, as applying a result does
        db.session.get(ProcessInstance, job.instance_id)
    db.session.commit()  # the copies stay cached (as in a worker); no transaction stays open
    return jobs


def _ok(n: int) -> CallOutcome:
    return CallOutcome("ok", {"erp_no": f"00000{n:05d}"})


def _statuses(jobs) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(db.session.get(Job, j.id).status, db.session.get(ProcessInstance, j.instance_id).status)
            for j in jobs]


def _completed_events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "job.completed"))


def test_a_batch_of_results_completes_every_instance_in_one_commit(app):
    jobs = _claimed(4)
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs)])
    assert _statuses(jobs) == [("done", "completed")] * 4
    assert _completed_events() == 4
    assert verify_chain()[1] is None


def test_an_instance_saved_meanwhile_is_applied_again_without_undoing_the_others(app):
    jobs = _claimed(3)
    stale = jobs[1]
    with db.engine.begin() as conn:  # someone else saves the second instance first
        conn.execute(text("UPDATE process_instance SET lock_version = lock_version + 1 "
                          "WHERE id = :id"), {"id": stale.instance_id})
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs)])
    assert _statuses(jobs) == [("done", "completed")] * 3
    results = [db.session.get(ProcessInstance, j.instance_id).state for j in jobs]
    assert all(f"00000{i:05d}" in state for i, state in enumerate(results))
    assert _completed_events() == 3  # one event each: the refused apply left none behind
    assert verify_chain()[1] is None


def test_a_lease_taken_over_by_another_worker_is_not_applied_and_the_rest_are(app):
    jobs = _claimed(3)
    with db.engine.begin() as conn:  # the first job's lease expired and worker w2 took it
        conn.execute(update(Job.__table__).where(Job.__table__.c.id == jobs[0].id)
                     .values(locked_by="w2"))
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs)])
    assert _statuses(jobs) == [("running", "running"), ("done", "completed"),
                               ("done", "completed")]
    assert db.session.get(Job, jobs[0].id).locked_by == "w2"  # still w2's to finish
    assert _completed_events() == 2
    assert verify_chain()[1] is None


def _notified(jobs) -> int:
    from app.notify.models import Notification

    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.instance_id.in_([j.instance_id for j in jobs])))


def test_a_batch_notifies_every_starter_and_a_later_batch_sees_the_starter_as_now(app):
    """The starter of a batch's instances is read once per transaction, never longer: once
    deactivated (committed), the next batch no longer notifies them."""
    jobs = _claimed(6)
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs[:3])])
    assert _notified(jobs[:3]) == 3
    db.session.execute(update(User).where(User.username == "admin").values(active=False))
    db.session.commit()
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs[3:])])
    assert _statuses(jobs) == [("done", "completed")] * 6
    assert _notified(jobs[3:]) == 0


PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="call_and_approve" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="admin" name="admin">
    <bpmn:flowNodeRef>approve</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:parallelGateway id="split"/>
  <bpmn:serviceTask id="call"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="platform.echo" resultVariable="result">
      <spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:userTask id="approve" name="Approve"/>
  <bpmn:parallelGateway id="join"/>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split"/>
  <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="call"/>
  <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="approve"/>
  <bpmn:sequenceFlow id="f4" sourceRef="call" targetRef="join"/>
  <bpmn:sequenceFlow id="f5" sourceRef="approve" targetRef="join"/>
  <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_a_result_applied_beside_a_waiting_human_task_keeps_that_task_open(app):
    from app.tasks.models import HumanTask

    deploy_files({"call_and_approve.bpmn": PARALLEL.encode()}, "test")
    admin = User.by_username("admin")
    starts = [start_instance("call_and_approve", admin, None) for _ in range(2)]
    db.session.commit()
    jobs = claim_batch("w1", 2)
    assert len(jobs) == 2
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs)])
    assert _statuses(jobs) == [("done", "running")] * 2
    open_tasks = db.session.scalars(select(HumanTask.bpmn_id).where(
        HumanTask.instance_id.in_([j.instance_id for j in jobs]), HumanTask.status == "open"))
    assert sorted(open_tasks) == ["approve", "approve"], starts


def test_the_claim_and_the_next_due_time_read_the_open_jobs_index(app):
    """Only jobs still to run are indexed (done ones drop out): the claim reads that index in
    its order (no sort) and stops, whatever the history of done jobs."""
    from app.core.models import utcnow
    from app.jobs import services

    now = utcnow()
    due = (select(Job.id).where(services._due_clause(now))
           .order_by(Job.due_at, Job.id).limit(8))
    sqlite = db.engine.dialect.name == "sqlite"
    if not sqlite:  # an empty test table: make the planner show whether the index can serve
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            db.session.execute(text(f"SET LOCAL {setting} = off"))
    for stmt in (due, services._NEXT_DUE):
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        if sqlite:
            plan = [r[3] for r in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
            job_steps = [step for step in plan if " job " in f"{step} "]
            assert job_steps and all("ix_job_open_due" in step for step in job_steps), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
        else:
            plan = [r[0] for r in db.session.execute(text(f"EXPLAIN {compiled}"))]
            job_steps = [step for step in plan if " on job" in step]
            assert job_steps and all("ix_job_open_due" in step for step in job_steps), plan
            assert not any("Sort" in step for step in plan), plan
    db.session.rollback()


TWO_CALLS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="two_calls" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:parallelGateway id="split"/>
  <bpmn:serviceTask id="call_a"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="platform.echo" resultVariable="a">
      <spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:serviceTask id="call_b"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="platform.echo" resultVariable="b">
      <spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:parallelGateway id="join"/>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split"/>
  <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="call_a"/>
  <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="call_b"/>
  <bpmn:sequenceFlow id="f4" sourceRef="call_a" targetRef="join"/>
  <bpmn:sequenceFlow id="f5" sourceRef="call_b" targetRef="join"/>
  <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_two_results_of_one_instance_in_a_batch_are_both_applied(app):
    """Both saves of the instance go out in order in the batch's one round trip."""
    deploy_files({"two_calls.bpmn": TWO_CALLS.encode()}, "test")
    start_instance("two_calls", User.by_username("admin"), None)
    db.session.commit()
    jobs = claim_batch("w1", 2)
    assert len(jobs) == 2 and jobs[0].instance_id == jobs[1].instance_id
    version = db.session.get(ProcessInstance, jobs[0].instance_id).lock_version
    finish_batch([(job, _ok(i)) for i, job in enumerate(jobs)])
    assert _statuses(jobs) == [("done", "completed")] * 2
    instance = db.session.get(ProcessInstance, jobs[0].instance_id)
    assert instance.lock_version == version + 2
    assert '"a":{"erp_no":"0000000000"}' in instance.state
    assert '"b":{"erp_no":"0000000001"}' in instance.state
    assert _completed_events() == 2
    assert verify_chain()[1] is None


def test_the_next_claim_is_committed_with_the_batch_and_not_without_it(app):
    from app.jobs.services import _claim

    jobs = _claimed(5)
    more = finish_batch([(job, _ok(i)) for i, job in enumerate(jobs[:2])],
                        lambda: _claim("w1", 8))
    assert more == []  # the three others are still leased by w1 (not due again)
    start_instance("one_call", User.by_username("admin"), None)
    start_instance("one_call", User.by_username("admin"), None)
    db.session.commit()
    more = finish_batch([(job, _ok(i)) for i, job in enumerate(jobs[2:4])],
                        lambda: _claim("w2", 8))
    assert len(more) == 2
    db.session.expire_all()
    assert [db.session.get(Job, j.id).locked_by for j in more] == ["w2", "w2"]
    assert _statuses(jobs[:4]) == [("done", "completed")] * 4
    # A batch that cannot be applied at once claims nothing: the new job stays due.
    start_instance("one_call", User.by_username("admin"), None)
    # The last job's lease went to another worker (this session's copy still says w1).
    db.session.execute(update(Job.__table__).where(Job.__table__.c.id == jobs[4].id)
                       .values(locked_by="w3"))
    db.session.commit()
    taken = [db.session.get(Job, j.id) for j in more]
    assert finish_batch([(jobs[4], _ok(4)), (taken[0], _ok(5))],
                        lambda: _claim("w2", 8)) == []
    assert len(claim_batch("w4", 8)) == 1
    assert _completed_events() == 5
    assert verify_chain()[1] is None
