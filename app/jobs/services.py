"""Service-task jobs: created with the instance's state, claimed and run by the worker."""

import logging
import traceback
from datetime import timedelta

import orjson
from flask import current_app
from sqlalchemy import or_, select, update

from app.audit.services import record
from app.core.errors import Conflict, NotFound
from app.core.models import utcnow
from app.engine import runtime
from app.engine.models import ProcessInstance
from app.engine.services import load_workflow_of, run_engine, save
from app.extensions import db
from app.jobs.models import Incident, Job
from connectors.registry import BusinessError, CallContext, registry

log = logging.getLogger(__name__)


def _json(value) -> str:
    return orjson.dumps(value, default=str).decode()


def sync_jobs(instance: ProcessInstance, workflow) -> list[Job]:
    """Create a job for every STARTED service task that has none yet."""
    tasks = runtime.started_service_tasks(workflow)
    if not tasks:
        return []
    keys = {f"{instance.id}:{t.id}": t for t in tasks}
    existing = set(db.session.scalars(select(Job.idempotency_key)
                                      .where(Job.idempotency_key.in_(list(keys)))))
    jobs = []
    for key, task in keys.items():
        if key in existing:
            continue
        spec = task.task_spec
        params = {name: value["value"] for name, value in spec.evaluate_params(task).items()}
        job = Job(instance_id=instance.id, engine_task_id=str(task.id), bpmn_id=spec.bpmn_id,
                  operation=spec.operation_name, params=_json(params),
                  result_variable=spec.result_variable, idempotency_key=key,
                  max_attempts=current_app.config["JOB_MAX_ATTEMPTS"], due_at=utcnow())
        db.session.add(job)
        jobs.append(job)
    return jobs


def claim_next(worker_id: str) -> Job | None:
    """Lease one due job (or one whose lease expired); committed before the job runs."""
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["JOB_LOCK_SECONDS"])
    due = or_((Job.status == "pending") & (Job.due_at <= now),
              (Job.status == "running") & (Job.locked_until < now))
    stmt = select(Job).where(due).order_by(Job.due_at, Job.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    job = db.session.scalar(stmt)
    if job is None:
        db.session.rollback()
        return None
    job.status, job.locked_by, job.locked_until = "running", worker_id, lease
    job.attempts += 1
    job.updated_at = now
    db.session.commit()
    return job


def _apply_result(job: Job, result: dict) -> None:
    instance = db.session.get(ProcessInstance, job.instance_id)
    workflow = load_workflow_of(instance)
    task = runtime.task_by_id(workflow, job.engine_task_id)
    if job.result_variable:
        task.data[job.result_variable] = result
    task.data.update(result.get("_data", {}) if isinstance(result, dict) else {})
    task.complete()
    run_engine(instance, workflow)
    save(instance, workflow, None)


def _business_error(job: Job, exc: BusinessError) -> bool:
    """Throw a BPMN error event at the task; False when no boundary event catches it."""
    instance = db.session.get(ProcessInstance, job.instance_id)
    workflow = load_workflow_of(instance)
    task = runtime.task_by_id(workflow, job.engine_task_id)
    if not runtime.throw_error(workflow, task, exc.code, exc.payload | {"message": exc.message}):
        return False
    run_engine(instance, workflow)
    save(instance, workflow, None)
    return True


def run_job(job: Job) -> str:
    """Run one claimed job to its end state: done, retry, or incident. Commits."""
    op = registry.get(job.operation)
    ctx = CallContext(idempotency_key=job.idempotency_key, instance_id=job.instance_id)
    try:
        if op is None:
            raise LookupError(f"Unknown operation {job.operation}")
        params = op.load_params(orjson.loads(job.params))
        if op.internal:
            result = op.fn(params, ctx)
        else:
            db.session.commit()  # never hold a transaction open across a remote call
            result = op.fn(params, ctx)
        job.result = _json(result)
        _apply_result(job, result or {})
        job.status, job.locked_by, job.locked_until = "done", None, None
        record("worker", "job.completed", target_type="job", target_id=job.id,
               instance_id=job.instance_id, details={"operation": job.operation})
        db.session.commit()
        return "done"
    except BusinessError as exc:
        db.session.rollback()
        return _after_business_error(job, exc)
    except Exception as exc:  # noqa: BLE001 - every technical failure retries or becomes an incident
        db.session.rollback()
        return _after_failure(job, exc)


def _after_business_error(job: Job, exc: BusinessError) -> str:
    job = db.session.get(Job, job.id)
    if _business_error(job, exc):
        job.status, job.last_error = "done", f"business error {exc.code}: {exc.message}"
        record("worker", "job.business_error", target_type="job", target_id=job.id,
               instance_id=job.instance_id, details={"code": exc.code, "message": exc.message})
        db.session.commit()
        return "caught"
    return _to_incident(job, f"Business error {exc.code} not caught by the model: {exc.message}")


def _after_failure(job: Job, exc: Exception) -> str:
    job = db.session.get(Job, job.id)
    message = f"{type(exc).__name__}: {exc}"
    log.warning("job %s (%s) failed: %s", job.id, job.operation, message)
    if job.attempts >= job.max_attempts:
        return _to_incident(job, message + "\n" + traceback.format_exc(limit=5))
    delay = current_app.config["JOB_BACKOFF_SECONDS"] * (2 ** (job.attempts - 1))
    job.status, job.last_error = "pending", message
    job.due_at = utcnow() + timedelta(seconds=delay)
    job.locked_by = job.locked_until = None
    db.session.commit()
    return "retry"


def _to_incident(job: Job, message: str) -> str:
    job.status, job.last_error = "incident", message
    job.locked_by = job.locked_until = None
    incident = Incident(job_id=job.id, instance_id=job.instance_id, operation=job.operation,
                        error=message, attempts=job.attempts)
    db.session.add(incident)
    db.session.flush()
    record("worker", "incident.opened", target_type="incident", target_id=incident.id,
           instance_id=job.instance_id, details={"operation": job.operation, "error": message[:500]})
    db.session.commit()
    return "incident"


def run_due_jobs(worker_id: str = "inline", limit: int = 100) -> int:
    """Claim and run due jobs until none is left (or ``limit``); return how many ran."""
    count = 0
    while count < limit:
        job = claim_next(worker_id)
        if job is None:
            break
        run_job(job)
        count += 1
    return count


def list_incidents(status: str | None = "open"):
    stmt = select(Incident).order_by(Incident.id.desc())
    if status:
        stmt = stmt.where(Incident.status == status)
    return db.session.scalars(stmt).all()


def retry_incident(incident_id: int, actor: str) -> Incident:
    """Put an incident's job back in the queue, due now, with a fresh set of attempts."""
    incident = Incident.get_or_404(incident_id, "Incident")
    if incident.status != "open":
        raise Conflict(f"Incident {incident_id} is already {incident.status}")
    done = db.session.execute(update(Job).where(Job.id == incident.job_id,
                                                Job.status == "incident")
                              .values(status="pending", attempts=0, due_at=utcnow(),
                                      locked_by=None, locked_until=None))
    if done.rowcount != 1:
        raise NotFound(f"Job of incident {incident_id} is not waiting for a retry")
    incident.status, incident.resolved_at, incident.resolved_by = "retried", utcnow(), actor
    record(actor, "incident.retried", target_type="incident", target_id=incident.id,
           instance_id=incident.instance_id, details={"operation": incident.operation})
    return incident
