"""The dealer master: dealers, their addresses, bank accounts and lifecycle history."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Model, utcnow

DEALER_TYPES = ("tier1", "tier2", "retailer")  # 一级 / 二级 / 零售商
DEALER_LEVELS = ("A", "B", "C")
DEALER_STATUSES = ("pending", "active", "suspended", "closed")


class Dealer(Model):
    __tablename__ = "dealer"
    code: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    dealer_type: Mapped[str] = mapped_column(String(20), nullable=False)
    level: Mapped[str] = mapped_column(String(1), nullable=False)
    region: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", nullable=False, index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id"))
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    credit_limit: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    payment_terms: Mapped[str | None] = mapped_column(String(20))
    erp_customer_no: Mapped[str | None] = mapped_column(String(10))
    licence_file_id: Mapped[int | None] = mapped_column(Integer)
    admitted_on: Mapped[date | None] = mapped_column(Date)
    source_instance_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    addresses = relationship("DealerAddress", order_by="DealerAddress.id", lazy="selectin",
                             cascade="all, delete-orphan")
    bank_accounts = relationship("DealerBankAccount", order_by="DealerBankAccount.id",
                                 lazy="selectin", cascade="all, delete-orphan")
    lifecycle = relationship("DealerLifecycle", order_by="DealerLifecycle.id", lazy="selectin",
                             cascade="all, delete-orphan")


class DealerAddress(Model):
    __tablename__ = "dealer_address"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, index=True)
    address: Mapped[str] = mapped_column(String(255), nullable=False)
    receiver: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_default: Mapped[bool] = mapped_column(default=False)


class DealerBankAccount(Model):
    __tablename__ = "dealer_bank_account"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, index=True)
    bank_name: Mapped[str] = mapped_column(String(100), nullable=False)
    account_no: Mapped[str] = mapped_column(String(40), nullable=False)


class DealerLifecycle(Model):
    __tablename__ = "dealer_lifecycle"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[int | None] = mapped_column(Integer)
