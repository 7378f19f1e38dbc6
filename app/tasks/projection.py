"""Project the engine's READY human tasks into ``human_task`` rows after every step."""

from datetime import timedelta

from sqlalchemy import delete, select, update

from app.core.models import User, utcnow
from app.core.roles import is_regional
from app.engine import runtime
from app.engine.models import ProcessInstance
from app.engine.validation import assignment_of, candidate_roles, is_initiator_task
from app.extensions import db
from app.tasks.models import HumanTask, TaskCandidate


def _assignee_id(instance: ProcessInstance, task, info: dict) -> int | None:
    if is_initiator_task(task.task_spec):
        return instance.started_by_id
    assignee = (info.get("assignee") or "").strip()
    if not assignee:
        return None
    if assignee.startswith("${") and assignee.endswith("}"):
        assignee = str(task.data.get(assignee[2:-1].strip(), ""))
    user = User.by_username(assignee) if assignee else None
    return user.id if user else None


def _scope(task, roles: list[str], info: dict) -> str | None:
    field = info.get("candidateScope")
    if field is None and any(is_regional(r) for r in roles):
        field = "region"
    if not field or field == "none":
        return None
    value = task.data.get(field)
    return str(value) if value else None


def _due(info: dict):
    due = info.get("dueDate")
    if not due:
        return None
    if due.startswith("PT") and due.endswith("H") and due[2:-1].isdigit():
        return utcnow() + timedelta(hours=int(due[2:-1]))
    return None


def _new_row(instance: ProcessInstance, task, pass_no: int) -> HumanTask:
    spec = task.task_spec
    info = assignment_of(spec)
    roles = candidate_roles(spec)
    users = [u.strip() for u in (info.get("candidateUsers") or "").split(",") if u.strip()]
    row = HumanTask(instance_id=instance.id, process_key=instance.process_key,
                    title=instance.title, engine_task_id=str(task.id), bpmn_id=spec.bpmn_id,
                    name=spec.bpmn_name or spec.bpmn_id, form_key=info.get("formKey"),
                    lane=spec.lane, candidate_roles=",".join(roles),
                    candidate_users=",".join(users), scope_region=_scope(task, roles, info),
                    assignee_id=_assignee_id(instance, task, info), status="open",
                    due_at=_due(info), priority=int(info.get("priority") or 50),
                    pass_no=pass_no, created_at=utcnow())
    row.candidates = [("role", r) for r in roles] + [("user", u) for u in users]
    return row


def sync_human_tasks(instance: ProcessInstance, workflow) -> list[HumanTask]:
    """Insert rows for new READY tasks; cancel open rows whose engine task is gone."""
    ready = {str(t.id): t for t in runtime.ready_human_tasks(workflow)}
    open_rows = db.session.execute(
        select(HumanTask.id, HumanTask.engine_task_id, HumanTask.bpmn_id)
        .where(HumanTask.instance_id == instance.id, HumanTask.status == "open")).all()
    known = {r.engine_task_id for r in open_rows}
    gone = [r.id for r in open_rows if r.engine_task_id not in ready]
    if gone:
        db.session.execute(update(HumanTask).where(HumanTask.id.in_(gone))
                           .values(status="cancelled", completed_at=utcnow()))
        db.session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(gone)))
    created = []
    for engine_id, task in ready.items():
        if engine_id in known:
            continue
        passes = db.session.scalar(
            select(HumanTask.pass_no).where(HumanTask.instance_id == instance.id,
                                            HumanTask.bpmn_id == task.task_spec.bpmn_id)
            .order_by(HumanTask.id.desc()).limit(1)) if instance.lock_version > 1 else None
        row = _new_row(instance, task, (passes or 0) + 1)
        db.session.add(row)
        created.append(row)
    if created:
        db.session.flush()
        db.session.add_all(TaskCandidate(task_id=row.id, kind=k, value=v, created_at=row.created_at)
                           for row in created for k, v in row.candidates)
    return created
