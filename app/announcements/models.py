"""Announcements and who has read them."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model, utcnow

ANNOUNCEMENT_STATUSES = ("published", "unpublished")


class Announcement(Model):
    __tablename__ = "announcement"
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # Targeting: region codes and dealer types (tier1 / tier2 / retailer); empty = everyone.
    regions: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    dealer_types: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="published", index=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AnnouncementRead(Model):
    __tablename__ = "announcement_read"
    __table_args__ = (UniqueConstraint("announcement_id", "user_id"),)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False, index=True)
