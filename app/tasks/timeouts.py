"""超时处理 per-node timeouts: warn the approvers before a task is due, act once when it is.

A user task sets its timeout as ``spiffworkflow:properties`` (checked at deploy):

- ``dueIn`` (ISO 8601 duration from the task's arrival) or ``dueDateField`` (a date or
  date-time field of the form data; a bare date means the end of that day, UTC);
- ``warnBefore``: the approvers are notified this long before the task is due;
- ``onTimeout``: ``remind`` (default: notification + SMS / WeCom outbox), ``auto-approve``
  (the system completes the task with ``decision=approve``), ``auto-return`` (back to the
  previous step) or ``escalate`` (the task is offered to the role ``escalateTo``; with
  ``escalateMode`` ``add``, the default, the role's users join the original candidates, so the
  original approvers can still act; with ``replace`` the role takes the task over).

The projection stamps ``due_at`` and ``warn_at`` on the task row; the periodic job
``tasks.check_timeouts`` (every minute, once per slot cluster-wide) looks for rows past them.
Each row is claimed with a guarded UPDATE (``warned_at`` / ``timed_out_at`` still empty), so a
task is warned once and timed out once, however many workers run and however often. Every
task is handled in its own transaction; an action that fails is audited and not retried.
"""

import logging
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import delete, insert, select, update
from werkzeug.security import generate_password_hash

from app.audit.services import record
from app.core.models import User, utcnow
from app.core.roles import is_regional
from app.engine.models import ProcessInstance
from app.engine.validation import timeout_settings
from app.extensions import db
from app.jobs.periodic import register_periodic
from app.notify.services import notify, task_candidates
from app.tasks.models import HumanTask, TaskCandidate

log = logging.getLogger(__name__)

SYSTEM_USERNAME = "system"
BATCH = 200
_TASKS = HumanTask.__table__


def system_user() -> User:
    """The account automatic actions are recorded under (cannot sign in)."""
    user = User.by_username(SYSTEM_USERNAME)
    if user is None:
        user = User(username=SYSTEM_USERNAME, display_name="系统 System", active=False,
                    password_hash=generate_password_hash(utcnow().isoformat() + "!"))
        db.session.add(user)
        db.session.flush()
    return user


def node_timeout(instance: ProcessInstance, bpmn_id: str) -> dict:
    """The timeout settings of a node of the instance's process version."""
    from app.engine.services import compiled_for

    proc = compiled_for(instance.process_version_id)
    for spec in [proc.spec, *proc.subprocess_specs.values()]:
        for task_spec in (spec.task_specs.values() if spec is not None else ()):
            if getattr(task_spec, "bpmn_id", None) == bpmn_id and \
                    getattr(task_spec, "extensions", None) is not None:
                return timeout_settings(task_spec)
    return {}


def _claim(task_id: int, column: str, now: datetime) -> bool:
    """Stamp ``column`` on an open row where it is still empty; False if someone was first."""
    done = db.session.execute(update(_TASKS).where(
        _TASKS.c.id == task_id, _TASKS.c.status == "open", _TASKS.c[column].is_(None))
        .values({column: now}))
    return done.rowcount == 1


def _label(task: HumanTask) -> str:
    return f"{task.name or task.bpmn_id} — {task.title or f'#{task.instance_id}'}"


def _audit(event: str, task: HumanTask, **details) -> None:
    record(SYSTEM_USERNAME, event, target_type="task", target_id=task.id,
           instance_id=task.instance_id, task_id=task.id, process_key=task.process_key,
           details={"bpmn_id": task.bpmn_id, **details})


def _warn(task: HumanTask) -> None:
    due = task.due_at.isoformat(sep=" ", timespec="minutes") if task.due_at else ""
    notify(task_candidates(task), "task.due_soon", f"即将超时 Due soon: {_label(task)}",
           f"Due {due} UTC", link=f"/tasks/{task.id}", instance_id=task.instance_id,
           task_id=task.id, channels=("inbox", "wecom"))
    _audit("task.due_warning", task, due_at=due)


def _remind(task: HumanTask) -> dict:
    people = task_candidates(task)
    notify(people, "task.overdue", f"已超时 Overdue: {_label(task)}",
           "This task is past its due time.", link=f"/tasks/{task.id}",
           instance_id=task.instance_id, task_id=task.id, channels=("inbox", "sms", "wecom"))
    return {"reminded": [u.username for u in people]}


def _auto_approve(task: HumanTask) -> dict:
    from app.forms.setup import form_registry
    from app.tasks.services import finish_engine_task

    cleaned = {}
    if task.form_key and form_registry().has(task.form_key):
        cleaned = dict.fromkeys(form_registry().get(task.form_key).field_names)
    cleaned |= {"decision": "approve", "comment": "超时自动通过 Approved automatically: overdue"}
    finish_engine_task(task, system_user(), cleaned)
    return {"decision": "approve"}


def _auto_return(task: HumanTask) -> dict:
    from app.tasks.operations import return_held

    _instance, target = return_held(task, system_user(), "previous",
                                    "超时自动退回 Returned automatically: overdue", [])
    return {"returned_to": target}


def _candidate_names(task: HumanTask) -> list[str]:
    """The users who are candidates of the task in their own right (claim left aside)."""
    unclaimed = SimpleNamespace(assignee_id=None, candidate_roles=task.candidate_roles,
                                candidate_users=task.candidate_users,
                                scope_region=task.scope_region)
    return [u.username for u in task_candidates(unclaimed)]


def _added_candidates(task: HumanTask, role: str) -> tuple[str, str, str | None] | None:
    """(roles, users, region scope) with ``role`` joining the task's candidates; None when the
    original candidates cannot be kept alongside it."""
    roles = [r for r in task.candidate_roles.split(",") if r]
    users = [u for u in task.candidate_users.split(",") if u]
    scope = task.scope_region
    if scope and not is_regional(role):
        # A region-wide role cannot share a regional scope: the original candidates are kept
        # by name and the scope dropped, so only they and the role's users see the task.
        roles, users, scope = [], _candidate_names(task), None
    if role not in roles:
        roles.append(role)
    joined_roles, joined_users = ",".join(roles), ",".join(users)
    if len(joined_roles) > 255 or len(joined_users) > 255:
        return None
    return joined_roles, joined_users, scope


def _escalate(task: HumanTask, role: str, mode: str = "add") -> dict:
    """Offer the task to ``role``: besides its candidates (``add``) or instead (``replace``).

    The claim is released either way, so the escalated role's users can take the task.
    """
    added = _added_candidates(task, role) if mode == "add" else None
    if added is None:
        mode = "replace"
        added = (role, "", task.scope_region if is_regional(role) else None)
    roles, users, scope = added
    db.session.execute(update(_TASKS).where(_TASKS.c.id == task.id).values(
        candidate_roles=roles, candidate_users=users, scope_region=scope, assignee_id=None,
        claimed_at=None, owner_id=None, delegation=None, proxied_for_id=None))
    db.session.execute(delete(TaskCandidate.__table__).where(
        TaskCandidate.__table__.c.task_id == task.id))
    now = utcnow()
    rows = [{"task_id": task.id, "kind": "role", "value": r, "created_at": now}
            for r in roles.split(",") if r]
    rows += [{"task_id": task.id, "kind": "user", "value": u, "created_at": now}
             for u in users.split(",") if u]
    db.session.execute(insert(TaskCandidate.__table__), rows)
    db.session.refresh(task)
    people = [u for u in task_candidates(task) if u.has_role(role)]
    notify(people, "task.escalated", f"超时升级 Escalated to you: {_label(task)}",
           "The previous approvers did not act in time.", link=f"/tasks/{task.id}",
           instance_id=task.instance_id, task_id=task.id, channels=("inbox", "sms", "wecom"))
    return {"escalated_to": role, "mode": mode, "notified": [u.username for u in people]}


def _act(task: HumanTask, cfg: dict) -> dict:
    action = cfg.get("onTimeout") or "remind"
    if action == "auto-approve":
        return _auto_approve(task)
    if action == "auto-return":
        return _auto_return(task)
    if action == "escalate":
        return _escalate(task, cfg["escalateTo"], cfg.get("escalateMode") or "add")
    return _remind(task)


def _due_ids(column: str, done_column: str, now: datetime) -> list[int]:
    ids = db.session.scalars(select(HumanTask.id).where(
        HumanTask.status == "open", HumanTask.__table__.c[column] <= now,
        HumanTask.__table__.c[done_column].is_(None))
        .order_by(HumanTask.__table__.c[column], HumanTask.id).limit(BATCH)).all()
    db.session.rollback()
    return ids


def _timeout_one(task_id: int, now: datetime) -> str | None:
    """Apply the node's timeout action to one task, in its own transaction."""
    if not _claim(task_id, "timed_out_at", now):
        db.session.rollback()
        return None
    task = db.session.get(HumanTask, task_id)
    instance = db.session.get(ProcessInstance, task.instance_id)
    cfg = node_timeout(instance, task.bpmn_id) if instance.status == "running" else {}
    if not cfg or task.kind != "engine":
        db.session.commit()  # a plain due date (or an added signer): nothing to do
        return None
    action = cfg.get("onTimeout") or "remind"
    try:
        details = _act(task, cfg)
    except Exception as exc:  # noqa: BLE001 - audited and not retried; the others go on
        db.session.rollback()
        _claim(task_id, "timed_out_at", now)
        task = db.session.get(HumanTask, task_id)
        _audit("task.timeout_failed", task, action=action, error=str(exc)[:500])
        db.session.commit()
        log.warning("timeout action %s failed on task %s: %s", action, task_id, exc)
        return f"{action}:failed"
    _audit("task.timed_out", task, action=action, **details)
    db.session.commit()
    return action


def check_timeouts(now: datetime | None = None) -> dict:
    """Warn tasks past ``warn_at`` and time out tasks past ``due_at`` (each once)."""
    now = now or utcnow()
    warned = 0
    for task_id in _due_ids("warn_at", "warned_at", now):
        if _claim(task_id, "warned_at", now):
            _warn(db.session.get(HumanTask, task_id))
            warned += 1
        db.session.commit()
    actions: dict[str, int] = {}
    for task_id in _due_ids("due_at", "timed_out_at", now):
        action = _timeout_one(task_id, now)
        if action:
            actions[action] = actions.get(action, 0) + 1
    return {"warned": warned, "timed_out": actions}


register_periodic("tasks.check_timeouts", every=timedelta(minutes=1),
                  func=check_timeouts,
                  description="Warn approvers of tasks due soon; apply each node's onTimeout")
