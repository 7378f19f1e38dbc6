"""The ERP message log: every SOAP envelope pair exchanged with the ERP (secrets redacted)."""

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model


class ErpMessage(Model):
    __tablename__ = "erp_message"
    operation: Mapped[str] = mapped_column(String(100), nullable=False)  # e.g. erp.create_customer
    function: Mapped[str] = mapped_column(String(60), nullable=False)  # the BAPI
    url: Mapped[str] = mapped_column(String(500), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)  # ok|business_error|technical_error
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    request_headers: Mapped[str] = mapped_column(Text, default="{}")
    request_xml: Mapped[str] = mapped_column(Text, default="")
    response_xml: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
