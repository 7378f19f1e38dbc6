"""Project the engine's READY human tasks into ``human_task`` rows after every step."""

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, delete, func, insert, select, update

from app.core import sql
from app.core.models import User, utcnow
from app.core.roles import is_regional
from app.engine import runtime
from app.engine.models import ProcessInstance
from app.engine.validation import (
    assignment_of,
    candidate_roles,
    is_initiator_task,
    timeout_settings,
)
from app.extensions import db
from app.tasks.models import HumanTask, TaskCandidate


def _assignee_id(instance: ProcessInstance, task, info: dict) -> int | None:
    if is_initiator_task(task.task_spec):
        return instance.started_by_id
    assignee = (info.get("assignee") or "").strip()
    if not assignee:
        return None
    if assignee.startswith("${") and assignee.endswith("}"):
        assignee = str(task.data.get(assignee[2:-1].strip(), ""))
    user = User.by_username(assignee) if assignee else None
    return user.id if user else None


def _scope(task, roles: list[str], info: dict) -> str | None:
    field = info.get("candidateScope")
    if field is None and any(is_regional(r) for r in roles):
        field = "region"
    if not field or field == "none":
        return None
    value = task.data.get(field)
    return str(value) if value else None


def _due(info: dict):
    due = info.get("dueDate")
    if not due:
        return None
    if due.startswith("PT") and due.endswith("H") and due[2:-1].isdigit():
        return utcnow() + timedelta(hours=int(due[2:-1]))
    return None


def _date_value(value) -> datetime | None:
    """A form value as a naive UTC deadline; a bare date means the end of that day."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value.strip()) == 10 else \
                datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day) + timedelta(days=1)
    return None


def deadlines(task, info: dict) -> tuple[datetime | None, datetime | None]:
    """(due_at, warn_at) of a READY user task from its node's timeout settings (超时处理)."""
    cfg = timeout_settings(task.task_spec)
    if not cfg:
        return _due(info), None
    due = _date_value(task.data.get(cfg["dueDateField"])) if "dueDateField" in cfg else None
    try:
        if due is None and "dueIn" in cfg:
            due = utcnow() + runtime.iso_duration(cfg["dueIn"])
        due = due or _due(info)
        warn = due - runtime.iso_duration(cfg["warnBefore"]) if due and "warnBefore" in cfg \
            else None
    except ValueError:  # checked at deploy; a bad value never breaks the projection
        return due or _due(info), None
    return due, warn


AMOUNT_FIELDS = ("amount", "net_total", "credit_limit", "budget_total", "total")


def _amount_and_dealer(data: dict, props: dict) -> tuple[Decimal | None, int | None]:
    """What the inbox filters on: the amount (``amountField`` or a usual name) and dealer."""
    amount = None
    for name in ([props["amountField"]] if props.get("amountField") else AMOUNT_FIELDS):
        value = data.get(name)
        if value not in (None, "") and not isinstance(value, bool):
            try:
                amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            except ArithmeticError:
                continue
            if amount.is_finite() and abs(amount) < Decimal("1e13"):
                break
            amount = None
    dealer = data.get("dealer_id")
    dealer = int(dealer) if isinstance(dealer, int | str) and str(dealer).isdigit() else None
    return amount, dealer


_TASKS = HumanTask.__table__
_TASK_COLUMNS = [c for c in _TASKS.columns if c.key != "id"]
_INSERT_TASK = sql.prepared(insert(_TASKS).values({c.key: bindparam(c.key) for c in _TASK_COLUMNS})
                            .returning(_TASKS.c.id))


def _column_default(column):
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _task_values(row: dict) -> dict:
    """Every column of a new ``human_task`` row: the row's values, else the column default."""
    return {c.key: row[c.key] if c.key in row else _column_default(c) for c in _TASK_COLUMNS}
_INSERT_CANDIDATE = sql.prepared(insert(TaskCandidate.__table__).values(
    {k: bindparam(k) for k in ("task_id", "kind", "value", "created_at")}))
# Rows still tied to a live engine task: open, blocked by added signers, or queued signers.
ACTIVE = ("open", "waiting", "pending")
_OPEN_ROWS = sql.prepared(select(_TASKS.c.id, _TASKS.c.engine_task_id).where(
    _TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.status.in_(ACTIVE)))
_LAST_PASS = sql.prepared(select(func.max(_TASKS.c.pass_no)).where(
    _TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.bpmn_id == bindparam("bpmn_id")))


def new_row(instance: ProcessInstance, task, pass_no: int) -> dict:
    """Column values of the ``human_task`` row for a READY engine task (and its candidates)."""
    spec = task.task_spec
    info = assignment_of(spec)
    roles = candidate_roles(spec)
    users = [u.strip() for u in (info.get("candidateUsers") or "").split(",") if u.strip()]
    due_at, warn_at = deadlines(task, info)
    amount, dealer_id = _amount_and_dealer(task.data, (getattr(spec, "extensions", None) or {})
                                           .get("properties") or {})
    return {"instance_id": instance.id, "process_key": instance.process_key,
            "title": instance.title, "engine_task_id": str(task.id), "bpmn_id": spec.bpmn_id,
            "name": spec.bpmn_name or spec.bpmn_id, "form_key": info.get("formKey"),
            "lane": spec.lane, "candidate_roles": ",".join(roles),
            "candidate_users": ",".join(users), "scope_region": _scope(task, roles, info),
            "assignee_id": _assignee_id(instance, task, info), "status": "open",
            "due_at": due_at, "warn_at": warn_at, "amount": amount, "dealer_id": dealer_id,
            "priority": int(info.get("priority") or 50),
            "pass_no": pass_no, "created_at": utcnow(),
            "_candidates": [("role", r) for r in roles] + [("user", u) for u in users]}


def insert_rows(rows: list[dict]) -> list[int]:
    """INSERT task rows and their candidates with Core statements; return the new ids."""
    if not rows:
        return []
    ids = []
    for row in rows:  # usually one; RETURNING one by one keeps ids and rows paired
        ids.append(sql.execute(_INSERT_TASK, _task_values(row)).scalar_one())
    candidates = [{"task_id": tid, "kind": k, "value": v, "created_at": row["created_at"]}
                  for tid, row in zip(ids, rows, strict=True) for k, v in row["_candidates"]]
    if candidates:
        sql.execute(_INSERT_CANDIDATE, candidates)
    return ids


def _pass_no(instance: ProcessInstance, bpmn_id: str) -> int:
    """1 + how often this step already ran in the instance (an index lookup, not a scan)."""
    if instance.lock_version <= 1:
        return 1
    last = sql.execute(_LAST_PASS, {"instance_id": instance.id, "bpmn_id": bpmn_id}).scalar()
    return (last or 0) + 1


def sync_human_tasks(instance: ProcessInstance, workflow, none_open: bool = False) -> list[int]:
    """Insert rows for new READY tasks; cancel open rows whose engine task is gone.

    ``none_open``: the caller knows the instance has no open row (the state it loaded and is
    saving over, under the instance's optimistic lock, had no READY human task, and every save
    cancels the open rows of tasks no longer READY), so they are not read.
    """
    ready = {str(t.id): t for t in runtime.ready_human_tasks(workflow)}
    open_rows = [] if none_open else sql.execute(_OPEN_ROWS, {"instance_id": instance.id}).all()
    known = {r.engine_task_id for r in open_rows}
    gone = [r.id for r in open_rows if r.engine_task_id not in ready]
    if gone:
        db.session.execute(update(HumanTask.__table__).where(HumanTask.__table__.c.id.in_(gone))
                           .values(status="cancelled", completed_at=utcnow()))
        db.session.execute(delete(TaskCandidate.__table__).where(TaskCandidate.__table__.c.task_id.in_(gone)))
    new = [t for engine_id, t in ready.items() if engine_id not in known]
    if not new:
        return []
    from app.tasks.proxies import redirect_rows

    rows = [new_row(instance, t, _pass_no(instance, t.task_spec.bpmn_id)) for t in new]
    redirect_rows(rows)
    ids = insert_rows(rows)
    if any(r.get("proxied_for_id") for r in rows):
        from app.tasks.notifications import proxied

        proxied(rows, ids)
    _cc_on_arrival(instance, new, ids)
    return ids


def _cc_on_arrival(instance: ProcessInstance, tasks: list, ids: list[int]) -> None:
    for task, task_id in zip(tasks, ids, strict=True):
        props = (task.task_spec.extensions or {}).get("properties") or {}
        if props.get("ccOnArrival"):
            from app.tasks.cc import cc_for_node

            cc_for_node(instance, task_id, props, "arrival")
