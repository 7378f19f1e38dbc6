"""Fire due BPMN timers: instances whose ``next_timer_at`` has passed."""

from datetime import datetime

from sqlalchemy import select

from app.audit.services import record
from app.core.errors import Conflict
from app.core.models import utcnow
from app.engine import runtime
from app.engine.models import ProcessInstance
from app.engine.services import _engine_error, load_workflow_of, save
from app.extensions import db


def _record_fired(instance: ProcessInstance, fired: list) -> None:
    """Audit every timer that fired; an interrupting boundary timer is an escalation."""
    from app.tasks.models import HumanTask

    for timer in fired:
        details = {"timer": timer.bpmn_id, "attached_to": timer.attached_to}
        if timer.interrupting and timer.attached_to:
            task_id = db.session.scalar(select(HumanTask.id).where(
                HumanTask.instance_id == instance.id, HumanTask.bpmn_id == timer.attached_to,
                HumanTask.status == "cancelled").order_by(HumanTask.id.desc()).limit(1))
            record("system", "task.escalated", target_type="task", target_id=task_id,
                   instance_id=instance.id, task_id=task_id, process_key=instance.process_key,
                   details=details)
        else:
            record("system", "timer.fired", target_type="instance", target_id=instance.id,
                   instance_id=instance.id, process_key=instance.process_key, details=details)


def fire_due_timers(worker_id: str, limit: int = 100, now: datetime | None = None) -> int:
    """Fire the timers due at ``now`` (default: the clock); return how many instances moved."""
    now = now or utcnow()
    ids = db.session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now)
        .order_by(ProcessInstance.next_timer_at).limit(limit)).all()
    db.session.rollback()
    fired = 0
    for instance_id in ids:
        try:
            instance = db.session.get(ProcessInstance, instance_id)
            workflow = load_workflow_of(instance)
            try:
                which = runtime.fire_timers(workflow, now)
            except Exception as exc:  # noqa: BLE001 - a failing script is reported, not fatal
                raise _engine_error(instance, exc) from exc
            save(instance, workflow, None)
            _record_fired(instance, which)
            db.session.commit()
            fired += 1
        except Conflict:
            db.session.rollback()
    return fired
