"""Service-task jobs: created with the instance's state, claimed and run by the worker."""

import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from flask import current_app
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import services as audit
from app.audit.services import record
from app.core import sql
from app.core.errors import Conflict, NotFound
from app.core.models import utcnow
from app.engine import runtime
from app.engine import services as engine
from app.engine.models import ProcessInstance
from app.engine.services import load_workflow_of, run_engine, save
from app.extensions import db
from app.jobs import deferred, wakeup
from app.jobs.models import OPEN, Incident, Job
from app.notify import services as notices
from connectors.registry import BusinessError, CallContext, registry

log = logging.getLogger(__name__)

# Times a result is applied again when the instance's optimistic lock refuses it (409).
APPLY_ATTEMPTS = 5


def _json(value) -> str:
    return orjson.dumps(value, default=str).decode()


_JOB_COLUMNS = tuple(c.key for c in Job.__table__.columns if c.key != "id")
_INSERT_JOB = sql.prepared(insert(Job.__table__).values({k: bindparam(k) for k in _JOB_COLUMNS}))


def sync_jobs(instance: ProcessInstance, workflow) -> list[str]:
    """Create a job for every STARTED service task that has none yet; return their keys.

    The rows are inserted at once in the caller's transaction (no ORM unit of work).
    """
    tasks = runtime.started_service_tasks(workflow)
    if not tasks:
        return []
    keys = {f"{instance.id}:{t.id}": t for t in tasks}
    existing = set(db.session.scalars(select(Job.idempotency_key)
                                      .where(Job.idempotency_key.in_(list(keys)))))
    rows, now = [], utcnow()
    max_attempts = current_app.config["JOB_MAX_ATTEMPTS"]
    for key, task in keys.items():
        if key in existing:
            continue
        spec = task.task_spec
        params = {name: value["value"] for name, value in spec.evaluate_params(task).items()}
        rows.append({"kind": "service", "instance_id": instance.id,
                     "engine_task_id": str(task.id), "bpmn_id": spec.bpmn_id,
                     "operation": spec.operation_name, "params": _json(params),
                     "result_variable": spec.result_variable, "status": "pending",
                     "due_at": now, "attempts": 0, "max_attempts": max_attempts,
                     "locked_by": None, "locked_until": None, "last_error": None,
                     "idempotency_key": key, "result": None, "updated_at": now,
                     "created_at": now})
    if rows:
        sql.execute(_INSERT_JOB, rows)
        wakeup.announce()
    return [r["idempotency_key"] for r in rows]


# Called as hook(job, result) in the transaction that completes a standalone job (one that
# ``enqueue`` created, with no BPMN task to continue), by operation name.
call_completion_hooks: dict = {}


def enqueue(operation: str, params: dict, *, idempotency_key: str,
            instance_id: int | None = None, due_at=None) -> Job:
    """Queue a standalone connector call in the caller's transaction; the worker runs it like
    a service task's job (same retries with backoff, then an incident an admin retries), and
    ``call_completion_hooks[operation]`` sees its result. The same key never queues twice."""
    if registry.get(operation) is None:
        raise LookupError(f"Unknown operation {operation}")
    existing = db.session.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    job = Job(kind="call", instance_id=instance_id, engine_task_id=None, bpmn_id="",
              operation=operation, params=_json(params), idempotency_key=idempotency_key,
              max_attempts=current_app.config["JOB_MAX_ATTEMPTS"], due_at=due_at or utcnow(),
              status="pending", attempts=0)
    db.session.add(job)
    db.session.flush()
    wakeup.announce()
    return job


def _due_clause(now):
    return OPEN & or_((Job.status == "pending") & (Job.due_at <= now),
                      (Job.status == "running") & (Job.locked_until < now))


def claim_batch(worker_id: str, size: int) -> list[Job]:
    """Lease up to ``size`` due jobs (or jobs whose lease expired) in one short transaction.

    One statement: ``UPDATE … WHERE id IN (the first due ids) RETURNING`` the claimed rows.
    PostgreSQL: the due ids are selected ``FOR UPDATE SKIP LOCKED``, so concurrent workers
    claim disjoint sets. SQLite: the transaction is ``BEGIN IMMEDIATE`` (one writer at a
    time). Committed before any runs; the jobs come back in due order.
    """
    # Nothing claimed or not: the transaction ends with a commit. A rollback would also make
    # psycopg forget its server-side prepared statements and their use counts, so an idle
    # worker's polls (and the statements after them) would be planned afresh each time.
    jobs = _claim(worker_id, size)
    db.session.commit()
    return jobs


def _claim_statement(skip_locked: bool):
    """``UPDATE job … WHERE id IN (the first due ids) RETURNING job``, built once: the worker
    claims after every batch, and building the statement cost more than running it."""
    now = bindparam("now", type_=Job.__table__.c.due_at.type)
    due = (select(Job.id).where(_due_clause(now)).order_by(Job.due_at, Job.id)
           .limit(bindparam("size")))
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return (update(Job).where(Job.id.in_(due.scalar_subquery()))
            .values(status="running", locked_by=bindparam("worker"),
                    locked_until=bindparam("lease"), attempts=Job.attempts + 1, updated_at=now)
            .returning(Job))


_CLAIM = {False: _claim_statement(False), True: _claim_statement(True)}
_CLAIM_OPTIONS = {"populate_existing": True, "synchronize_session": False}


def _claim(worker_id: str, size: int) -> list[Job]:
    """``claim_batch``'s statement in the caller's transaction (the caller commits)."""
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["JOB_LOCK_SECONDS"])
    claim = _CLAIM[db.session.get_bind().dialect.name == "postgresql"]
    jobs = list(db.session.scalars(claim, {"now": now, "lease": lease, "worker": worker_id,
                                           "size": size}, execution_options=_CLAIM_OPTIONS))
    jobs.sort(key=lambda job: (job.due_at, job.id))
    return jobs


_JOBS = Job.__table__
_INSTANCES = ProcessInstance.__table__
# When the next job falls due (a backoff retry, a job queued for later), the next lease runs
# out (a killed worker's job), and the next BPMN timer fires: one round trip, index reads.
_NEXT_DUE = select(
    select(func.min(_JOBS.c.due_at)).where(OPEN, _JOBS.c.status == "pending").scalar_subquery(),
    select(func.min(_JOBS.c.locked_until)).where(OPEN, _JOBS.c.status == "running")
    .scalar_subquery(),
    select(func.min(_INSTANCES.c.next_timer_at)).where(_INSTANCES.c.status == "running")
    .scalar_subquery())


def next_due_at():
    """The earliest time a job or a BPMN timer falls due (naive UTC), or None.

    What an idle worker sleeps until when it comes before its next poll, so a job retried
    after a backoff runs at its due time rather than at the poll after it.
    """
    times = db.session.execute(_NEXT_DUE).one()
    return min((t for t in times if t is not None), default=None)


def claim_next(worker_id: str) -> Job | None:
    """Lease one due job (or one whose lease expired); committed before the job runs."""
    jobs = claim_batch(worker_id, 1)
    return jobs[0] if jobs else None


def _apply_result(job: Job, result: dict) -> None:
    if job.engine_task_id is None:  # a standalone call: no instance to continue
        hook = call_completion_hooks.get(job.operation)
        if hook is not None:
            hook(job, result)
        return
    # A copy cached from an earlier transaction may be stale: its lock then refuses the save
    # (409) and the apply runs again after the rollback has expired it.
    instance = db.session.get(ProcessInstance, job.instance_id)
    workflow = load_workflow_of(instance)
    task = runtime.task_by_id(workflow, job.engine_task_id)
    # No human task waiting before the apply: the instance has no open task row to look up.
    none_open = not runtime.ready_human_tasks(workflow)
    if job.result_variable:
        task.data[job.result_variable] = result
    task.data.update(result.get("_data", {}) if isinstance(result, dict) else {})
    task.complete()
    run_engine(instance, workflow)
    save(instance, workflow, None, none_open=none_open)


def _business_error(job: Job, exc: BusinessError) -> bool:
    """Throw a BPMN error event at the task; False when no boundary event catches it."""
    if job.engine_task_id is None:
        return False  # a standalone call has no boundary event: an incident
    instance = db.session.get(ProcessInstance, job.instance_id, populate_existing=True)
    workflow = load_workflow_of(instance)
    task = runtime.task_by_id(workflow, job.engine_task_id)
    if not runtime.throw_error(workflow, task, exc.code, exc.payload | {"message": exc.message}):
        return False
    run_engine(instance, workflow)
    save(instance, workflow, None)
    return True


def _still_ours(job: Job) -> bool:
    """Re-read the job: False when its lease was taken over by another worker meanwhile."""
    mine = job.locked_by
    fresh = db.session.get(Job, job.id, populate_existing=True)
    return fresh is not None and fresh.status == "running" and fresh.locked_by == mine


_MARK_DONE = sql.prepared(
    update(Job.__table__)
    .where(Job.__table__.c.id == bindparam("w_id"), Job.__table__.c.status == "running",
           Job.__table__.c.locked_by == bindparam("w_locked_by"))
    .values({name: bindparam(f"s_{name}") for name in
             ("status", "result", "locked_by", "locked_until", "updated_at")}))


def _done_values(result, now) -> dict:
    return {"status": "done", "result": _json(result), "locked_by": None, "locked_until": None,
            "updated_at": now}


def _mark_done(job: Job, result) -> bool:
    """Finish the job if this worker still holds its lease (guarded UPDATE, no ORM flush)."""
    values = _done_values(result, utcnow())
    done = sql.execute(_MARK_DONE, {"w_id": job.id, "w_locked_by": job.locked_by,
                                    **sql.bind("s", values)})
    if done.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(job, name, value)
    return True


def _mark_all_done(pairs: list) -> None:
    """``_mark_done`` for a batch of (job, outcome) in one round trip (the guarded UPDATE run
    for each job); raises ``_LeaseLost`` unless every job was still this worker's."""
    now = utcnow()
    values = [_done_values(outcome.value, now) for _, outcome in pairs]
    done = sql.execute(_MARK_DONE, [{"w_id": job.id, "w_locked_by": job.locked_by,
                                     **sql.bind("s", row)}
                                    for (job, _), row in zip(pairs, values, strict=True)])
    if done.rowcount != len(pairs):
        raise _LeaseLost
    for (job, _), row in zip(pairs, values, strict=True):
        for name, value in row.items():
            set_committed_value(job, name, value)


@dataclass
class CallOutcome:
    """What a remote call produced, carried from the pool thread to the worker's thread."""

    kind: str  # ok | business | error
    value: object  # the result dict, or the exception
    writes: list = field(default_factory=list)  # deferred inserts (the ERP message log)


def call_remote(app, op, params: dict, ctx: CallContext) -> CallOutcome:
    """Run one remote operation (in a pool thread): no transaction of the worker is open.

    Log rows the adapter defers come back in the outcome; anything else the operation wrote
    through its own session is committed here when it succeeded.
    """
    with app.app_context(), deferred.collect() as writes:
        try:
            result = op.fn(params, ctx)
            db.session.commit()
            return CallOutcome("ok", result, writes)
        except BusinessError as exc:
            db.session.rollback()
            return CallOutcome("business", exc, writes)
        except Exception as exc:  # noqa: BLE001 - every technical failure retries or is an incident
            db.session.rollback()
            return CallOutcome("error", exc, writes)


def _prepare(job: Job):
    """The job's operation and loaded parameters; raises for unknown ops or bad params."""
    op = registry.get(job.operation)
    if op is None:
        raise LookupError(f"Unknown operation {job.operation}")
    return op, op.load_params(orjson.loads(job.params))


def _context(job: Job) -> CallContext:
    return CallContext(idempotency_key=job.idempotency_key, instance_id=job.instance_id)


def run_job(job: Job) -> str:
    """Run one claimed job to its end state: done, retry, or incident. Commits."""
    try:
        op, params = _prepare(job)
    except Exception as exc:  # noqa: BLE001 - unknown operation or parameters the schema rejects
        db.session.rollback()
        return _after_failure(job, exc)
    if not op.internal:
        db.session.commit()  # never hold a transaction open across a remote call
        outcome = call_remote(current_app._get_current_object(), op, params, _context(job))
        return finish(job, outcome)
    for _ in range(APPLY_ATTEMPTS):
        try:
            result = op.fn(params, _context(job))  # internal: inside the job's transaction
            return _complete(job, result, [])
        except Conflict:
            db.session.rollback()  # the instance moved on meanwhile: run it again on fresh state
        except BusinessError as exc:
            db.session.rollback()
            return _after_business_error(job, exc, [])
        except Exception as exc:  # noqa: BLE001 - every technical failure retries or is an incident
            db.session.rollback()
            return _after_failure(job, exc)
    return _after_failure(job, Conflict("The instance kept changing while the job applied"))


def finish(job: Job, outcome: CallOutcome) -> str:
    """Apply a remote call's outcome in the worker's thread; the remote call is never repeated.

    The instance's optimistic lock may refuse the apply (another transaction saved it first):
    the apply is retried on the fresh state, up to ``APPLY_ATTEMPTS`` times.
    """
    if outcome.kind == "business":
        return _after_business_error(job, outcome.value, outcome.writes)
    if outcome.kind == "error":
        return _after_failure(job, outcome.value, outcome.writes)
    for _ in range(APPLY_ATTEMPTS):
        try:
            return _complete(job, outcome.value, outcome.writes)
        except Conflict:
            db.session.rollback()
        except Exception as exc:  # noqa: BLE001 - e.g. a script after the task failed
            db.session.rollback()
            return _after_failure(job, exc, outcome.writes)
    return _after_failure(job, Conflict("The instance kept changing while the job applied"),
                          outcome.writes)


class _LeaseLost(Exception):
    """The job's lease went to another worker while its call ran (its result is not applied)."""


def _apply_done(job: Job, result, writes: list, marked: bool = False) -> None:
    """Mark the job done (unless the caller marks it: ``marked``), write its log rows and apply
    its result; no commit.

    Audit events are queued (``audit.queued``) by the caller, so the chain's lock is taken just
    before the commit. Raises ``_LeaseLost``, ``Conflict`` (the instance moved on) or whatever
    the engine raised.
    """
    if not marked and not _mark_done(job, result):
        raise _LeaseLost
    deferred.write(writes)
    _apply_result(job, result or {})
    record("worker", "job.completed", target_type="job", target_id=job.id,
           instance_id=job.instance_id, details={"operation": job.operation})


def _complete(job: Job, result, writes: list) -> str:
    try:
        with audit.queued() as events:
            _apply_done(job, result, writes)
    except _LeaseLost:
        db.session.rollback()
        return _lost(job, writes)
    audit.write_queued(events)
    db.session.commit()
    return "done"


def finish_batch(pairs: list[tuple[Job, CallOutcome]],
                 claim_next: Callable[[], list[Job]] | None = None) -> list[Job]:
    """Apply successful calls in one transaction: one statement reads their instances, one
    round trip saves them, one inserts the notifications they cause, one marks the jobs done,
    one inserts their log rows, one appends their audit events, one commit. ``claim_next`` (a
    claim in the caller's transaction) runs in it too; the jobs it leased are returned,
    committed with the batch.

    The results are applied one after the other without savepoints (two round trips a job
    less). If one cannot be applied (lease lost, instance changed, engine error), the whole
    batch is rolled back and every job goes through ``finish`` one by one, with its retries
    and failure handling: one that cannot be applied never takes the others down. Failed
    calls always go through ``finish``; nothing is claimed here unless a result was applied.
    """
    ok = [(job, outcome) for job, outcome in pairs if outcome.kind == "ok"]
    rest = [(job, outcome) for job, outcome in pairs if outcome.kind != "ok"]
    if not ok:
        for job, outcome in rest:
            finish(job, outcome)
        return []
    applied, claimed = 0, []
    # The leases as claimed: an apply that fails after marking its job done leaves that copy
    # marked done (and unlocked) in the session.
    leases = {job.id: job.locked_by for job, _ in ok}
    try:
        instances = _instances_of([job for job, _ in ok])  # noqa: F841 - held for Session.get
        with notices.held() as held, engine.held_saves() as saves, audit.queued() as events:
            for job, outcome in ok:
                _apply_done(job, outcome.value, [], marked=True)
        engine.write_held_saves(saves)  # one round trip; Conflict if an instance moved on
        notices.write_held(held)  # one insert
        _mark_all_done(ok)  # last: the jobs' updated_at is when their results were applied
    except Exception:  # noqa: BLE001 - nothing was applied: every job goes through finish()
        db.session.rollback()
    else:
        try:
            deferred.write([row for _, outcome in ok for row in outcome.writes])  # one insert
            claimed = claim_next() if claim_next is not None else []
            audit.write_queued(events)
            db.session.commit()
            applied = len(ok)
        except Exception:  # noqa: BLE001 - nothing was applied: every job goes through finish()
            log.exception("worker: a batch of %d results could not be committed", len(ok))
            db.session.rollback()
            claimed = []
    leftover = ok[applied:] + rest
    if applied < len(ok):
        db.session.expire_all()  # the failed apply left stale copies in the session
    for job, outcome in leftover:
        if job.id in leases:
            # Fresh from the database, but with this worker's lease: if another worker took the
            # job over meanwhile, finish() sees the lease is lost and does not apply the result.
            job = db.session.get(Job, job.id, populate_existing=True)
            set_committed_value(job, "locked_by", leases[job.id])
        finish(job, outcome)
    return claimed


_INSTANCES_BY_ID = select(ProcessInstance).where(
    ProcessInstance.id.in_(bindparam("ids", expanding=True)))


def _instances_of(jobs: list[Job]) -> list[ProcessInstance]:
    """Load the instances the jobs continue in one statement (``Session.get`` then finds them;
    a copy already in the session stays as it is, as ``Session.get`` would return it)."""
    ids = sorted({job.instance_id for job in jobs
                  if job.engine_task_id is not None and job.instance_id is not None})
    if not ids:
        return []
    return list(db.session.scalars(_INSTANCES_BY_ID, {"ids": ids}))


def _lost(job: Job, writes: list) -> str:
    """Another worker took the lease over (this one was too slow): keep only the log rows."""
    log.warning("job %s: lease lost to another worker; result not applied here", job.id)
    if writes:
        deferred.write(writes)
        db.session.commit()
    return "lost"


def _after_business_error(job: Job, exc: BusinessError, writes: list) -> str:
    for _ in range(APPLY_ATTEMPTS):
        if not _still_ours(job):
            db.session.rollback()
            return _lost(job, writes)
        job = db.session.get(Job, job.id)
        deferred.write(writes)
        try:
            caught = _business_error(job, exc)
        except Conflict:
            db.session.rollback()
            continue
        if not caught:
            break
        job.status, job.last_error = "done", f"business error {exc.code}: {exc.message}"
        job.locked_by = job.locked_until = None
        record("worker", "job.business_error", target_type="job", target_id=job.id,
               instance_id=job.instance_id, details={"code": exc.code, "message": exc.message})
        db.session.commit()
        return "caught"
    return _to_incident(job, f"Business error {exc.code} not caught by the model: {exc.message}")


def _after_failure(job: Job, exc: Exception, writes: list | None = None) -> str:
    if not _still_ours(job):
        db.session.rollback()
        return _lost(job, writes or [])
    job = db.session.get(Job, job.id)
    deferred.write(writes or [])
    message = f"{type(exc).__name__}: {exc}"
    log.warning("job %s (%s) failed: %s", job.id, job.operation, message)
    if job.attempts >= job.max_attempts:
        trace = "".join(traceback.format_exception(exc, limit=5))
        return _to_incident(job, message + "\n" + trace)
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


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    """One long-lived pool per size: its threads keep their ERP clients (one per thread)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(size, thread_name_prefix="job-call")
        return _pools[size]


def run_due_jobs(worker_id: str = "inline", limit: int = 100,
                 concurrency: int | None = None) -> int:
    """Claim and run due jobs until none is left (or ``limit``); return how many ran.

    Remote operations run in a pool of ``concurrency`` threads (``WORKER_CONCURRENCY``); jobs
    are claimed in batches as threads free up, and every database write (claims, applying a
    result, continuing the instance, the ERP message log) stays on this thread, one short
    transaction each. Internal operations run here, inside their job's transaction.
    """
    concurrency = concurrency or int(current_app.config["WORKER_CONCURRENCY"])
    if concurrency <= 1:
        count = 0
        while count < limit:
            job = claim_next(worker_id)
            if job is None:
                break
            run_job(job)
            count += 1
        return count
    app, pool = current_app._get_current_object(), _pool(concurrency)
    wait_limit = float(current_app.config["JOB_LOCK_SECONDS"])
    inflight: dict[Future, Job] = {}
    claimed = finished = 0
    queue_empty = False

    def start(jobs: list[Job]) -> int:
        """Submit claimed remote calls to the pool; run internal ones here. How many ran."""
        ran = 0
        for job in jobs:
            op = registry.get(job.operation)
            if op is None or op.internal:
                run_job(job)
                ran += 1
                continue
            try:
                params = op.load_params(orjson.loads(job.params))
            except Exception as exc:  # noqa: BLE001 - parameters the schema rejects
                db.session.rollback()
                _after_failure(job, exc)
                ran += 1
                continue
            inflight[pool.submit(call_remote, app, op, params, _context(job))] = job
        return ran

    def claim_size() -> int:
        """How many jobs to claim now: none unless half the pool (at least one) is free."""
        free = concurrency - len(inflight)
        if queue_empty or claimed >= limit or free < max(1, concurrency // 2):
            return 0
        return min(free, limit - claimed)

    while True:
        size = claim_size()
        if size:
            jobs = claim_batch(worker_id, size)
            claimed += len(jobs)
            queue_empty = not jobs
            finished += start(jobs)
            if jobs:
                continue
        if not inflight:
            if queue_empty or claimed >= limit:
                return finished
            continue
        done, _ = wait(inflight, timeout=wait_limit, return_when=FIRST_COMPLETED)
        if not done:  # connector timeouts should prevent this; the leases will expire
            log.error("worker %s: %d calls outlasted the job lease; leaving them", worker_id,
                      len(inflight))
            return finished
        pairs = [(inflight.pop(future), future.result()) for future in done]
        finished += len(done)
        queue_empty = False
        # The next claim rides in the batch's transaction (one commit less); when the batch
        # is not applied at once, the loop claims on its own as before.
        size = claim_size()
        jobs = finish_batch(pairs, (lambda n=size: _claim(worker_id, n)) if size else None)
        if jobs:
            claimed += len(jobs)
            finished += start(jobs)


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
    wakeup.announce()
    record(actor, "incident.retried", target_type="incident", target_id=incident.id,
           instance_id=incident.instance_id, details={"operation": incident.operation})
    return incident
