"""抄送 CC: read-only access to an instance plus a "CC'd to me" list with read/unread.

Ad hoc by whoever may see a task (``POST /tasks/{id}/cc``), or per node with the user-task
properties ``ccOnArrival`` / ``ccOnCompletion``: comma-separated user names and ``role:<role>``
entries (regional roles within the instance's region).
"""

from sqlalchemy import func, select

from app.audit.services import record
from app.core.errors import NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.core.roles import ROLES, is_regional
from app.engine.models import ProcessInstance
from app.extensions import db
from app.tasks.models import HumanTask, TaskCc

MAX_CC = 50


def _recipients(spec: str, instance: ProcessInstance) -> list[User]:
    from app.tasks.approvers import users_with_role

    names: list[str] = []
    for entry in (e.strip() for e in (spec or "").split(",")):
        if entry.startswith("role:") and entry[5:] in ROLES:
            role = entry[5:]
            names += users_with_role(role, instance.region if is_regional(role) else None)
        elif entry:
            names.append(entry)
    users = [User.by_username(n) for n in dict.fromkeys(names)]
    return [u for u in users if u is not None and u.active]


def _add(instance: ProcessInstance, task_id: int | None, users: list[User], by: User | None,
         reason: str, comment: str | None) -> list[TaskCc]:
    already = set(db.session.scalars(select(TaskCc.user_id).where(
        TaskCc.instance_id == instance.id, TaskCc.read_at.is_(None))))
    rows = [TaskCc(instance_id=instance.id, task_id=task_id, user_id=u.id,
                   cc_by_id=by.id if by else None, reason=reason, comment=comment)
            for u in users if u.id not in already]
    db.session.add_all(rows)
    db.session.flush()
    if rows:
        record(by.username if by else "system", "instance.cc", target_type="instance",
               target_id=instance.id, instance_id=instance.id, task_id=task_id,
               process_key=instance.process_key,
               details={"users": [u.username for u in users if u.id not in already],
                        "reason": reason, "comment": comment})
        from app.tasks import notifications

        notifications.cc(instance, task_id, [u for u in users if u.id not in already], by,
                         comment)
    return rows


def cc_adhoc(task: HumanTask, user: User, usernames, comment=None) -> list[TaskCc]:
    """CC people on a task's instance; unknown users, oneself or dealers are 422."""
    names = [str(n).strip() for n in (usernames or []) if str(n).strip()]
    problems, users = [], []
    if not names:
        problems.append("Name at least one user")
    for name in names[:MAX_CC]:
        target = User.by_username(name)
        if target is None:
            problems.append(f"Unknown user '{name}'")
        elif target.id == user.id:
            problems.append("You cannot CC yourself")
        elif not set(target.roles) - {"dealer", "applicant"}:
            problems.append(f"{name} cannot read internal approvals")
        elif target not in users:
            users.append(target)
    if problems:
        raise ValidationFailed({"users": problems})
    instance = db.session.get(ProcessInstance, task.instance_id)
    return _add(instance, task.id, users, user, "adhoc", comment)


def cc_for_node(instance: ProcessInstance, task_id: int, settings: dict, when: str,
                by: User | None = None) -> None:
    """Node-configured CC on arrival (a task row was created) or completion."""
    spec = settings.get("ccOnArrival" if when == "arrival" else "ccOnCompletion")
    if spec:
        _add(instance, task_id, _recipients(spec, instance), by, when, None)


def is_cc(instance_id: int, user: User) -> bool:
    return db.session.scalar(select(func.count()).select_from(TaskCc).where(
        TaskCc.instance_id == instance_id, TaskCc.user_id == user.id)) > 0


def cc_list(user: User, limit: int = 50, before_id: int | None = None) -> list[dict]:
    """The "CC'd to me" list, newest first: each entry with its task's fields."""
    stmt = select(TaskCc).where(TaskCc.user_id == user.id)
    if before_id:
        stmt = stmt.where(TaskCc.id < before_id)
    return cc_entries(db.session.scalars(stmt.order_by(TaskCc.id.desc()).limit(limit)))


def cc_entries(rows) -> list[dict]:
    """CC rows as inbox entries: the CC's fields with its task's and instance's."""
    out = []
    for cc in rows:
        instance = db.session.get(ProcessInstance, cc.instance_id)
        task = db.session.get(HumanTask, cc.task_id) if cc.task_id else None
        entry = {c: getattr(task, c) for c in ("bpmn_id", "name", "status", "outcome",
                                                "pass_no", "form_key", "kind", "amount",
                                                "due_at", "dealer_id")} if task else {}
        entry.update(id=cc.task_id, instance_id=cc.instance_id, title=instance.title,
                     process_key=instance.process_key, created_at=cc.created_at,
                     cc_id=cc.id, cc_read=cc.read_at is not None, cc_reason=cc.reason,
                     cc_by_id=cc.cc_by_id, cc_comment=cc.comment,
                     instance_status=instance.status)
        out.append(entry)
    return out


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(TaskCc).where(
        TaskCc.user_id == user.id, TaskCc.read_at.is_(None)))


def mark_read(user: User, cc_id: int | None = None, instance_id: int | None = None) -> int:
    """Mark one CC (or every CC of an instance) read; returns how many changed."""
    stmt = select(TaskCc).where(TaskCc.user_id == user.id, TaskCc.read_at.is_(None))
    if cc_id is not None:
        cc = db.session.get(TaskCc, cc_id)
        if cc is None or cc.user_id != user.id:
            raise NotFound(f"CC {cc_id} not found")
        stmt = stmt.where(TaskCc.id == cc_id)
    if instance_id is not None:
        stmt = stmt.where(TaskCc.instance_id == instance_id)
    rows = db.session.scalars(stmt).all()
    now = utcnow()
    for row in rows:
        row.read_at = now
    if rows:
        record(user.username, "cc.read", target_type="instance", target_id=rows[0].instance_id,
               instance_id=rows[0].instance_id, details={"cc_ids": [r.id for r in rows]})
    return len(rows)
