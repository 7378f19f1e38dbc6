"""Service-task jobs run by the worker, and incidents when their retries run out."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model, utcnow


class Job(Model):
    """A connector call run by the worker: a BPMN service task (``kind = service``) or a
    standalone call enqueued by platform code (``kind = call``, e.g. ``notify.deliver``; no
    engine task, ``instance_id`` only when an instance caused it)."""

    __tablename__ = "job"
    # Only the jobs still to run or running (a few, whatever the history) are indexed, in the
    # claim's order: a claim reads the first due entries and stops, and done jobs' entries
    # (gone on their last update) never pile up in front of it. Queries reach it by repeating
    # the predicate literally (``OPEN``), which SQLite needs to use a partial index.
    __table_args__ = (Index("ix_job_open_due", "due_at", "id",
                            postgresql_where=text("status IN ('pending', 'running')"),
                            sqlite_where=text("status IN ('pending', 'running')")),)
    kind: Mapped[str] = mapped_column(String(20), default="service", nullable=False)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"),
                                                    index=True)
    engine_task_id: Mapped[str | None] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100), default="")
    operation: Mapped[str] = mapped_column(String(100), nullable=False)
    params: Mapped[str] = mapped_column(Text, default="{}")
    result_variable: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending", nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5, nullable=False)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    result: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


# The partial index's predicate, for queries to repeat (AND) so both databases use the index.
OPEN = text("job.status IN ('pending', 'running')")


class Incident(Model):
    __tablename__ = "incident"
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"), nullable=False, index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    operation: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class PeriodicRun(Model):
    """One run of a periodic job: the unique (name, slot_start) lets one worker win a slot."""

    __tablename__ = "periodic_run"
    __table_args__ = (UniqueConstraint("name", "slot_start", name="uq_periodic_run_slot"),)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    slot_start: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    trigger: Mapped[str] = mapped_column(String(20), default="schedule", nullable=False)
    worker_id: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="running", nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
