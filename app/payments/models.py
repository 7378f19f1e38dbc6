"""Prepayments: one payment request per credit-blocked order, and what the bank reported."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model

PAYMENT_STATUSES = ("requested", "paid", "expired")


class OrderPayment(Model):
    __tablename__ = "order_payment"
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), nullable=False, unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="requested", index=True)
    bank: Mapped[str] = mapped_column(String(10), nullable=False)  # simulated | http
    bank_reference: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    # The simulated bank pays at this time (the worker delivers its callback).
    pay_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
