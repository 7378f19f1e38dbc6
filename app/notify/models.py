"""In-app notifications and the outbox of outgoing messages."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Model
from app.jobs.models import Job


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
    """One outgoing SMS / WeCom message or e-signature request.

    Its delivery is a ``notify.deliver`` job (``job_id``): the worker sends it with the same
    retries, backoff and incidents as ERP calls. ``status`` is ``sent`` once delivered; until
    then ``delivery_status`` says ``queued``, or ``failed`` while its job is an open incident.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status", "status", "channel"),)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)  # sms | esign | wecom
    recipient: Mapped[str] = mapped_column(String(120), nullable=False)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(10), default="queued", nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str | None] = mapped_column(Text)  # the embedded signer's callback
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Embedded e-signature: when the simulated signer signs, and when that was reported back.
    callback_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    callback_done_at: Mapped[datetime | None] = mapped_column(DateTime)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    job: Mapped["Job | None"] = relationship(Job, lazy="joined")

    @property
    def delivery_status(self) -> str:
        if self.status == "sent":
            return "sent"
        return "failed" if self.job is not None and self.job.status == "incident" else "queued"

    @property
    def attempts(self) -> int:
        return self.job.attempts if self.job is not None else 0

    @property
    def delivery_error(self) -> str | None:
        job_error = self.job.last_error if self.job is not None and self.status != "sent" else None
        return job_error or self.last_error
