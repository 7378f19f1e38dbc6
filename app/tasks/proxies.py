"""代理 proxy while away: a user (or an admin for them) names a proxy, a period and optionally
the processes it covers. Tasks assigned to the user while it runs go to the proxy instead,
marked as proxied (``human_task.proxied_for_id``); it expires by itself at ``ends_at``.
Pending tasks can be moved along when the proxy is set and recalled when it is revoked.

Group tasks (offered to a role or to named users) stay where they are, but while the proxy
runs the proxy sees and may claim the ones the away user could claim (in the group inbox,
marked as proxied); a group task claimed that way carries ``proxied_for_id`` like a moved one
and is recalled with the proxy.
"""

from datetime import datetime

from sqlalchemy import bindparam, or_, select

from app.audit.services import record
from app.core import sql
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.extensions import db
from app.tasks.models import HumanTask, TaskProxy

NOT_STAFF = {"dealer", "applicant"}


def _covers(proxy: TaskProxy, process_key: str) -> bool:
    keys = [k for k in proxy.process_keys.split(",") if k]
    return not keys or process_key in keys


def active_for(user_ids, when: datetime | None = None) -> list[TaskProxy]:
    when = when or utcnow()
    ids = [i for i in set(user_ids) if i]
    if not ids:
        return []
    return db.session.scalars(select(TaskProxy).where(
        TaskProxy.user_id.in_(ids), TaskProxy.revoked_at.is_(None),
        TaskProxy.starts_at <= when, TaskProxy.ends_at > when).order_by(TaskProxy.id)).all()


def away_principals(user: User, when: datetime | None = None) -> list[tuple[User, TaskProxy]]:
    """The people ``user`` currently stands in for, each with the proxy that says so."""
    when = when or utcnow()
    rows = db.session.execute(select(User, TaskProxy).join(TaskProxy, TaskProxy.user_id == User.id)
                              .where(TaskProxy.proxy_id == user.id, TaskProxy.ends_at > when,
                                     TaskProxy.revoked_at.is_(None),
                                     TaskProxy.starts_at <= when, User.active.is_(True))
                              .order_by(TaskProxy.id)).all()
    return [(away, proxy) for away, proxy in rows]


_STANDS_IN = sql.prepared(
    select(TaskProxy.__table__.c.id)
    .join(User.__table__, User.__table__.c.id == TaskProxy.__table__.c.user_id)
    .where(TaskProxy.__table__.c.proxy_id == bindparam("proxy_id"),
           TaskProxy.__table__.c.ends_at > bindparam("now"),
           TaskProxy.__table__.c.revoked_at.is_(None),
           TaskProxy.__table__.c.starts_at <= bindparam("now2"),
           User.__table__.c.active.is_(True))
    .limit(1))


def stands_in(user: User, when: datetime | None = None) -> bool:
    """Whether ``user`` is anyone's proxy right now (one indexed probe, no ORM load)."""
    when = when or utcnow()
    return sql.execute(_STANDS_IN, {"proxy_id": user.id, "now": when, "now2": when}
                       ).first() is not None


def principal_for(task: HumanTask, user: User) -> User | None:
    """Someone away whose group task ``task`` is, and for whom ``user`` is the proxy."""
    from app.tasks.services import is_direct_candidate

    if task.status != "open" or task.assignee_id is not None:
        return None
    for away, proxy in away_principals(user):
        if _covers(proxy, task.process_key) and is_direct_candidate(task, away):
            return away
    return None


def redirect_rows(rows: list[dict]) -> None:
    """Projection hook: open rows assigned to someone who is away go to their proxy."""
    assigned = [r for r in rows if r.get("assignee_id") and r.get("status") == "open"]
    if not assigned:
        return
    proxies = active_for(r["assignee_id"] for r in assigned)
    if not proxies:
        return
    for row in assigned:
        match = next((p for p in proxies if p.user_id == row["assignee_id"]
                      and _covers(p, row["process_key"])), None)
        if match is not None:
            row["proxied_for_id"], row["assignee_id"] = row["assignee_id"], match.proxy_id


def list_proxies(user: User) -> list[TaskProxy]:
    stmt = select(TaskProxy)
    if not user.has_role("admin"):
        stmt = stmt.where(or_(TaskProxy.user_id == user.id, TaskProxy.proxy_id == user.id))
    return db.session.scalars(stmt.order_by(TaskProxy.id.desc()).limit(200)).all()


def set_proxy(actor: User, proxy_name: str, starts_at: datetime | None, ends_at: datetime,
              process_keys: list[str] | None = None, for_user: str | None = None,
              move_pending: bool = False) -> TaskProxy:
    errors = {}
    principal = actor
    if for_user and for_user != actor.username:
        if not actor.has_role("admin"):
            raise Forbidden("Only an administrator can set a proxy for someone else")
        principal = User.by_username(for_user)
        if principal is None:
            errors["user"] = [f"Unknown user '{for_user}'"]
    proxy = User.by_username(proxy_name or "")
    if proxy is None or not proxy.active:
        errors["proxy"] = [f"Unknown user '{proxy_name}'"]
    elif principal is not None and proxy.id == principal.id:
        errors["proxy"] = ["A user cannot be their own proxy"]
    elif not set(proxy.roles) - NOT_STAFF:
        errors["proxy"] = [f"{proxy.username} cannot approve tasks"]
    starts_at = starts_at or utcnow()
    if ends_at <= starts_at:
        errors["ends_at"] = ["Must be after the start"]
    if errors:
        raise ValidationFailed(errors)
    overlapping = db.session.scalar(select(TaskProxy).where(
        TaskProxy.user_id == principal.id, TaskProxy.revoked_at.is_(None),
        TaskProxy.starts_at < ends_at, TaskProxy.ends_at > starts_at).limit(1))
    if overlapping is not None:
        raise Conflict("A proxy is already set for this period; revoke it first",
                       code="proxy_overlaps")
    row = TaskProxy(user_id=principal.id, proxy_id=proxy.id, starts_at=starts_at,
                    ends_at=ends_at, process_keys=",".join(process_keys or []),
                    created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    moved = _move_pending(row) if move_pending and starts_at <= utcnow() else []
    record(actor.username, "proxy.set", target_type="task_proxy", target_id=row.id,
           details={"user": principal.username, "proxy": proxy.username,
                    "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                    "processes": process_keys or [], "moved_task_ids": moved})
    row.moved = moved
    return row


def _move_pending(proxy: TaskProxy) -> list[int]:
    tasks = db.session.scalars(select(HumanTask).where(
        HumanTask.assignee_id == proxy.user_id, HumanTask.status == "open",
        HumanTask.delegation.is_(None))).all()
    moved = []
    for task in tasks:
        if _covers(proxy, task.process_key):
            task.proxied_for_id, task.assignee_id = proxy.user_id, proxy.proxy_id
            moved.append(task.id)
    return moved


def revoke(actor: User, proxy_id: int, recall: bool = False) -> TaskProxy:
    """End a proxy now; with ``recall`` its open proxied tasks go back to the user."""
    row = db.session.get(TaskProxy, proxy_id)
    if row is None or not (actor.has_role("admin") or row.user_id == actor.id):
        raise NotFound(f"Proxy {proxy_id} not found")
    if row.revoked_at is not None:
        raise Conflict("This proxy is already revoked", code="proxy_revoked")
    row.revoked_at = utcnow()
    recalled = []
    if recall:
        tasks = db.session.scalars(select(HumanTask).where(
            HumanTask.proxied_for_id == row.user_id, HumanTask.assignee_id == row.proxy_id,
            HumanTask.status == "open")).all()
        for task in tasks:
            task.assignee_id, task.proxied_for_id = row.user_id, None
            recalled.append(task.id)
    record(actor.username, "proxy.revoked", target_type="task_proxy", target_id=row.id,
           details={"recalled_task_ids": recalled})
    row.moved = recalled
    return row
