"""In-app notifications and the outbox of outgoing messages."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model


class Notification(Model):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_recipient", "recipient_id", "read_at", "id"),)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class OutboxMessage(Model):
    """One outgoing SMS / WeCom message or e-signature request, sent by the worker."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "due_at"),)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)  # sms | esign | wecom
    recipient: Mapped[str] = mapped_column(String(120), nullable=False)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(10), default="queued", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    external_id: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Embedded e-signature: when the simulated signer signs, and when that was reported back.
    callback_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    callback_done_at: Mapped[datetime | None] = mapped_column(DateTime)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))

