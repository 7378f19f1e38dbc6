"""Writing and reading the ERP message log."""

import orjson
from sqlalchemy import insert, select

from app.core.models import utcnow
from app.erp.models import ErpMessage
from app.extensions import db
from app.jobs.deferred import defer_insert
from connectors.erp.soap import Exchange


def log_exchange(exchange: Exchange, *, operation: str, idempotency_key: str | None = None,
                 instance_id: int | None = None) -> None:
    """Store one (already redacted) exchange in its own transaction.

    The log survives when the job's transaction rolls back (a failed call is worth keeping).
    Inside a worker's pool thread the row is handed to the worker instead, which writes it in
    the transaction that records the call's outcome (see ``app.jobs.deferred``).
    """
    values = {"created_at": utcnow(), "operation": operation, "function": exchange.function,
              "url": exchange.url[:500], "idempotency_key": idempotency_key,
              "instance_id": instance_id, "outcome": exchange.outcome,
              "http_status": exchange.http_status, "duration_ms": round(exchange.duration_ms),
              "request_headers": orjson.dumps(exchange.request_headers).decode(),
              "request_xml": exchange.request_xml, "response_xml": exchange.response_xml,
              "error": exchange.error}
    if defer_insert(ErpMessage.__table__, values):
        return  # a worker call: the worker writes it with the job's outcome
    with db.engine.begin() as conn:
        conn.execute(insert(ErpMessage).values(**values))


def list_messages(limit: int = 100, idempotency_key: str | None = None,
                  instance_id: int | None = None, outcome: str | None = None,
                  before_id: int | None = None) -> list[ErpMessage]:
    """The newest logged exchanges first, filtered by key, instance or outcome."""
    stmt = select(ErpMessage)
    for column, value in ((ErpMessage.idempotency_key, idempotency_key),
                          (ErpMessage.instance_id, instance_id), (ErpMessage.outcome, outcome)):
        if value:
            stmt = stmt.where(column == value)
    if before_id:
        stmt = stmt.where(ErpMessage.id < before_id)
    return list(db.session.scalars(stmt.order_by(ErpMessage.id.desc()).limit(limit)))
