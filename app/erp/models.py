"""The ERP message log (every SOAP envelope pair, secrets redacted) and the dealer credit cache."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model


class ErpMessage(Model):
    __tablename__ = "erp_message"
    operation: Mapped[str] = mapped_column(String(100), nullable=False)  # e.g. erp.create_customer
    function: Mapped[str] = mapped_column(String(60), nullable=False)  # the BAPI
    url: Mapped[str] = mapped_column(String(500), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)  # ok|business_error|technical_error
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    request_headers: Mapped[str] = mapped_column(Text, default="{}")
    request_xml: Mapped[str] = mapped_column(Text, default="")
    response_xml: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)


class DealerCreditCache(Model):
    """The last credit status the ERP gave for a dealer (BAPI_CREDIT_ACCOUNT_GET_STATUS).

    Refreshed by every live credit read (the credit check, the dealer's credit page) and by the
    master-data sync; shown with its age while the ERP is down.
    """

    __tablename__ = "dealer_credit_cache"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, unique=True)
    customer_number: Mapped[str] = mapped_column(String(10), nullable=False)
    credit_control_area: Mapped[str | None] = mapped_column(String(4))
    currency: Mapped[str] = mapped_column(String(5), default="CNY", nullable=False)
    credit_limit: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    open_orders: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    open_deliveries: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    open_billing: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    receivables: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    total_exposure: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    available: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
