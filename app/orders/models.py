"""Orders as dealers submit them, their priced lines, the ERP parts they split into, a timeline."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Model, utcnow

ORDER_STATUSES = (
    "submitted",
    "returned",
    "credit_blocked",
    "approved",
    "in_erp",
    "erp_error",
    "shipped",
    "invoiced",
    "completed",
    "rejected",
    "cancelled",
)


class SalesOrder(Model):
    __tablename__ = "sales_order"
    __table_args__ = (UniqueConstraint("dealer_id", "submit_key"),)
    number: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, index=True)
    submit_key: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="submitted", index=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    list_total: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    discount_total: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    net_total: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    promotions: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    ship_to: Mapped[str | None] = mapped_column(String(255))
    requested_date: Mapped[date | None] = mapped_column(Date)
    remark: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    credit_result: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list["OrderLine"]] = relationship(
        order_by="OrderLine.line_no", cascade="all, delete-orphan"
    )
    parts: Mapped[list["OrderPart"]] = relationship(
        order_by="OrderPart.part_no", cascade="all, delete-orphan"
    )
    events: Mapped[list["OrderEvent"]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")


class OrderLine(Model):
    __tablename__ = "order_line"
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), nullable=False, index=True)
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    material_number: Mapped[str] = mapped_column(String(18), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    sales_unit: Mapped[str] = mapped_column(String(3), nullable=False, default="CS")
    # The dealer's net price per unit: PR00 ``list_price`` less K004 ``material_discount``, then
    # K007 ``customer_discount_percent`` (None on orders placed before these were recorded).
    unit_price: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    list_price: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    material_discount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    customer_discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    list_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    line_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    net_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    is_gift: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    line_promotion: Mapped[str | None] = mapped_column(String(30))
    line_promotion_kind: Mapped[str | None] = mapped_column(String(20))
    # Per-promotion discount allocations: [{"promotion", "kind", "amount"}] (→ ERP conditions).
    discounts: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    sales_org: Mapped[str] = mapped_column(String(4), nullable=False)
    distr_chan: Mapped[str] = mapped_column(String(2), nullable=False)
    division: Mapped[str] = mapped_column(String(2), nullable=False)
    price_list: Mapped[str | None] = mapped_column(String(2))
    plant: Mapped[str | None] = mapped_column(String(4))
    part_no: Mapped[int | None] = mapped_column(Integer)


class OrderPart(Model):
    """One ERP sales order: the lines of one sales area, price list and order type."""

    __tablename__ = "order_part"
    __table_args__ = (UniqueConstraint("order_id", "part_no"),)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), nullable=False, index=True)
    part_no: Mapped[int] = mapped_column(Integer, nullable=False)
    sales_org: Mapped[str] = mapped_column(String(4), nullable=False)
    distr_chan: Mapped[str] = mapped_column(String(2), nullable=False)
    division: Mapped[str] = mapped_column(String(2), nullable=False)
    price_list: Mapped[str | None] = mapped_column(String(2))
    order_type: Mapped[str] = mapped_column(String(4), nullable=False)
    needs_shipment_approval: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    purch_no: Mapped[str] = mapped_column(String(35), nullable=False, unique=True)
    net_total: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="new")
    erp_order_number: Mapped[str | None] = mapped_column(String(10), index=True)
    erp_error: Mapped[str | None] = mapped_column(Text)
    delivery_numbers: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    billing_numbers: Mapped[list] = mapped_column(JSON, nullable=False, default=list)


class OrderEvent(Model):
    """The order's timeline as the dealer sees it."""

    __tablename__ = "order_event"
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
