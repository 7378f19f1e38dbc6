"""The dealer credit cache: each dealer's last ERP credit status, and its age.

Every live read refreshes it (``remember``): the order credit check, the dealer's credit
figures (``GET /api/v1/credit``, the portal) and the master-data sync. While the ERP is down
those figures are shown "as of" their fetch time; the order credit check uses them only when
they are younger than ``ERP_CREDIT_CACHE_MAX_AGE_SECONDS`` (``fresh_figures``), else its
ERP read retries and ends in an incident as before.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app.core import web
from app.core.models import utcnow
from app.dealers.models import Dealer
from app.erp.models import DealerCreditCache
from app.extensions import db

FIGURES = ("credit_limit", "open_orders", "open_deliveries", "open_billing", "receivables",
           "total_exposure", "available")


def remember(dealer_id: int, status: dict, fetched_at: datetime | None = None) -> DealerCreditCache:
    """Store an ``erp.get_credit_status`` answer as the dealer's cached credit status."""
    row = db.session.scalar(select(DealerCreditCache)
                            .where(DealerCreditCache.dealer_id == dealer_id))
    if row is None:
        row = DealerCreditCache(dealer_id=dealer_id)
        db.session.add(row)
    row.customer_number = str(status["customer_number"])[:10]
    row.credit_control_area = status.get("credit_control_area")
    row.currency = status.get("currency") or "CNY"
    for name in FIGURES:
        setattr(row, name, Decimal(str(status.get(name) or "0")))
    row.fetched_at = fetched_at or utcnow()
    db.session.flush()
    return row


def _values(dealer_id: int, status: dict, fetched_at: datetime) -> dict:
    return {"dealer_id": dealer_id, "customer_number": str(status["customer_number"])[:10],
            "credit_control_area": status.get("credit_control_area"),
            "currency": status.get("currency") or "CNY", "fetched_at": fetched_at,
            **{name: Decimal(str(status.get(name) or "0")) for name in FIGURES}}


def remember_now(dealer_id: int, status: dict) -> datetime:
    """``remember`` in its own short transaction (a page or API read: no write of its own).

    A reader's transaction must not turn into a writer (SQLite refuses that once another
    connection, e.g. the ERP message log, has written meanwhile); the cache row is not part of
    the reader's work anyway.
    """
    now = utcnow()
    values = _values(dealer_id, status, now)
    table = DealerCreditCache.__table__
    try:
        with db.engine.begin() as conn:
            done = conn.execute(update(table).where(table.c.dealer_id == dealer_id)
                                .values(**values))
            if done.rowcount == 0:
                conn.execute(insert(table).values(created_at=now, **values))
    except IntegrityError:
        pass  # another reader stored the same dealer's figures at the same moment
    return now


def cached(dealer_id: int) -> DealerCreditCache | None:
    return db.session.scalar(select(DealerCreditCache)
                             .where(DealerCreditCache.dealer_id == dealer_id))


def as_status(row: DealerCreditCache) -> dict:
    """A cached row in the shape of an ``erp.get_credit_status`` answer, marked as cached."""
    return {"customer_number": row.customer_number,
            "credit_control_area": row.credit_control_area, "currency": row.currency,
            **{name: str(getattr(row, name)) for name in FIGURES},
            "source": "cache", "fetched_at": row.fetched_at.isoformat()}


def max_age() -> timedelta:
    return timedelta(seconds=float(current_app.config["ERP_CREDIT_CACHE_MAX_AGE_SECONDS"]))


def fresh_figures(customer_number: str, now: datetime | None = None) -> dict | None:
    """The cached status of the dealer with this ERP customer number when it is younger
    than the configured maximum age (0 disables the cache for the credit check), else None."""
    limit = max_age()
    if limit <= timedelta(0):
        return None
    # Read-only (in a worker's pool thread): a plain BEGIN, never SQLite's write lock.
    token = web.write_intent.set(False)
    try:
        row = db.session.scalar(
            select(DealerCreditCache).join(Dealer, Dealer.id == DealerCreditCache.dealer_id)
            .where(Dealer.erp_customer_no == customer_number))
        status = as_status(row) if row is not None else None
        db.session.rollback()
    finally:
        web.write_intent.reset(token)
    if status is None or (now or utcnow()) - datetime.fromisoformat(status["fetched_at"]) > limit:
        return None
    return status


def dealer_id_for(customer_number: str) -> int | None:
    return db.session.scalar(select(Dealer.id).where(Dealer.erp_customer_no == customer_number))
