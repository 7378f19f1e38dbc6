"""催办 urge: the initiator (or an admin) reminds the pending approvers of an open task.

An urge notifies the task's assignee, else its candidates in scope, in the notification centre
and through the SMS / WeCom outbox. It changes no state of the task or the instance. One urge per
task per ``URGE_INTERVAL_MINUTES`` (default 30); a too-early urge is refused with 429 and the
time it is allowed again. Each urge is an audit event (``task.urged``), which also serves as the
rate-limit record.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.services import record
from app.core.errors import AppError, Conflict, Forbidden, NotFound
from app.core.models import User, utcnow
from app.engine.models import ProcessInstance
from app.extensions import db
from app.notify.services import notify, task_candidates
from app.tasks.models import HumanTask

DEFAULT_INTERVAL_MINUTES = 30
URGE_CHANNELS = ("inbox", "sms", "wecom")


class UrgeTooSoon(AppError):
    """The task was urged less than the configured interval ago."""

    status = 429
    code = "urge_too_soon"

    def __init__(self, allowed_at: datetime, now: datetime):
        wait = max(1, int((allowed_at - now).total_seconds()))
        super().__init__(f"This task was urged recently; you can urge again at "
                         f"{allowed_at.isoformat(timespec='minutes')} UTC",
                         details={"allowed_at": allowed_at.isoformat(timespec="seconds"),
                                  "retry_after": wait})
        self.allowed_at = allowed_at


def interval() -> timedelta:
    return timedelta(minutes=float(current_app.config.get("URGE_INTERVAL_MINUTES",
                                                          DEFAULT_INTERVAL_MINUTES)))


def last_urged_at(task_id: int) -> datetime | None:
    return db.session.scalar(select(AuditEvent.at).where(
        AuditEvent.task_id == task_id, AuditEvent.action == "task.urged")
        .order_by(AuditEvent.id.desc()).limit(1))


def next_allowed_at(task: HumanTask) -> datetime | None:
    """When the task may be urged again, or ``None`` if it may be urged now."""
    last = last_urged_at(task.id)
    return None if last is None else last + interval()


def can_urge(task: HumanTask, user: User) -> bool:
    """Whether ``user`` may urge ``task`` at all (ignoring the rate limit)."""
    instance = db.session.get(ProcessInstance, task.instance_id)
    return (task.status == "open" and instance is not None and instance.status == "running"
            and (instance.started_by_id == user.id or user.has_role("admin")))


def task_to_urge(task_id: int, user: User) -> HumanTask:
    """The task, 404 when the user cannot see its instance, 403 when not its initiator."""
    from app.tasks.services import can_view_instance

    task = db.session.get(HumanTask, task_id)
    instance = db.session.get(ProcessInstance, task.instance_id) if task is not None else None
    if instance is None or not can_view_instance(instance, user):
        raise NotFound(f"Task {task_id} not found")
    if instance.started_by_id != user.id and not user.has_role("admin"):
        raise Forbidden("Only the person who started the application can urge its approvers")
    return task


def urge(task: HumanTask, user: User, comment: str | None = None,
         now: datetime | None = None) -> list[User]:
    """Remind the pending approvers of ``task``; returns who was reminded."""
    now = now or utcnow()
    instance = db.session.get(ProcessInstance, task.instance_id)
    if instance.status != "running":
        raise Conflict(f"The application is already {instance.status}", code="instance_closed")
    if task.status != "open":
        raise Conflict(f"Task {task.id} is {task.status}; only a waiting task can be urged",
                       code="task_closed")
    allowed_at = next_allowed_at(task)
    if allowed_at is not None and now < allowed_at:
        raise UrgeTooSoon(allowed_at, now)
    approvers = [u for u in task_candidates(task) if u.id != user.id]
    if not approvers:
        raise Conflict("Nobody is waiting to act on this task", code="no_approvers")
    comment = (comment or "").strip() or None
    title = f"催办 Reminder: {task.name or task.bpmn_id} — {instance.title or f'#{instance.id}'}"
    notify(approvers, "urge", title, comment or "", link=f"/tasks/{task.id}",
           instance_id=instance.id, task_id=task.id, channels=URGE_CHANNELS,
           actor=user.username)
    record(user.username, "task.urged", target_type="task", target_id=task.id,
           instance_id=instance.id, task_id=task.id, process_key=instance.process_key,
           details={"comment": comment, "to": [u.username for u in approvers],
                    "bpmn_id": task.bpmn_id}, at=now)
    return approvers
