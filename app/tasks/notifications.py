"""Who hears about an approval operation: one place for the notifications the task operations
send (through ``app.notify``), each in the operation's transaction.

- transfer / delegate: the user the task now belongs to; resolve: the owner it returns to;
- add signers: each added signer whose task is open now (queued ones when their turn comes);
- return: the initiator, with the reason;
- CC (per node and ad hoc): each CC'd user;
- proxy: the proxy, when a task of someone away is redirected to them.

The initiator hears about the final outcome (approved / rejected / withdrawn) through the
completion hook of ``app.notify``.
"""

from app.core.models import User
from app.engine.models import ProcessInstance
from app.extensions import db
from app.notify.services import notify
from app.tasks.models import HumanTask

CHANNELS = ("inbox", "wecom")


def _label(task: HumanTask) -> str:
    return task.name or task.bpmn_id or f"#{task.id}"


def _subject(task: HumanTask) -> str:
    return task.title or f"#{task.instance_id}"


def _to_task(users, kind: str, title: str, task: HumanTask, body: str | None, by: User | None):
    notify([u for u in users if u is not None and (by is None or u.id != by.id)], kind, title,
           body or "", link=f"/tasks/{task.id}", instance_id=task.instance_id, task_id=task.id,
           channels=CHANNELS, actor=by.username if by else "system")


def transferred(new_task: HumanTask, by: User, comment: str | None) -> None:
    title = f"转交给您 Transferred to you: {_label(new_task)} — {_subject(new_task)}"
    _to_task([db.session.get(User, new_task.assignee_id)], "task.transferred", title, new_task,
             comment, by)


def delegated(task: HumanTask, by: User, comment: str | None) -> None:
    title = f"委托给您 Delegated to you: {_label(task)} — {_subject(task)}"
    _to_task([db.session.get(User, task.assignee_id)], "task.delegated", title, task, comment, by)


def resolved(task: HumanTask, by: User, comment: str | None) -> None:
    title = f"委托已完成 Delegation resolved: {_label(task)} — {_subject(task)}"
    _to_task([db.session.get(User, task.assignee_id)], "task.resolved", title, task, comment, by)


def signers_added(rows: list[HumanTask], by: User, comment: str | None) -> None:
    for row in rows:
        signer_activated(row, by, comment)


def signer_activated(row: HumanTask, by: User | None = None, comment: str | None = None) -> None:
    if row.status != "open":
        return
    title = f"加签 You were added as a signer: {_label(row)} — {_subject(row)}"
    _to_task([db.session.get(User, row.assignee_id)], "task.signer", title, row, comment, by)


def returned(instance: ProcessInstance, task: HumanTask, by: User, comment: str | None,
             to: str) -> None:
    title = f"已退回 Returned: {instance.title or f'#{instance.id}'} ({_label(task)})"
    notify([db.session.get(User, instance.started_by_id)] if instance.started_by_id != by.id
           else [], "instance.returned", title, comment or "", link=f"/instances/{instance.id}",
           instance_id=instance.id, task_id=task.id, channels=CHANNELS, actor=by.username)


def cc(instance: ProcessInstance, task_id: int | None, users: list[User], by: User | None,
       comment: str | None) -> None:
    title = f"抄送 CC: {instance.title or f'#{instance.id}'}"
    notify(users, "cc", title, comment or "", link=f"/instances/{instance.id}",
           instance_id=instance.id, task_id=task_id, channels=CHANNELS,
           actor=by.username if by else "system")


def proxied(rows: list[dict], ids: list[int]) -> None:
    """Tell each proxy about the tasks just redirected to them by the projection."""
    for row, task_id in zip(rows, ids, strict=True):
        if not row.get("proxied_for_id"):
            continue
        away = db.session.get(User, row["proxied_for_id"])
        title = (f"代理 Proxy task for {away.display_name or away.username}: "
                 f"{row.get('name') or row.get('bpmn_id')} — {row.get('title') or ''}").rstrip()
        notify([db.session.get(User, row["assignee_id"])], "task.proxied", title,
               link=f"/tasks/{task_id}", instance_id=row.get("instance_id"), task_id=task_id,
               channels=CHANNELS)
