"""Human tasks projected from the engine: what inboxes query, and the approval history."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model


class HumanTask(Model):
    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_assignee", "assignee_id", "status", "id"),
        Index("ix_human_task_instance", "instance_id", "status"),
        Index("ix_human_task_passes", "instance_id", "bpmn_id", "pass_no"),
        Index("ix_human_task_due", "status", "timed_out_at", "due_at"),
        Index("ix_human_task_warn", "status", "warned_at", "warn_at"),
        # The inbox sorted by amount walks this in order and stops after a page; the tab
        # counts under an amount filter read it without touching the table.
        Index("ix_human_task_open_amount", "status", "assignee_id", "amount", "scope_region",
              "candidate_roles"),
        Index("ix_human_task_completed_by", "completed_by_id", "id"),
    )
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False)
    process_key: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(255), default="")
    engine_task_id: Mapped[str] = mapped_column(String(36), nullable=False)
    bpmn_id: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    form_key: Mapped[str | None] = mapped_column(String(100))
    lane: Mapped[str | None] = mapped_column(String(100))
    candidate_roles: Mapped[str] = mapped_column(String(255), default="")
    candidate_users: Mapped[str] = mapped_column(String(255), default="")
    scope_region: Mapped[str | None] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default="open", nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[str | None] = mapped_column(String(30))
    comment: Mapped[str | None] = mapped_column(Text)
    submitted: Mapped[str | None] = mapped_column(Text)  # JSON of the submitted form data
    pass_no: Mapped[int] = mapped_column(Integer, default=1)
    # Approval operations (app/tasks/operations.py).
    kind: Mapped[str] = mapped_column(String(10), default="engine", server_default="engine",
                                      nullable=False)  # engine | signer
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    delegation: Mapped[str | None] = mapped_column(String(10))  # pending | resolved
    parent_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    sign_position: Mapped[str | None] = mapped_column(String(10))  # before | after | parallel
    sign_mode: Mapped[str | None] = mapped_column(String(10))  # all | any | sequential
    sign_seq: Mapped[int | None] = mapped_column(Integer)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    jump_to: Mapped[str | None] = mapped_column(String(100))
    attachments: Mapped[str | None] = mapped_column(Text)  # JSON list of attachment ids
    proxied_for_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # 超时处理 per-node timeouts (app/tasks/timeouts.py): warn at, then act at due_at, once each.
    warn_at: Mapped[datetime | None] = mapped_column(DateTime)
    warned_at: Mapped[datetime | None] = mapped_column(DateTime)
    timed_out_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Inbox filters: the instance's amount and dealer when the task arrived (from its data).
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    dealer_id: Mapped[int | None] = mapped_column(Integer)


# PostgreSQL sorts NULL above every amount, so "largest first, no amount last" (DESC NULLS
# LAST) cannot walk ix_human_task_open_amount backwards as SQLite does; nor can an index led
# by assignee_id give that order under ``assignee_id IS NULL`` (not an equality to the
# planner). This one holds the group tab's tasks (open, unclaimed) in exactly that order, so
# the page stops after ``limit`` entries. Queries repeat the status literally (``OPEN_TASK``):
# a prepared statement's generic plan cannot match ``status = $1`` to a partial index.
OPEN_TASK = HumanTask.status == literal_column("'open'")
Index("ix_human_task_group_by_amount", HumanTask.amount.desc().nulls_last(),
      HumanTask.id.desc(),
      postgresql_where=text("status = 'open' AND assignee_id IS NULL")
      ).ddl_if(dialect="postgresql")

class TaskCandidate(Model):
    """One candidate (role or user) of an open task; the group inbox joins on this."""

    __tablename__ = "task_candidate"
    __table_args__ = (Index("ix_task_candidate_lookup", "kind", "value", "task_id"),)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # role | user
    value: Mapped[str] = mapped_column(String(64), nullable=False)


class TaskCc(Model):
    """抄送: read-only access to an instance for a user, with read/unread state."""

    __tablename__ = "task_cc"
    __table_args__ = (Index("ix_task_cc_user", "user_id", "read_at", "id"),)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), nullable=False,
                                             index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    cc_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(20), default="adhoc")  # adhoc|arrival|completion
    comment: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class TaskProxy(Model):
    """代理: while ``user`` is away, tasks assigned to them go to ``proxy`` instead."""

    __tablename__ = "task_proxy"
    __table_args__ = (Index("ix_task_proxy_user", "user_id", "starts_at", "ends_at"),
                      Index("ix_task_proxy_proxy", "proxy_id", "ends_at"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    proxy_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    process_keys: Mapped[str] = mapped_column(String(500), default="")  # empty: every process
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class SavedFilter(Model):
    """A user's named inbox filter: a name and the query string it stands for."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_name"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False,
                                         index=True)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    query: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
