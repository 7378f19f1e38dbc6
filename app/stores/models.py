"""Stores (连锁门店), their budget, milestones, history, photos, inspection plans and inspections."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Model, utcnow

STORE_STATUSES = ("planned", "opening", "active", "suspended", "closed")
STORE_TYPES = ("flagship", "standard", "kiosk")
BUDGET_CATEGORIES = ("rent", "decoration", "equipment", "first_stock")
MILESTONES = ("lease_signed", "decoration", "equipment", "staff_training", "acceptance")
MILESTONE_OPEN = ("planned", "reported")
INSPECTION_ITEMS = ("hygiene", "display", "service", "decoration")
INSPECTION_OPEN = ("open",)
DOCUMENT_KINDS = ("lease_contract", "business_licence", "acceptance_report", "floor_plan",
                  "invoice", "other")
PHOTO_TIME_SOURCES = ("exif", "device", "upload")  # where a photo's time stamp came from


class Store(Model):
    __tablename__ = "store"
    code: Mapped[str | None] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False)
    region: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="planned")
    city: Mapped[str] = mapped_column(String(50), nullable=False)
    address: Mapped[str] = mapped_column(String(255), nullable=False)
    store_type: Mapped[str] = mapped_column(String(20), nullable=False)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    expected_opening: Mapped[date | None] = mapped_column(Date)
    opened_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    budget_total: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    actual_total: Mapped[Decimal] = mapped_column(Numeric(15, 2), default=Decimal("0"))
    opening_instance_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    budget_lines = relationship("StoreBudgetLine", order_by="StoreBudgetLine.id",
                                lazy="selectin", cascade="all, delete-orphan")
    milestones = relationship("StoreMilestone", order_by="StoreMilestone.seq", lazy="selectin",
                              cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_store_status_region", "status", "region", "id"),
        Index("ix_store_region_id", "region", "id"),
        Index("ix_store_dealer_status", "dealer_id", "status"),
        Index("ix_store_type_status", "store_type", "status"),
    )


class StoreBudgetLine(Model):
    __tablename__ = "store_budget_line"
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), nullable=False, index=True)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    note: Mapped[str | None] = mapped_column(String(255))


class StoreMilestone(Model):
    __tablename__ = "store_milestone"
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(30), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    category: Mapped[str | None] = mapped_column(String(20))  # budget category its cost books to
    planned_start: Mapped[date] = mapped_column(Date, nullable=False)
    planned_date: Mapped[date] = mapped_column(Date, nullable=False)
    actual_date: Mapped[date | None] = mapped_column(Date)
    actual_cost: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="planned")
    overdue_since: Mapped[date | None] = mapped_column(Date)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    reported_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("store_id", "code", name="uq_store_milestone"),
                      Index("ix_store_milestone_due", "status", "planned_date"))


class StoreEvent(Model):
    """The store's history: every change, and reminders/escalations raised for it."""

    __tablename__ = "store_event"
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)  # JSON
    recipient_role: Mapped[str | None] = mapped_column(String(30))
    instance_id: Mapped[int | None] = mapped_column(Integer)


class StorePhoto(Model):
    """A photo of a store (application, survey, inspection) with the time it was taken."""

    __tablename__ = "store_photo"
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"), nullable=False)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    # exif: DateTimeOriginal in the image; device: the file time the browser sent;
    # upload: neither was known, so the time of the upload (shown as such).
    taken_at_source: Mapped[str] = mapped_column(String(10), nullable=False, default="upload",
                                                 server_default="upload")
    caption: Mapped[str | None] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(64), nullable=False)


class InspectionPlan(Model):
    """Inspect every active store of a type (or one store) every ``every_months`` months."""

    __tablename__ = "inspection_plan"
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    store_type: Mapped[str | None] = mapped_column(String(20))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    every_months: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    start_month: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY-MM
    due_days: Mapped[int] = mapped_column(Integer, nullable=False, default=20)
    threshold: Mapped[int] = mapped_column(Integer, nullable=False, default=70)
    # The checklist items scored (comma-separated, from INSPECTION_ITEMS); empty means all.
    checklist_csv: Mapped[str | None] = mapped_column("checklist", String(200))
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    # Optimistic lock: every ORM update bumps it and is conditional on the value read, and
    # clients send back the one they saw (``version`` / ``If-Match``); a stale one is a 409.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    @property
    def checklist(self) -> list[str]:
        chosen = [i for i in (self.checklist_csv or "").split(",") if i in INSPECTION_ITEMS]
        return [i for i in INSPECTION_ITEMS if i in chosen] or list(INSPECTION_ITEMS)


class Inspection(Model):
    __tablename__ = "inspection"
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plan.id"), nullable=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), nullable=False)
    slot: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY-MM
    region: Mapped[str] = mapped_column(String(20), nullable=False)
    store_type: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    inspector: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer, nullable=False, default=70)
    notes: Mapped[str | None] = mapped_column(Text)
    corrective_instance_id: Mapped[int | None] = mapped_column(Integer)
    corrective_status: Mapped[str | None] = mapped_column(String(20))
    reinspection_score: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("plan_id", "store_id", "slot", name="uq_inspection_slot"),
                      Index("ix_inspection_region_status", "region", "status", "due_on"),
                      Index("ix_inspection_store", "store_id", "status"))


class InspectionScore(Model):
    __tablename__ = "inspection_score"
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), nullable=False,
                                               index=True)
    item: Mapped[str] = mapped_column(String(20), nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)


class StoreDocument(Model):
    """A document of a store (lease contract, licence, acceptance report, floor plan, invoice),
    optionally filed under one opening milestone. Deleting keeps the row (``deleted_at``) so
    the history still names it; the content is no longer served."""

    __tablename__ = "store_document"
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), nullable=False)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    milestone_code: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(String(255))
    uploaded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(64))

    attachment = relationship("Attachment", lazy="joined")

    __table_args__ = (Index("ix_store_document_store", "store_id", "deleted_at"),)
