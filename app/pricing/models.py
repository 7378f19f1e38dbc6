"""Price changes (调价) with their condition lines, and Excel price imports."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.core.models import Model, utcnow

# pending: waiting for approval · writing: approved, the ERP write is queued · applied: in the
# ERP and the catalogue · erp_error: the ERP refused it (the requester fixes or cancels).
PRICE_CHANGE_STATUSES = ("pending", "writing", "applied", "erp_error", "rejected", "cancelled")
CONDITION_TYPES = ("PR00", "K004", "K007")


class PriceChange(Model):
    __tablename__ = "price_change"
    number: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    submit_key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(10), nullable=False, default="manual")
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    erp_error: Mapped[str | None] = mapped_column(Text)
    erp_condition_numbers: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)
    line_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list["PriceChangeLine"]] = relationship(
        order_by="PriceChangeLine.line_no", cascade="all, delete-orphan", lazy="select"
    )


class PriceChangeLine(Model):
    """One condition record to write: PR00 per price list (or base), K004 per material,
    K007 per customer (a dealer), with its validity period."""

    __tablename__ = "price_change_line"
    # The catalogue reads K004 records by product and K007 records by dealer.
    __table_args__ = (Index("ix_price_change_line_condition", "condition_type", "product_id", "dealer_id"),)
    change_id: Mapped[int] = mapped_column(ForeignKey("price_change.id"), nullable=False, index=True)
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    condition_type: Mapped[str] = mapped_column(String(4), nullable=False)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    material_number: Mapped[str | None] = mapped_column(String(18))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id"))
    customer_number: Mapped[str | None] = mapped_column(String(10))
    sales_org: Mapped[str] = mapped_column(String(4), nullable=False)
    distr_chan: Mapped[str] = mapped_column(String(2), nullable=False)
    price_list: Mapped[str | None] = mapped_column(String(2))
    old_amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date] = mapped_column(Date, nullable=False, default=date(9999, 12, 31))


class PriceImport(Model):
    """An uploaded base-price workbook, validated and turned into a price change by the worker."""

    __tablename__ = "price_import"
    # queued → running → done (a price change was created) | invalid (nothing applied)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued", index=True)
    policy: Mapped[str] = mapped_column(String(20), nullable=False, default="all_or_nothing")
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    good_rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # [{"row": 7, "column": "amount", "reason": "…"}]; deferred: a big file has many.
    errors: Mapped[list] = deferred(mapped_column(JSON, nullable=False, default=list))
    price_change_id: Mapped[int | None] = mapped_column(ForeignKey("price_change.id"))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    failure: Mapped[str | None] = mapped_column(Text)
