"""Deployed process versions and running instances."""

from datetime import datetime

from sqlalchemy import (
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


class ProcessVersion(Model):
    """One deployed version of one executable BPMN process (or DMN decision file)."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_key", "version"),)
    process_key: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    bundle_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    bundle: Mapped[str] = mapped_column(Text, nullable=False)  # JSON {filename: xml}
    deployed_by: Mapped[str | None] = mapped_column(String(64))
    # camunda:candidateStarterGroups; empty → any staff role may start it.
    starter_roles: Mapped[str] = mapped_column(String(255), default="")


class ProcessInstance(Model):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_instance_status_key", "status", "process_key"),)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), nullable=False)
    process_key: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="running", nullable=False)
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    subject_type: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(20))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    lock_version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    next_timer_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # ",name1,name2,": messages a waiting catch event / receive task would accept now.
    waiting_messages: Mapped[str] = mapped_column(String(255), default="", server_default="",
                                                  nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)


class TimerStartSlot(Model):
    """A slot of a timer start event already taken: one instance per (process, start event,
    slot). Rows stored before slots were kept per start event have an empty ``start_event``
    and count as taken for every start event of the process."""

    __tablename__ = "timer_start_slot"
    __table_args__ = (UniqueConstraint("process_key", "start_event", "slot",
                                       name="uq_timer_start_slot"),)
    process_key: Mapped[str] = mapped_column(String(100), nullable=False)
    start_event: Mapped[str] = mapped_column(String(255), nullable=False, default="",
                                             server_default="")
    slot: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))


class MessageSubscription(Model):
    """A correlation key a waiting message catch event of a running instance listens on.

    Written when the instance is saved: the key's property values (computed from the
    instance's data when the event started waiting) and their digest, which a message's payload
    is matched on (``POST /api/v1/messages/{name}`` without explicit correlation).
    """

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_message_subscription_match", "message", "correlation_key",
                            "value_digest"),
                      Index("ix_message_subscription_version", "message", "process_version_id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False,
                                             index=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"),
                                                    nullable=False)
    message: Mapped[str] = mapped_column(String(255), nullable=False)
    correlation_key: Mapped[str] = mapped_column(String(255), nullable=False)
    value_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    values: Mapped[str] = mapped_column(Text, default="{}", nullable=False)  # JSON
