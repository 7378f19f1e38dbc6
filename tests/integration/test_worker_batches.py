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
