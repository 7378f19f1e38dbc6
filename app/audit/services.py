"""Write and verify the hash-chained audit trail."""

import hashlib
from contextlib import AbstractContextManager
from contextvars import ContextVar
from datetime import datetime
from types import SimpleNamespace

import orjson
from sqlalchemy import bindparam, insert, select, text

from app.audit.models import AuditEvent
from app.core import sql
from app.core.models import utcnow
from app.extensions import db

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x0DEA1F10


def _canonical(event: dict) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS, default=str)


def compute_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + _canonical(fields)).hexdigest()


def _fields(ev) -> dict:
    return {"at": ev.at.isoformat(timespec="microseconds"), "actor": ev.actor,
            "action": ev.action, "target_type": ev.target_type, "target_id": ev.target_id,
            "instance_id": ev.instance_id, "task_id": ev.task_id,
            "process_key": ev.process_key, "dealer_id": ev.dealer_id, "details": ev.details}


_LAST_HASH = sql.prepared(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
_COLUMNS = ("at", "actor", "action", "target_type", "target_id", "instance_id", "task_id",
            "process_key", "dealer_id", "details", "prev_hash", "hash")
_INSERT = sql.prepared(insert(AuditEvent.__table__).values({k: bindparam(k) for k in _COLUMNS}))


def _last_hash() -> str:
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        # Serialise chain appends cluster-wide; released at commit/rollback.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    return sql.execute(_LAST_HASH).scalar() or GENESIS


_queued: ContextVar[list | None] = ContextVar("queued_audit_events", default=None)


def queued() -> AbstractContextManager[list]:
    """Queue the events ``record`` makes in this block (this thread) in the yielded list.

    The caller appends them with ``write_queued`` just before it commits: on PostgreSQL the
    chain's lock is then held from that one insert to the commit, not from the first event of
    a long transaction (the worker applies job results this way). Events of a block that
    raises are dropped with the list, like the writes the caller rolls back.
    """
    return sql.holding(_queued)


def write_queued(events: list) -> None:
    """Append queued events to the chain, in order, in the caller's transaction (one INSERT)."""
    if not events:
        return
    prev, rows = _last_hash(), []
    for values in events:
        digest = compute_hash(prev, _fields(values))
        rows.append({**vars(values), "prev_hash": prev, "hash": digest})
        prev = digest
    sql.execute(_INSERT, rows)
    events.clear()


def record(actor: str, action: str, *, target_type: str = "", target_id=None,
           instance_id: int | None = None, task_id: int | None = None,
           process_key: str | None = None, dealer_id: int | None = None,
           details: dict | None = None, at: datetime | None = None) -> str | None:
    """Append one event to the chain in the caller's transaction; return its hash.

    Inside ``queued()`` the event is queued instead (written by ``write_queued``): None.
    """
    values = SimpleNamespace(
        at=at or utcnow(), actor=actor or "system", action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id), instance_id=instance_id,
        task_id=task_id, process_key=process_key, dealer_id=dealer_id,
        details=orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS, default=str).decode())
    pending = _queued.get()
    if pending is not None:
        pending.append(values)
        return None
    fields = _fields(values)
    prev = _last_hash()
    digest = compute_hash(prev, fields)
    sql.execute(_INSERT, {**vars(values), "prev_hash": prev, "hash": digest})
    return digest


def verify_chain(batch: int = 5000) -> tuple[int, AuditEvent | None, str]:
    """Recompute the chain; return (events checked, first broken event or None, reason)."""
    prev, count, last_id = GENESIS, 0, 0
    while True:
        rows = db.session.execute(select(*AuditEvent.__table__.columns)
                                  .where(AuditEvent.id > last_id)
                                  .order_by(AuditEvent.id).limit(batch)).all()
        if not rows:
            return count, None, ""
        for ev in rows:
            if ev.prev_hash != prev:
                return count, ev, "prev_hash does not match the previous event (event removed or reordered)"
            if compute_hash(prev, _fields(ev)) != ev.hash:
                return count, ev, "content does not match its hash (event altered)"
            prev, count, last_id = ev.hash, count + 1, ev.id


def query_events(*, instance_id=None, actor=None, action=None, since=None, until=None,
                 process_key=None, dealer_id=None, limit: int = 200, before_id=None):
    stmt = select(AuditEvent)
    for col, value in ((AuditEvent.instance_id, instance_id), (AuditEvent.actor, actor),
                       (AuditEvent.action, action), (AuditEvent.process_key, process_key),
                       (AuditEvent.dealer_id, dealer_id)):
        if value not in (None, ""):
            stmt = stmt.where(col == value)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at <= until)
    if before_id:
        stmt = stmt.where(AuditEvent.id < before_id)
    return db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)).all()
