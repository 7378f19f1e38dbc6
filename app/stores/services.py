"""Store ledger services: scope, history, the opening project and its milestones, lifecycle."""

from datetime import date, timedelta
from decimal import Decimal

import orjson
from sqlalchemy import case, func, or_, select

from app.audit.services import record
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import utcnow
from app.dealers.models import Dealer
from app.extensions import db
from app.stores.models import (
    BUDGET_CATEGORIES,
    MILESTONE_OPEN,
    MILESTONES,
    Inspection,
    Store,
    StoreBudgetLine,
    StoreEvent,
    StoreMilestone,
)
from connectors.registry import BusinessError

STAFF_ROLES = ("admin", "analyst", "finance", "sales_director", "customer_service", "store_ops",
               "inspector")
# Share of the time from approval to the expected opening at which each milestone is due,
# and the budget category its actual cost books to.
MILESTONE_PLAN = {"lease_signed": (0.2, "rent"), "decoration": (0.6, "decoration"),
                  "equipment": (0.75, "equipment"), "staff_training": (0.9, None),
                  "acceptance": (1.0, "first_stock")}


def visible_stores(user, stmt=None):
    """Stores a user may see: staff all, regional managers their region, dealers their own."""
    stmt = select(Store) if stmt is None else stmt
    if user.has_role(*STAFF_ROLES):
        return stmt
    if user.has_role("regional_manager"):
        return stmt.where(Store.region == user.region)
    if user.dealer_id:
        return stmt.where(Store.dealer_id == user.dealer_id)
    return stmt.where(False)


def filtered_stores(user, region=None, dealer=None, status=None, q=None, store_type=None):
    stmt = visible_stores(user)
    if region:
        stmt = stmt.where(Store.region == region)
    if dealer:
        stmt = stmt.where(Store.dealer_id == int(dealer))
    if status:
        stmt = stmt.where(Store.status == status)
    if store_type:
        stmt = stmt.where(Store.store_type == store_type)
    if q:
        stmt = stmt.where(or_(Store.name.contains(q), Store.code.contains(q),
                              Store.city.contains(q)))
    return stmt


LEDGER_COLUMNS = (Store.id, Store.code, Store.name, Store.dealer_id, Store.region, Store.status,
                  Store.city, Store.address, Store.store_type, Store.area_m2,
                  Store.expected_opening, Store.opened_on, Store.closed_on, Store.budget_total,
                  Store.actual_total, Store.updated_at)


def list_stores(user, limit: int = 100, offset: int = 0, **filters) -> list:
    """One page of the ledger, newest first: plain rows (no per-store relationship loads)."""
    stmt = (filtered_stores(user, **filters).with_only_columns(
        *LEDGER_COLUMNS, Dealer.name.label("dealer_name"))
        .join(Dealer, Dealer.id == Store.dealer_id)
        .order_by(Store.id.desc()).limit(limit).offset(offset))
    return db.session.execute(stmt).all()  # rows with attribute access: cheapest to render


def iter_ledger(user, **filters):
    """Every ledger row in scope, streamed in batches (for the Excel export)."""
    stmt = (filtered_stores(user, **filters).with_only_columns(
        *LEDGER_COLUMNS, Dealer.name.label("dealer_name"))
        .join(Dealer, Dealer.id == Store.dealer_id).order_by(Store.id))
    yield from db.session.execute(stmt.execution_options(yield_per=1000)).mappings()


def morning_view(user, limit: int = 200) -> list:
    """Per store being opened (or just opened): milestone progress, cost against budget, state."""
    m = StoreMilestone
    progress_q = (select(m.store_id, func.count(m.id).label("total"),
                         func.sum(case((m.status == "confirmed", 1), else_=0)).label("done"),
                         func.sum(case((m.overdue_since.is_not(None), 1), else_=0))
                         .label("overdue"), func.min(case((m.status.in_(MILESTONE_OPEN),
                                                           m.planned_date))).label("next_due"))
                  .group_by(m.store_id).subquery())
    stmt = (visible_stores(user).with_only_columns(
        *LEDGER_COLUMNS, Dealer.name.label("dealer_name"), progress_q.c.total, progress_q.c.done,
        progress_q.c.overdue, progress_q.c.next_due)
        .join(Dealer, Dealer.id == Store.dealer_id)
        .outerjoin(progress_q, progress_q.c.store_id == Store.id)
        .where(Store.status.in_(("planned", "opening", "active")))
        .order_by(case((Store.status == "opening", 0), (Store.status == "planned", 1), else_=2),
                  Store.id.desc()).limit(limit))
    return db.session.execute(stmt).all()


def count_stores(user, **filters) -> int:
    stmt = filtered_stores(user, **filters).with_only_columns(func.count(Store.id))
    return db.session.scalar(stmt.order_by(None)) or 0


def get_store_for(store_id: int, user) -> Store:
    """A store the user may see; others' stores answer 404 so ids leak nothing."""
    store = db.session.scalar(visible_stores(user).where(Store.id == store_id))
    if store is None:
        raise NotFound(f"Store {store_id} not found")
    return store


def add_event(store: Store, kind: str, actor: str, message: str | None = None, *,
              details: dict | None = None, recipient_role: str | None = None,
              instance_id: int | None = None) -> StoreEvent:
    """Append to the store's history and write the audit event in the same transaction."""
    event = StoreEvent(store_id=store.id, kind=kind, actor=actor, message=message,
                       details=orjson.dumps(details or {}, default=str).decode(),
                       recipient_role=recipient_role, instance_id=instance_id)
    db.session.add(event)
    record(actor, f"store.{kind}", target_type="store", target_id=store.id,
           instance_id=instance_id, dealer_id=store.dealer_id,
           details={"message": message, **(details or {})})
    return event


def history(store: Store) -> list[StoreEvent]:
    return db.session.scalars(select(StoreEvent).where(StoreEvent.store_id == store.id)
                              .order_by(StoreEvent.id)).all()


def set_status(store: Store, status: str, actor: str, reason: str | None,
                instance_id: int | None = None) -> None:
    before = store.status
    store.status, store.status_reason = status, reason
    db.session.flush()
    add_event(store, "status_changed", actor, reason, instance_id=instance_id,
              details={"from": before, "to": status})


# -- the opening application ------------------------------------------------------------------

def check_budget(lines: list[dict], total) -> None:
    """422 when a line is negative, a category is unknown or repeated, or the total is off."""
    errors: dict[str, list[str]] = {}
    seen = set()
    for i, line in enumerate(lines or []):
        amount = Decimal(str(line.get("amount") if line.get("amount") is not None else "0"))
        if amount < 0:
            errors[f"budget_lines.{i}.amount"] = ["Must not be negative."]
        category = line.get("category")
        if category not in BUDGET_CATEGORIES:
            errors[f"budget_lines.{i}.category"] = ["Unknown budget category."]
        elif category in seen:
            errors[f"budget_lines.{i}.category"] = ["Each category appears once."]
        seen.add(category)
    if not lines:
        errors["budget_lines"] = ["Give at least one budget line."]
    if not errors and total is not None:
        summed = sum((Decimal(str(line["amount"])) for line in lines), Decimal("0"))
        if summed != Decimal(str(total)):
            errors["budget_total"] = [f"The budget lines add up to {summed}, not {total}."]
    if errors:
        raise ValidationFailed(errors)


def applicant_dealer(user, requested) -> Dealer:
    """The dealer an application is for: a dealer user's own, or the one staff name."""
    if user.dealer_id:
        if requested not in (None, "", user.dealer_id, str(user.dealer_id)):
            raise NotFound(f"Dealer {requested} not found")
        return db.session.get(Dealer, user.dealer_id)
    if not user.has_role("store_ops", "admin"):
        raise Forbidden("Only dealers and store operations apply for stores")
    dealer = db.session.get(Dealer, int(requested)) if str(requested or "").isdigit() else None
    if dealer is None:
        raise ValidationFailed({"dealer": ["Choose the dealer that will run the store."]})
    return dealer


def apply_for_store(user, data: dict):
    """Start ``store_opening`` for the caller's dealer after checking the budget adds up."""
    from app.tasks.services import start_instance

    dealer = applicant_dealer(user, data.get("dealer"))
    if dealer.status != "active":
        raise Conflict(f"Dealer {dealer.code} is {dealer.status}", code="dealer_not_active")
    check_budget(data.get("budget_lines") or [], data.get("budget_total"))
    data = {**data, "dealer": str(dealer.id), "region": dealer.region,
            "title": f"{data.get('store_name') or ''} ({dealer.name})"}
    return start_instance("store_opening", user, data)


def register_application(params: dict, instance_id: int) -> Store:
    """Create the store (``planned``) with its budget lines; idempotent per instance."""
    store = db.session.scalar(select(Store).where(Store.opening_instance_id == instance_id))
    if store is not None:
        return store
    dealer = _applying_dealer(params, instance_id)
    lines = params.get("budget_lines") or []
    store = Store(name=params["store_name"], dealer_id=dealer.id, region=dealer.region,
                  status="planned", city=params["city"], address=params["address"],
                  store_type=params["store_type"], area_m2=params["area_m2"],
                  expected_opening=params.get("expected_opening"),
                  budget_total=sum((Decimal(str(x["amount"])) for x in lines), Decimal("0")),
                  opening_instance_id=instance_id)
    for line in lines:
        store.budget_lines.append(StoreBudgetLine(category=line["category"],
                                                  amount=line["amount"], note=line.get("note")))
    db.session.add(store)
    db.session.flush()
    store.code = f"S{dealer.region[:1].upper()}{store.id:06d}"
    add_event(store, "applied", "worker", "Opening application registered",
              instance_id=instance_id, details={"budget_total": store.budget_total})
    from app.stores.photos import link_photos

    link_photos(params.get("photos") or [], store_id=store.id, actor="worker")
    return store


def _applying_dealer(params: dict, instance_id: int) -> Dealer:
    """The dealer of an application started through any door (the generic process start
    included): the starter must be that dealer's user or store operations, and the region
    must be the dealer's; otherwise the process refuses it (a BPMN error)."""
    from app.core.models import User
    from app.engine.models import ProcessInstance

    dealer = db.session.get(Dealer, int(params["dealer"])) \
        if str(params.get("dealer") or "").isdigit() else None
    instance = db.session.get(ProcessInstance, instance_id)
    starter = db.session.get(User, instance.started_by_id) if instance else None
    allowed = dealer is not None and starter is not None and dealer.status == "active" and (
        starter.dealer_id == dealer.id or starter.has_role("store_ops", "admin"))
    if not allowed or params.get("region") not in (None, dealer.region):
        raise BusinessError("NOT_ALLOWED", "This application names a dealer or region the "
                                           "applicant may not apply for")
    return dealer


def store_of_instance(instance_id: int) -> Store:
    store = db.session.scalar(select(Store).where(Store.opening_instance_id == instance_id))
    if store is None:
        raise NotFound(f"No store belongs to instance {instance_id}")
    return store


def start_opening_project(instance_id: int, today: date | None = None) -> Store:
    """Budget approved: the store is ``opening`` and gets its five milestones (idempotent)."""
    store = store_of_instance(instance_id)
    if store.milestones:
        return store
    today = today or date.today()
    target = store.expected_opening if store.expected_opening and \
        store.expected_opening > today else today + timedelta(days=60)
    span = (target - today).days
    start = today
    for seq, code in enumerate(MILESTONES, start=1):
        share, category = MILESTONE_PLAN[code]
        due = today + timedelta(days=max(1, round(span * share)))
        store.milestones.append(StoreMilestone(code=code, seq=seq, category=category,
                                               planned_start=start, planned_date=due))
        start = due
    set_status(store, "opening", "worker", "Budget approved; opening project started",
                instance_id)
    return store


def reject_application(instance_id: int, reason: str | None) -> Store:
    store = store_of_instance(instance_id)
    if store.status != "closed":
        set_status(store, "closed", "worker", f"Application rejected: {reason or ''}".strip(),
                    instance_id)
    return store


def activate_store(instance_id: int) -> Store:
    """Acceptance passed: the store is ``active`` and covered by an inspection plan."""
    from app.stores.inspections import ensure_plan_for

    store = store_of_instance(instance_id)
    if store.status == "active":
        return store
    store.opened_on = date.today()
    set_status(store, "active", "worker", "Acceptance inspection passed", instance_id)
    ensure_plan_for(store)
    return store


# -- milestones -------------------------------------------------------------------------------

def get_milestone(store: Store, code: str) -> StoreMilestone:
    for milestone in store.milestones:
        if milestone.code == code:
            return milestone
    raise NotFound(f"Store {store.id} has no milestone '{code}'")


def report_milestone(store: Store, code: str, user, data: dict, today: date | None = None):
    """The dealer enters the actual date and cost of a milestone (until storeops confirms)."""
    if not (user.dealer_id == store.dealer_id or user.has_role("store_ops", "admin")):
        raise Forbidden("Only the store's dealer or store operations report milestones")
    milestone = get_milestone(store, code)
    if store.status != "opening" or milestone.status not in MILESTONE_OPEN:
        raise Conflict(f"Milestone '{code}' is {milestone.status}; it cannot be changed",
                       code="milestone_closed")
    today = today or date.today()
    actual = data["actual_date"]
    errors = {}
    if actual < milestone.planned_start:
        errors["actual_date"] = [f"Before the planned start ({milestone.planned_start})."]
    elif actual > today:
        errors["actual_date"] = ["Lies in the future."]
    if errors:
        raise ValidationFailed(errors)
    milestone.actual_date, milestone.actual_cost = actual, data["actual_cost"]
    milestone.note, milestone.status, milestone.reported_by = (data.get("note"), "reported",
                                                               user.username)
    _recompute_actual(store)
    add_event(store, "milestone_reported", user.username, code,
              details={"actual_date": actual, "actual_cost": data["actual_cost"]})
    return milestone


def confirm_milestone(store: Store, code: str, user) -> StoreMilestone:
    """Store operations confirm a reported milestone; the acceptance one wakes the process."""
    if not user.has_role("store_ops", "admin"):
        raise Forbidden("Only store operations confirm milestones")
    milestone = get_milestone(store, code)
    if milestone.status != "reported":
        raise Conflict(f"Milestone '{code}' is {milestone.status}, not reported",
                       code="milestone_not_reported")
    if code == "acceptance":
        pending = [m.code for m in store.milestones if m.code != code and m.status != "confirmed"]
        if pending:
            raise Conflict(f"Confirm these milestones first: {', '.join(pending)}",
                           code="milestones_open", details={"open": pending})
    milestone.status, milestone.confirmed_by = "confirmed", user.username
    milestone.overdue_since = None
    add_event(store, "milestone_confirmed", user.username, code)
    if code == "acceptance":
        _accept(store, user)
    return milestone


def _accept(store: Store, user) -> None:
    from app.engine.services import deliver_message

    db.session.flush()
    deliver_message("store_accepted", {"by": user.username}, user,
                    instance_id=store.opening_instance_id)


def _recompute_actual(store: Store) -> None:
    store.actual_total = sum((m.actual_cost or Decimal("0") for m in store.milestones),
                             Decimal("0"))


def budget_vs_actual(store: Store) -> list[dict]:
    """Per category: budget, actual (from the milestones), and the difference."""
    rows = {c: {"category": c, "budget": Decimal("0"), "actual": Decimal("0")}
            for c in BUDGET_CATEGORIES}
    for line in store.budget_lines:
        rows[line.category]["budget"] += line.amount
    for m in store.milestones:
        if m.actual_cost is not None and m.category:
            rows[m.category]["actual"] += m.actual_cost
    for row in rows.values():
        row["variance"] = row["actual"] - row["budget"]
    return list(rows.values())


def progress(store: Store) -> dict:
    done = sum(1 for m in store.milestones if m.status == "confirmed")
    overdue = sum(1 for m in store.milestones if m.overdue_since is not None)
    return {"done": done, "total": len(store.milestones), "overdue": overdue}


def check_overdue_milestones(today: date | None = None, escalate_after_days: int = 7) -> dict:
    """Mark milestones past their planned date overdue: remind the dealer once, then escalate.

    Reminders and escalations are store events addressed to a role (``dealer`` /
    ``regional_manager``) and notifications to those people (``app.stores.reminders``).
    """
    from app.stores import reminders

    today = today or date.today()
    now = utcnow()
    due = db.session.scalars(select(StoreMilestone).join(Store, Store.id == StoreMilestone.store_id)
                             .where(Store.status == "opening",
                                    StoreMilestone.status.in_(MILESTONE_OPEN),
                                    StoreMilestone.planned_date < today)).all()
    counts = {"reminded": 0, "escalated": 0}
    for m in due:
        store = db.session.get(Store, m.store_id)
        if m.reminded_at is None:
            m.overdue_since, m.reminded_at = m.planned_date + timedelta(days=1), now
            add_event(store, "milestone_overdue", "system",
                      f"Milestone '{m.code}' was due on {m.planned_date}",
                      recipient_role="dealer", details={"milestone": m.code})
            reminders.tell("milestone_overdue", store.id, store.name,
                           f"Milestone '{m.code}' was due on {m.planned_date}",
                           dealer_id=store.dealer_id, region=store.region)
            counts["reminded"] += 1
        elif m.escalated_at is None and (today - m.planned_date).days > escalate_after_days:
            m.escalated_at = now
            add_event(store, "milestone_escalated", "system",
                      f"Milestone '{m.code}' is {(today - m.planned_date).days} days late",
                      recipient_role="regional_manager", details={"milestone": m.code})
            reminders.tell("milestone_escalated", store.id, store.name,
                           f"Milestone '{m.code}' is {(today - m.planned_date).days} days late",
                           dealer_id=store.dealer_id, region=store.region)
            counts["escalated"] += 1
    db.session.flush()
    return counts


def store_detail(store: Store) -> dict:
    """Everything the store page and ``GET /stores/{id}`` show."""
    from app.stores.documents import documents_of, serialize
    from app.stores.photos import photos_of

    dealer = db.session.get(Dealer, store.dealer_id)
    found = db.session.scalars(select(Inspection).where(Inspection.store_id == store.id)
                               .order_by(Inspection.slot.desc(), Inspection.id.desc())).all()
    out = {c.key: getattr(store, c.key) for c in LEDGER_COLUMNS}
    out.update(dealer_name=dealer.name, status_reason=store.status_reason,
               opening_instance_id=store.opening_instance_id, budget=budget_vs_actual(store),
               milestones=store.milestones, progress=progress(store), inspections=found,
               history=history(store), photos=photos_of(store_id=store.id),
               documents=[serialize(doc) for doc in documents_of(store)])
    return out
