"""Fire due BPMN timers: instances whose ``next_timer_at`` has passed."""

from sqlalchemy import select

from app.core.errors import Conflict
from app.core.models import utcnow
from app.engine.models import ProcessInstance
from app.engine.services import load_workflow_of, run_engine, save
from app.extensions import db


def fire_due_timers(worker_id: str, limit: int = 100) -> int:
    ids = db.session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.status == "running", ProcessInstance.next_timer_at <= utcnow())
        .order_by(ProcessInstance.next_timer_at).limit(limit)).all()
    db.session.rollback()
    fired = 0
    for instance_id in ids:
        try:
            instance = db.session.get(ProcessInstance, instance_id)
            workflow = load_workflow_of(instance)
            workflow.refresh_timers()
            run_engine(instance, workflow)
            save(instance, workflow, None)
            db.session.commit()
            fired += 1
        except Conflict:
            db.session.rollback()
    return fired
