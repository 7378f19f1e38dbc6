"""Periodic jobs: each runs once per slot cluster-wide, whatever the number of workers.

A periodic job is a plain function registered under a name with its period::

    from datetime import timedelta

    from app.jobs.periodic import register_periodic

    def poll_deliveries() -> dict:
        ...                     # runs in an app context; use db.session as usual
        return {"deliveries": 12}   # optional summary, shown in `flask jobs periodic`

    register_periodic("erp.delivery_poll", every=timedelta(minutes=5), func=poll_deliveries,
                      description="Pull outbound deliveries changed since the last poll")

Register at import time of a module that ``create_app`` imports (for example your package's
operations module), so that every worker process knows the job.

How "once per slot" works: time is cut into slots of ``every`` aligned on the Unix epoch
(a 5-minute job has slots 10:00, 10:05, …). Each worker schedules every registered job with
APScheduler at the slot boundaries; when it fires, the worker inserts a ``periodic_run`` row
``(name, slot_start)`` under a unique constraint. Only the worker whose insert succeeds runs
the function; the others skip the slot. This holds on PostgreSQL and SQLite, for any number of
workers, and needs no clock agreement finer than the slot length.

The function's database work commits together with the run's outcome. An exception rolls that
work back and is recorded on the run (``status = failed``, ``last_error``), visible to admins in
``GET /api/v1/jobs/periodic`` and ``flask jobs periodic``; the next slot runs again as usual.
A worker that dies mid-run leaves the run ``running``; that slot is not retried.

``flask jobs run-periodic NAME`` (or ``POST /api/v1/jobs/periodic/NAME/run``) runs a job now,
outside the slot grid (``trigger = manual``).
"""

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import func, select

from app.audit.services import record
from app.core.errors import NotFound
from app.core.models import utcnow
from app.extensions import db
from app.jobs.models import PeriodicRun

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta
    func: Callable[[], object]
    description: str = ""

    def slot_start(self, now: datetime) -> datetime:
        """The start of the slot ``now`` falls in (slots are aligned on the epoch)."""
        return EPOCH + ((now - EPOCH) // self.every) * self.every

    def next_slot(self, now: datetime) -> datetime:
        return self.slot_start(now) + self.every


_registry: dict[str, Periodic] = {}


def register_periodic(name: str, every: timedelta, func: Callable[[], object],
                      description: str = "") -> Periodic:
    """Register (or replace) the periodic job ``name``, run every ``every``."""
    if every < timedelta(seconds=1):
        raise ValueError(f"Periodic job {name}: the period must be at least one second")
    if not name or len(name) > 100:
        raise ValueError("A periodic job needs a name of 1 to 100 characters")
    job = Periodic(name, every, func, description or (func.__doc__ or "").strip().split("\n")[0])
    _registry[name] = job
    return job


def unregister_periodic(name: str) -> None:
    _registry.pop(name, None)


def registered() -> list[Periodic]:
    return [_registry[name] for name in sorted(_registry)]


def get_periodic(name: str) -> Periodic:
    job = _registry.get(name)
    if job is None:
        raise NotFound(f"No periodic job named '{name}'")
    return job


def _claim_slot(name: str, slot: datetime, trigger: str, worker_id: str) -> int | None:
    """Insert the run row for the slot and commit; None when another worker holds it."""
    values = {"name": name, "slot_start": slot, "trigger": trigger, "worker_id": worker_id[:100],
              "status": "running", "created_at": utcnow()}
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = (dialect_insert(PeriodicRun.__table__).values(**values)
            .on_conflict_do_nothing(index_elements=["name", "slot_start"])
            .returning(PeriodicRun.__table__.c.id))
    run_id = db.session.execute(stmt).scalar()
    db.session.commit()
    return run_id


def _summary(result) -> str | None:
    if result is None:
        return None
    text = result if isinstance(result, str) else orjson.dumps(result, default=str).decode()
    return text[:2000]


def run_periodic(name: str, worker_id: str, *, now: datetime | None = None,
                 actor: str | None = None) -> PeriodicRun | None:
    """Run ``name`` for the slot of ``now`` if no worker has yet; the run, or None if skipped.

    With ``actor`` the run is manual: it takes its own slot (now) and is audited.
    """
    job = get_periodic(name)
    now = now or utcnow()
    manual = actor is not None
    slot = now if manual else job.slot_start(now)
    run_id = _claim_slot(name, slot, "manual" if manual else "schedule", worker_id)
    if run_id is None:
        return None
    started = time.perf_counter()
    status, result, error = "done", None, None
    try:
        result = _summary(job.func())
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, the worker keeps going
        db.session.rollback()
        status = "failed"
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        log.warning("periodic job %s failed: %s: %s", name, type(exc).__name__, exc)
    run = db.session.get(PeriodicRun, run_id)
    run.status, run.result, run.last_error = status, result, error
    run.finished_at = utcnow()
    run.duration_ms = round((time.perf_counter() - started) * 1000)
    if manual:
        record(actor, "periodic.run", target_type="periodic_run", target_id=run.id,
               details={"name": name, "status": status})
    db.session.commit()
    return run


def overview(now: datetime | None = None) -> list[dict]:
    """Every registered job with its last run, last failure and next slot."""
    now = now or utcnow()
    names = list(_registry)
    last_ids = dict(db.session.execute(select(PeriodicRun.name, func.max(PeriodicRun.id))
                                       .where(PeriodicRun.name.in_(names))
                                       .group_by(PeriodicRun.name)).all()) if names else {}
    failed_ids = dict(db.session.execute(select(PeriodicRun.name, func.max(PeriodicRun.id))
                                         .where(PeriodicRun.name.in_(names),
                                                PeriodicRun.status == "failed")
                                         .group_by(PeriodicRun.name)).all()) if names else {}
    wanted = set(last_ids.values()) | set(failed_ids.values())
    runs = {r.id: r for r in db.session.scalars(select(PeriodicRun)
                                                .where(PeriodicRun.id.in_(wanted)))} if wanted else {}
    rows = []
    for job in registered():
        last, failed = runs.get(last_ids.get(job.name)), runs.get(failed_ids.get(job.name))
        rows.append({"name": job.name, "description": job.description,
                     "every_seconds": int(job.every.total_seconds()),
                     "next_slot": job.next_slot(now), "last_run": last,
                     "last_failure": failed})
    return rows


def recent_runs(name: str, limit: int = 20) -> list[PeriodicRun]:
    get_periodic(name)
    return list(db.session.scalars(select(PeriodicRun).where(PeriodicRun.name == name)
                                   .order_by(PeriodicRun.id.desc()).limit(limit)))
