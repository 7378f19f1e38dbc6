"""Promotions as marketing defines them; each goes live only after approval in BPMN."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model, utcnow

PROMOTION_STATUSES = ("draft", "pending", "active", "rejected", "ended")


class Promotion(Model):
    __tablename__ = "promotion"
    __table_args__ = (Index("ix_promotion_live", "status", "valid_from", "valid_to"),)
    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(String(120), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # Kind-specific parameters (tiers, prices, gift product …), validated by the API schema.
    rule: Mapped[dict] = mapped_column(JSON, nullable=False)
    # products, categories, exclude_products (ids); regions, dealer_groups, channels (codes).
    scope: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    exclusion_group: Mapped[str | None] = mapped_column(String(30))
    stackable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    excludes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft")
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def label(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class GiftStock(Model):
    """Units of a gift product left for 满赠 promotions (shared by every promotion giving it)."""

    __tablename__ = "gift_stock"
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), unique=True, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class PromotionUsage(Model):
    """Units a dealer bought under a capped promotion (special-price caps count these)."""

    __tablename__ = "promotion_usage"
    __table_args__ = (UniqueConstraint("promotion_id", "dealer_id", "product_id"),)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotion.id"), nullable=False)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
