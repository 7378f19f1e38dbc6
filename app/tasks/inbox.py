"""Inbox filters, sorting, pagination, counts per tab and saved filters.

The plain inbox (no filter, newest first) stays the fast keyset query of
``app.tasks.services.inbox``; as soon as a filter, a sort or a page is asked for, the query
here takes over: the same tab conditions plus one WHERE clause per filter.

Filters (query parameters, the same on ``/inbox`` and ``GET /api/v1/tasks``): ``process``,
``dealer`` (id or code), ``region``, ``amount_min`` / ``amount_max``, ``due_before`` (a date:
due by the end of it; or a date-time), ``overdue``, ``proxied`` (tasks one holds or may claim
for someone away), ``cc`` (instances one is CC'd on); the CC tab takes the same filters and
sorts (on the CC'd task, or the newest task of a CC'd instance); ``sort`` = ``created`` (newest first),
``due`` (soonest first, no due date last) or ``amount`` (largest first), ``order`` = ``asc`` /
``desc`` to turn it round; ``page`` (1-based) with ``limit`` rows per page.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from sqlalchemy import and_, exists, func, not_, or_, select, union_all
from sqlalchemy.orm import aliased

from app.audit.services import record
from app.core.errors import NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.engine.models import ProcessInstance
from app.extensions import db
from app.tasks.models import OPEN_TASK, HumanTask, SavedFilter, TaskCandidate, TaskCc

FILTERS = ("process", "dealer", "region", "amount_min", "amount_max", "due_before", "overdue",
           "proxied", "cc")
SORTS = ("created", "due", "amount")
TABS = ("mine", "group", "completed", "cc")
MAX_SAVED = 50
PAGE_SIZE = 50


class DateOrDateTime(fields.Field):
    """``2026-12-01`` (the end of that day) or ``2026-12-01T18:00`` (UTC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value or "").strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                return datetime(day.year, day.month, day.day) + timedelta(days=1)
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("Not a date (YYYY-MM-DD) or date-time") from None
        return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


class InboxFilterSchema(Schema):
    """The inbox's filter, sort and page parameters (unknown parameters are ignored)."""

    class Meta:
        unknown = EXCLUDE

    process = fields.String(load_default=None, validate=validate.Length(max=100))
    dealer = fields.String(load_default=None, validate=validate.Length(max=100))
    region = fields.String(load_default=None, validate=validate.Length(max=20))
    amount_min = fields.Decimal(load_default=None, allow_nan=False)
    amount_max = fields.Decimal(load_default=None, allow_nan=False)
    due_before = DateOrDateTime(load_default=None)
    overdue = fields.Boolean(load_default=None)
    proxied = fields.Boolean(load_default=None)
    cc = fields.Boolean(load_default=None)
    sort = fields.String(load_default="created", validate=validate.OneOf(SORTS))
    order = fields.String(load_default=None, validate=validate.OneOf(("asc", "desc")))
    page = fields.Integer(load_default=None, validate=validate.Range(1, 100000))

    @validates_schema
    def _range(self, data, **_):
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and high < low:
            raise ValidationError("Must not be below the minimum amount", "amount_max")


def _blank_to_none(args) -> dict:
    """Query parameters with empty values dropped (an empty form field means no filter)."""
    return {k: v for k, v in dict(args).items() if v not in ("", None)}


def parse(args) -> dict:
    """Validate filter parameters; 422 per field."""
    try:
        return InboxFilterSchema().load(_blank_to_none(args))
    except ValidationError as exc:
        raise ValidationFailed(exc.messages) from None


def is_filtered(params: dict) -> bool:
    """Whether the plain, fast inbox query cannot answer (a filter, sort or page is set)."""
    return any(params.get(k) is not None for k in FILTERS) or \
        params.get("sort", "created") != "created" or params.get("order") is not None or \
        (params.get("page") or 1) > 1


def query_string(params: dict) -> str:
    """The filter as a query string (for links and saved filters), defaults left out."""
    out = []
    for key in (*FILTERS, "sort", "order"):
        value = params.get(key)
        if value is None or (key == "sort" and value == "created"):
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, datetime):
            value = value.isoformat(timespec="minutes")
        out.append((key, str(value)))
    return urlencode(out)


# --- The query -------------------------------------------------------------------------

def _candidate_of(user: User, process_keys: list[str] | None = None, counting: bool = False):
    """A group task ``user`` could claim (roles or name, within their region).

    ``counting``: the candidate test as one ``IN`` list read once from
    ``ix_task_candidate_lookup`` (a count visits every row, so a per-row subquery costs
    more); otherwise a per-row ``EXISTS``, which lets a sorted page stop after ``limit`` rows.
    """
    if counting:
        walks = [select(TaskCandidate.task_id).where(TaskCandidate.kind == "role",
                                                     TaskCandidate.value.in_(user.roles))] \
            if user.roles else []
        walks.append(select(TaskCandidate.task_id).where(TaskCandidate.kind == "user",
                                                         TaskCandidate.value == user.username))
        candidate = HumanTask.id.in_(union_all(*walks) if len(walks) > 1 else walks[0])
    else:
        values = [and_(TaskCandidate.kind == "role", TaskCandidate.value.in_(user.roles))] \
            if user.roles else []
        values.append(and_(TaskCandidate.kind == "user", TaskCandidate.value == user.username))
        candidate = exists().where(TaskCandidate.task_id == HumanTask.id, or_(*values))
    if user.roles:
        # Most tasks have one candidate role: its name in ``candidate_roles`` (written with the
        # candidate rows, read from ix_human_task_open_amount) settles them without a lookup.
        candidate = or_(HumanTask.candidate_roles.in_(user.roles), candidate)
    clause = [candidate]
    region = HumanTask.scope_region.is_(None)
    if user.region:
        region = or_(region, HumanTask.scope_region == user.region)
    clause.append(region)
    if process_keys:
        clause.append(HumanTask.process_key.in_(process_keys))
    return and_(*clause)


def _stand_ins(user: User, counting: bool = False) -> list:
    from app.tasks.proxies import away_principals

    return [_candidate_of(away, [k for k in proxy.process_keys.split(",") if k] or None,
                          counting) for away, proxy in away_principals(user)]


def _tab(user: User, scope: str, counting: bool = False):
    if scope == "mine":
        return [HumanTask.assignee_id == user.id, OPEN_TASK]
    if scope == "completed":
        return [HumanTask.completed_by_id == user.id]
    if scope == "group":
        return [OPEN_TASK, HumanTask.assignee_id.is_(None),
                or_(_candidate_of(user, counting=counting), *_stand_ins(user, counting))]
    raise ValidationFailed({"scope": [f"Must be one of {', '.join(TABS)}"]})


def _dealer_id(value: str) -> int:
    from app.dealers.models import Dealer

    dealer = db.session.scalar(select(Dealer.id).where(Dealer.code == value))
    if dealer is None and value.isdigit():
        dealer = db.session.scalar(select(Dealer.id).where(Dealer.id == int(value)))
    if dealer is None:
        raise ValidationFailed({"dealer": [f"Unknown dealer '{value}'"]})
    return dealer


def _filters(user: User, scope: str, params: dict, now: datetime, counting: bool = False) -> list:
    where = []
    if params.get("process"):
        where.append(HumanTask.process_key == params["process"])
    if params.get("region"):
        where.append(exists().where(ProcessInstance.id == HumanTask.instance_id,
                                    ProcessInstance.region == params["region"]))
    overdue = _task_filters(where, params, now, counting)
    if params.get("overdue") is False:
        where.append(not_(and_(overdue, HumanTask.due_at.isnot(None))))
    if params.get("proxied") is not None:
        proxied = HumanTask.proxied_for_id.isnot(None)
        if scope == "group":
            proxied = or_(proxied, not_(_candidate_of(user)))
        where.append(proxied if params["proxied"] else not_(proxied))
    if params.get("cc") is not None:
        cc = exists().where(TaskCc.instance_id == HumanTask.instance_id, TaskCc.user_id == user.id)
        where.append(cc if params["cc"] else not_(cc))
    return where


def _task_filters(where: list, params: dict, now: datetime, counting: bool = False):
    """Append the filters on the task's own columns (dealer, amount, due date, overdue) to
    ``where``; return the overdue condition, which each caller negates in its own way."""
    if params.get("dealer"):
        where.append(HumanTask.dealer_id == _dealer_id(params["dealer"]))
    amount = HumanTask.amount
    if not counting and params.get("sort") != "amount":
        # A page in another order walks that order and stops after ``limit`` rows; without
        # table statistics SQLite would rather read the whole amount range and sort it.
        amount = HumanTask.amount + 0
    if params.get("amount_min") is not None:
        where.append(amount >= params["amount_min"])
    if params.get("amount_max") is not None:
        where.append(amount <= params["amount_max"])
    if params.get("due_before") is not None:
        where.append(HumanTask.due_at < params["due_before"])
    overdue = and_(HumanTask.status == "open", HumanTask.due_at <= now)
    if params.get("overdue") is True:
        where.append(overdue)
    return overdue


def _cc_task_join():
    """The task a CC row is listed with: the CC'd task, or the newest task of a CC'd instance."""
    newest = aliased(HumanTask)
    latest = select(func.max(newest.id)).where(newest.instance_id == TaskCc.instance_id) \
        .correlate(TaskCc).scalar_subquery()
    return HumanTask.id == func.coalesce(TaskCc.task_id, latest)


def _cc_filters(user: User, params: dict, now: datetime) -> list:
    """The filters on the CC tab: process and region on the CC'd instance; dealer, amount,
    due date, overdue and proxied on the task it is listed with (``_cc_task_join``)."""
    def on_instance(*conditions):
        return select(ProcessInstance.id).where(ProcessInstance.id == TaskCc.instance_id,
                                                *conditions).correlate(TaskCc).exists()

    where = [TaskCc.user_id == user.id]
    if params.get("process"):
        where.append(on_instance(ProcessInstance.process_key == params["process"]))
    if params.get("region"):
        where.append(on_instance(ProcessInstance.region == params["region"]))
    overdue = _task_filters(where, params, now)
    if params.get("overdue") is False:
        where.append(or_(HumanTask.id.is_(None), not_(and_(overdue, HumanTask.due_at.isnot(None)))))
    if params.get("proxied") is True:
        where.append(HumanTask.proxied_for_id.isnot(None))
    elif params.get("proxied") is False:
        where.append(or_(HumanTask.id.is_(None), HumanTask.proxied_for_id.is_(None)))
    if params.get("cc") is False:
        where.append(TaskCc.id.is_(None))  # everything here is CC'd to the user
    return where


def _cc_order(params: dict) -> list:
    sort, order = params.get("sort") or "created", params.get("order")
    if sort == "due":
        column = HumanTask.due_at.desc() if order == "desc" else HumanTask.due_at.asc()
        return [column.nulls_last(), TaskCc.id.desc()]
    if sort == "amount":
        column = HumanTask.amount.asc() if order == "asc" else HumanTask.amount.desc()
        return [column.nulls_last(), TaskCc.id.desc()]
    return [TaskCc.id.asc() if order == "asc" else TaskCc.id.desc()]


def cc_filtered(user: User, params: dict, limit: int = 50, before_id: int | None = None,
                with_total: bool = False):
    """(entries, total or None): one page of the CC tab with the filters and sort applied."""
    from app.tasks.cc import cc_entries

    where = _cc_filters(user, params, utcnow())
    stmt = select(TaskCc).outerjoin(HumanTask, _cc_task_join()).where(*where)
    if before_id:
        stmt = stmt.where(TaskCc.id < before_id)
    page = params.get("page") or 1
    rows = db.session.scalars(stmt.order_by(*_cc_order(params)).limit(limit)
                              .offset((page - 1) * limit)).all()
    total = _cc_count(where) if with_total else None
    return cc_entries(rows), total


def _cc_count(where: list) -> int:
    return db.session.scalar(select(func.count()).select_from(TaskCc)
                             .outerjoin(HumanTask, _cc_task_join()).where(*where))


def _order(params: dict) -> list:
    sort, order = params.get("sort") or "created", params.get("order")
    if sort == "due":
        column = HumanTask.due_at.desc() if order == "desc" else HumanTask.due_at.asc()
        return [column.nulls_last(), HumanTask.id.desc()]
    if sort == "amount":
        column = HumanTask.amount.asc() if order == "asc" else HumanTask.amount.desc()
        return [column.nulls_last(), HumanTask.id.desc()]
    return [HumanTask.id.asc() if order == "asc" else HumanTask.id.desc()]


@dataclass
class Page:
    rows: list
    total: int
    page: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


def filtered(user: User, scope: str, params: dict, limit: int = 50,
             before_id: int | None = None, with_total: bool = False):
    """(rows, total or None): one page of a tab with the filters of ``params`` applied."""
    now = utcnow()
    rows = db.session.scalars(page_statement(user, scope, params, now, limit, before_id)).all()
    total = db.session.scalar(count_statement(user, scope, params, now)) if with_total else None
    if scope == "group":
        mark_stand_ins(user, rows)
    return rows, total


def page_statement(user: User, scope: str, params: dict, now: datetime, limit: int = 50,
                   before_id: int | None = None):
    """The SELECT of one page of a tab (filters, sort and page of ``params``)."""
    stmt = select(HumanTask).where(*_tab(user, scope), *_filters(user, scope, params, now))
    if before_id:
        stmt = stmt.where(HumanTask.id < before_id)
    page = params.get("page") or 1
    return stmt.order_by(*_order(params)).limit(limit).offset((page - 1) * limit)


def count_statement(user: User, scope: str, params: dict, now: datetime):
    """The SELECT counting a tab's tasks under the filters of ``params``."""
    where = _tab(user, scope, counting=True) + _filters(user, scope, params, now, counting=True)
    return select(func.count()).select_from(HumanTask).where(*where)


def mark_stand_ins(user: User, rows: list[HumanTask]) -> None:
    """Set ``on_behalf_of_id`` on group tasks the user sees only as someone's proxy."""
    from app.tasks.services import is_direct_candidate

    away = None
    for row in rows:
        if is_direct_candidate(row, user):
            continue
        if away is None:
            from app.tasks.proxies import _covers, away_principals

            away = away_principals(user)
        for person, proxy in away:
            if _covers(proxy, row.process_key) and is_direct_candidate(row, person):
                row.on_behalf_of_id = person.id
                break


def page_of(user: User, scope: str, params: dict, limit: int = 50) -> Page:
    """A numbered page of a tab (``cc``: the CC list) with the total count."""
    page = params.get("page") or 1
    if scope == "cc":
        rows, total = cc_filtered(user, params, limit, with_total=True)
        return Page(rows, total, page, limit)
    rows, total = filtered(user, scope, params, limit, with_total=True)
    return Page(rows, total, page, limit)


def counts(user: User, params: dict | None = None) -> dict:
    """How many tasks each tab holds under the filter (``cc_unread``: unread CCs)."""
    from app.tasks.cc import unread_count

    params = params or {}
    now = utcnow()
    out = {}
    for scope in ("mine", "group", "completed"):
        out[scope] = db.session.scalar(count_statement(user, scope, params, now))
    out["cc"] = _cc_count(_cc_filters(user, params, now))
    out["cc_unread"] = unread_count(user)
    out["overdue"] = db.session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.assignee_id == user.id, HumanTask.status == "open",
        HumanTask.due_at <= now)) or 0
    return out


# --- Saved filters ---------------------------------------------------------------------

def _normalised(query: str) -> str:
    """Check a saved query string and store it in canonical form (422 per field)."""
    pairs = dict(parse_qsl((query or "").lstrip("?"), keep_blank_values=False))
    unknown = sorted(set(pairs) - set(FILTERS) - {"sort", "order", "scope"})
    if unknown:
        raise ValidationFailed({"query": [f"Unknown filter(s): {', '.join(unknown)}"]})
    scope = pairs.pop("scope", None)
    if scope is not None and scope not in TABS:
        raise ValidationFailed({"query": [f"scope must be one of {', '.join(TABS)}"]})
    try:
        params = InboxFilterSchema().load(pairs)
    except ValidationError as exc:
        raise ValidationFailed({"query": [f"{k}: {'; '.join(map(str, v))}"
                                          for k, v in exc.messages.items()]}) from None
    text = query_string(params)
    if scope:
        text = urlencode([("scope", scope)]) + ("&" + text if text else "")
    return text


def _clean_name(name) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ValidationFailed({"name": ["Give the filter a name"]})
    if len(text) > 60:
        raise ValidationFailed({"name": ["At most 60 characters"]})
    return text


def saved_filters(user: User) -> list[SavedFilter]:
    return db.session.scalars(select(SavedFilter).where(SavedFilter.user_id == user.id)
                              .order_by(SavedFilter.name)).all()


def _taken(user: User, name: str, but: int | None = None) -> bool:
    stmt = select(SavedFilter.id).where(SavedFilter.user_id == user.id, SavedFilter.name == name)
    if but is not None:
        stmt = stmt.where(SavedFilter.id != but)
    return db.session.scalar(stmt.limit(1)) is not None


def save_filter(user: User, name, query) -> SavedFilter:
    name, text = _clean_name(name), _normalised(query)
    if _taken(user, name):
        raise ValidationFailed({"name": [f"You already have a filter named '{name}'"]})
    if len(saved_filters(user)) >= MAX_SAVED:
        raise ValidationFailed({"name": [f"At most {MAX_SAVED} saved filters"]})
    row = SavedFilter(user_id=user.id, name=name, query=text)
    db.session.add(row)
    db.session.flush()
    record(user.username, "inbox.filter_saved", target_type="saved_filter", target_id=row.id,
           details={"name": name, "query": text})
    return row


def get_filter(user: User, filter_id: int) -> SavedFilter:
    row = db.session.get(SavedFilter, filter_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"Saved filter {filter_id} not found")
    return row


def update_filter(user: User, filter_id: int, name=None, query=None) -> SavedFilter:
    row = get_filter(user, filter_id)
    if name is not None:
        name = _clean_name(name)
        if _taken(user, name, but=row.id):
            raise ValidationFailed({"name": [f"You already have a filter named '{name}'"]})
        row.name = name
    if query is not None:
        row.query = _normalised(query)
    return row


def delete_filter(user: User, filter_id: int) -> None:
    row = get_filter(user, filter_id)
    record(user.username, "inbox.filter_deleted", target_type="saved_filter", target_id=row.id,
           details={"name": row.name})
    db.session.delete(row)

