"""Notifications (in-app inbox) and the outbox of SMS / WeCom / e-signature messages."""

from collections.abc import Iterable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from datetime import timedelta
from uuid import uuid4

import orjson
from flask import current_app
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import make_transient_to_detached

from app.audit.services import record
from app.core import sql
from app.core.errors import NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.extensions import db
from app.notify.models import Notification, OutboxMessage
from connectors import notify as gateways

CHANNELS = ("inbox", "sms", "wecom")
OUTBOX_CHANNELS = ("sms", "esign", "wecom")
OUTBOX_STATUSES = ("queued", "sent", "failed")
PAGE = 50


def _users(recipients: Iterable) -> list[User]:
    out, seen, names = [], set(), []
    for r in recipients:
        if isinstance(r, str):
            names.append(r)
        elif r is not None and r.id not in seen:
            seen.add(r.id)
            out.append(r)
    if names:
        for user in db.session.scalars(select(User).where(User.username.in_(names))):
            if user.id not in seen:
                seen.add(user.id)
                out.append(user)
    return [u for u in out if u.active]


_NOTIFICATION_COLUMNS = tuple(c.key for c in Notification.__table__.columns if c.key != "id")
_INSERT_NOTIFICATION = sql.prepared(
    insert(Notification.__table__).values({k: bindparam(k) for k in _NOTIFICATION_COLUMNS})
    .returning(Notification.__table__.c.id))


_INSERT_NOTIFICATIONS = (insert(Notification.__table__)
                         .returning(Notification.__table__.c.id, sort_by_parameter_order=True))
_held: ContextVar[list | None] = ContextVar("held_notifications", default=None)


def _write_notification(n: Notification) -> None:
    """INSERT one notification without an ORM flush; it joins the session as persistent.

    Notifications go out with nearly every engine step (an instance completed by the worker,
    a task assigned): one prepared statement instead of a unit-of-work flush each. Inside
    ``held()`` the row waits for ``write_held`` instead (its id is set then).
    """
    n.created_at = utcnow()
    n.body = n.body or ""
    pending = _held.get()
    if pending is not None:
        pending.append(n)
        return
    n.id = sql.execute(_INSERT_NOTIFICATION,
                       {k: getattr(n, k) for k in _NOTIFICATION_COLUMNS}).scalar_one()
    make_transient_to_detached(n)
    db.session.add(n)


def held() -> AbstractContextManager[list]:
    """Hold the inbox notifications written in this block (this thread) in the yielded list,
    for the caller to insert with ``write_held`` in the same transaction: the worker applies
    a batch of job results with one insert of the notifications they cause."""
    return sql.holding(_held)


def write_held(pending: list) -> None:
    """Insert held notifications in the caller's transaction (one statement); each gets its id
    and joins the session as persistent."""
    if not pending:
        return
    ids = db.session.execute(_INSERT_NOTIFICATIONS,
                             [{k: getattr(n, k) for k in _NOTIFICATION_COLUMNS}
                              for n in pending]).scalars().all()
    for n, new_id in zip(pending, ids, strict=True):
        n.id = new_id
        make_transient_to_detached(n)
        db.session.add(n)
    pending.clear()


def notify(recipients, kind: str, title: str, body: str = "", link: str | None = None,
           instance_id: int | None = None, task_id: int | None = None,
           channels: Iterable[str] = ("inbox",), actor: str = "system") -> list[Notification]:
    """Notify users (usernames, ``User`` objects or rows with their ``id``, ``username``,
    ``active`` and ``phone``) in the caller's transaction.

    ``inbox`` writes one notification per user; ``sms`` and ``wecom`` queue an outbox
    message per user with a mobile number (users without one are skipped). Returns the
    notifications written.
    """
    channels = tuple(channels)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ValueError(f"Unknown notification channel(s): {', '.join(unknown)}")
    users = _users(recipients)
    written = []
    for user in users:
        if "inbox" in channels:
            n = Notification(recipient_id=user.id, kind=kind, title=title[:255], body=body,
                             link=link, instance_id=instance_id, task_id=task_id)
            _write_notification(n)
            written.append(n)
        text = f"{title}" + (f"：{body}" if body else "")
        for channel in ("sms", "wecom"):
            if channel not in channels:
                continue
            target = user.phone if channel == "sms" else user.username
            if target:
                queue_message(channel, target, {"text": text, "kind": kind, "link": link},
                              instance_id=instance_id)
    db.session.flush()
    if users:
        record(actor, "notification.sent", target_type="notification",
               instance_id=instance_id, task_id=task_id,
               details={"kind": kind, "to": [u.username for u in users],
                        "channels": list(channels)})
    return written


def task_candidates(task) -> list[User]:
    """Who may act on a human task now: its assignee, else its candidates within scope."""
    if task.assignee_id is not None:
        user = db.session.get(User, task.assignee_id)
        return [user] if user is not None and user.active else []
    roles = set(filter(None, (task.candidate_roles or "").split(",")))
    names = set(filter(None, (task.candidate_users or "").split(",")))
    clauses = [User.username.in_(names)] if names else []
    clauses += [User.roles_csv.contains(role) for role in roles]
    if not clauses:
        return []
    out = []
    for user in db.session.scalars(select(User).where(User.active.is_(True), or_(*clauses))
                                   .order_by(User.id)):
        if user.username in names:
            out.append(user)
        elif roles & set(user.roles) and (not task.scope_region
                                           or user.region == task.scope_region):
            out.append(user)
    return out


def notify_task_candidates(task, kind: str, title: str, body: str = "",
                           channels: Iterable[str] = ("inbox",),
                           actor: str = "system") -> list[Notification]:
    """Notify everyone who may act on ``task`` (role + region scope, as the inbox does)."""
    return notify(task_candidates(task), kind, title, body, link=f"/tasks/{task.id}",
                  instance_id=task.instance_id, task_id=task.id, channels=channels,
                  actor=actor)


def list_notifications(user, unread_only: bool = False, limit: int = PAGE,
                       before_id: int | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.recipient_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before_id:
        stmt = stmt.where(Notification.id < before_id)
    return db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)).all()


def unread_count(user) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(notification_id: int, user) -> Notification:
    """Mark one of the user's notifications read (idempotent); others' answer 404."""
    n = db.session.get(Notification, notification_id)
    if n is None or n.recipient_id != user.id:
        raise NotFound(f"Notification {notification_id} not found")
    if n.read_at is None:
        n.read_at = utcnow()
        record(user.username, "notification.read", target_type="notification", target_id=n.id)
    return n


def mark_all_read(user) -> int:
    done = db.session.execute(update(Notification).where(
        Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow()))
    if done.rowcount:
        record(user.username, "notification.read_all", target_type="user", target_id=user.id,
               details={"count": done.rowcount})
    return done.rowcount


_OUTCOMES = {"approved": "已通过 approved", "rejected": "已拒绝 rejected",
             "cancelled": "已撤销 cancelled"}


_USERS = User.__table__
_RECIPIENT = sql.prepared(select(_USERS.c.id, _USERS.c.username, _USERS.c.active, _USERS.c.phone)
                          .where(_USERS.c.id == bindparam("id")))


def _starter(user_id: int):
    """The starter's row, read once per transaction: the worker completes many instances of
    the same starters in one transaction (a batch of results)."""
    session = db.session()
    transaction = session.get_transaction()
    cached = session.info.get("notify_starters")
    if transaction is None or cached is None or cached[0] is not transaction:
        cached = session.info["notify_starters"] = (transaction, {})
    rows = cached[1]
    if user_id not in rows:
        rows[user_id] = sql.execute(_RECIPIENT, {"id": user_id}).first()
    return rows[user_id]


def notify_outcome(instance) -> None:
    """Tell whoever started an instance how it ended (a completion hook of the engine).

    The worker completes most instances: the starter is read as the few columns ``notify``
    uses (one prepared statement, once per transaction), not loaded as an ORM object each time.
    """
    if instance.started_by_id is None:
        return
    starter = _starter(instance.started_by_id)
    if starter is None:
        return
    outcome = _OUTCOMES.get(instance.outcome or "", f"已完成 {instance.outcome or 'completed'}")
    title = f"{instance.title or instance.process_key}: {outcome}"
    notify([starter], f"instance.{instance.outcome or 'completed'}", title,
           instance.outcome_reason or "", link=f"/instances/{instance.id}",
           instance_id=instance.id)


# --- outbox -------------------------------------------------------------------------------

def queue_message(channel: str, recipient: str, payload: dict, instance_id: int | None = None,
                  actor: str = "system") -> OutboxMessage:
    """Queue one outgoing message in the caller's transaction, and its ``notify.deliver`` job
    (the worker sends it, retrying with backoff; an incident when attempts run out)."""
    from app.jobs.services import enqueue

    if channel not in OUTBOX_CHANNELS:
        raise ValueError(f"Unknown outbox channel {channel}")
    msg = OutboxMessage(channel=channel, recipient=recipient[:120], status="queued",
                        payload=orjson.dumps(payload, default=str).decode(),
                        instance_id=instance_id)
    db.session.add(msg)
    db.session.flush()
    msg.job = enqueue("notify.deliver", {"message_id": msg.id, "channel": channel,
                                         "recipient": msg.recipient, "payload": payload},
                      idempotency_key=f"outbox:{msg.id}", instance_id=instance_id)
    record(actor, "outbox.queued", target_type="outbox_message", target_id=msg.id,
           instance_id=instance_id, details={"channel": channel, "recipient": recipient,
                                             "job_id": msg.job.id})
    return msg


def list_outbox(channel: str | None = None, status: str | None = None, limit: int = 200):
    """Outbox messages, newest first; ``status`` is the delivery status (queued / sent /
    failed, i.e. its delivery job is an open incident)."""
    from app.jobs.models import Job

    errors = {}
    if channel and channel not in OUTBOX_CHANNELS:
        errors["channel"] = [f"Must be one of {', '.join(OUTBOX_CHANNELS)}"]
    if status and status not in OUTBOX_STATUSES:
        errors["status"] = [f"Must be one of {', '.join(OUTBOX_STATUSES)}"]
    if errors:
        raise ValidationFailed(errors)
    stmt = select(OutboxMessage).outerjoin(Job, Job.id == OutboxMessage.job_id)
    if channel:
        stmt = stmt.where(OutboxMessage.channel == channel)
    if status == "sent":
        stmt = stmt.where(OutboxMessage.status == "sent")
    elif status == "failed":
        stmt = stmt.where(OutboxMessage.status != "sent", Job.status == "incident")
    elif status == "queued":
        stmt = stmt.where(OutboxMessage.status != "sent",
                          or_(Job.status.is_(None), Job.status != "incident"))
    return db.session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit)).unique().all()


def _gateway(channel: str) -> gateways.Gateway | None:
    cfg = current_app.config
    url = cfg.get(f"{channel.upper()}_URL")
    if not url:
        return None
    return gateways.Gateway(url, cfg.get(f"{channel.upper()}_TOKEN"),
                            float(cfg.get("NOTIFY_TIMEOUT_SECONDS", 5)))


def send(message_id: int, channel: str, recipient: str, payload: dict) -> str:
    """Hand a message to its gateway (the external id); with none configured, the outbox is
    the destination. Raises ``ConnectorError`` when the gateway fails (the job retries)."""
    gateway = _gateway(channel)
    key = f"outbox-{message_id}"
    if gateway is None:
        return f"local-{uuid4().hex[:12]}"
    if channel == "sms":
        return gateways.send_sms(gateway, recipient, payload.get("text", ""), key)
    if channel == "wecom":
        return gateways.send_wecom(gateway, recipient, payload.get("text", ""), key)
    return gateways.send_contract(gateway, payload, key)


def delivered(job, result: dict) -> None:
    """The ``notify.deliver`` job completed: the message is sent (in the job's transaction)."""
    msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.job_id == job.id))
    if msg is None or msg.status == "sent":
        return
    now = utcnow()
    external_id = str(result.get("external_id") or "")
    msg.status, msg.external_id, msg.sent_at = "sent", external_id, now
    if msg.channel == "esign" and external_id.startswith("local-"):
        delay = float(current_app.config["ESIGN_SIGN_DELAY_SECONDS"])
        msg.callback_due_at = now + timedelta(seconds=delay)
    record("worker", "outbox.sent", target_type="outbox_message", target_id=msg.id,
           instance_id=msg.instance_id,
           details={"channel": msg.channel, "external_id": external_id, "job_id": job.id})


def retry_message(msg_id: int, actor: str) -> OutboxMessage:
    """Retry a failed message: its delivery job's incident is retried (due now, fresh
    attempts), exactly as from the incidents page."""
    from app.core.errors import Conflict
    from app.jobs.models import Incident
    from app.jobs.services import retry_incident

    msg = OutboxMessage.get_or_404(msg_id, "Outbox message")
    if msg.delivery_status != "failed":
        raise Conflict(f"Outbox message {msg_id} is {msg.delivery_status}, not failed",
                       code="not_failed")
    incident = db.session.scalar(select(Incident).where(Incident.job_id == msg.job_id,
                                                        Incident.status == "open"))
    if incident is None:
        raise Conflict(f"Outbox message {msg_id} has no open incident", code="not_failed")
    retry_incident(incident.id, actor)
    db.session.refresh(msg.job)
    record(actor, "outbox.retried", target_type="outbox_message", target_id=msg.id,
           instance_id=msg.instance_id, details={"channel": msg.channel,
                                                 "incident_id": incident.id})
    return msg


def sign_embedded_contracts(now=None, limit: int = 50) -> int:
    """The embedded e-signature service: contracts whose signing delay passed are signed,
    and the waiting instance receives ``esign_signed`` (correlation ``contract_id``)."""
    from app.core.errors import AppError
    from app.engine.services import deliver_message

    now = now or utcnow()
    ids = db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.channel == "esign", OutboxMessage.status == "sent",
        OutboxMessage.callback_done_at.is_(None), OutboxMessage.callback_due_at <= now)
        .order_by(OutboxMessage.id).limit(limit)).all()
    db.session.rollback()
    signed = 0
    for msg_id in ids:
        msg = db.session.get(OutboxMessage, msg_id)
        payload = orjson.loads(msg.payload)
        contract_id = payload.get("contract_id")
        result = {"contract_id": contract_id, "signer": msg.recipient,
                  "signed_at": now.isoformat(), "envelope_id": msg.external_id}
        try:
            deliver_message("esign_signed", result, None,
                            correlation={"contract_id": contract_id})
        except AppError as exc:
            db.session.rollback()
            msg = db.session.get(OutboxMessage, msg_id)
            msg.last_error = f"signature callback: {exc.message}"
            if now - msg.sent_at < timedelta(days=1):  # the instance may not wait yet
                msg.callback_due_at = now + timedelta(
                    seconds=max(1.0, float(current_app.config["ESIGN_SIGN_DELAY_SECONDS"])))
                db.session.commit()
                continue
        msg.callback_done_at = now
        db.session.commit()
        signed += 1
    return signed


def worker_tick(now=None) -> int:
    """The worker's outbox round: the embedded signer signs what is due (sending is a job)."""
    return sign_embedded_contracts(now)
