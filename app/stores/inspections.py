"""Inspection plans, once-per-slot generation, checklists, corrective actions, the dashboard."""

import re
from datetime import date, timedelta

import orjson
from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.exc import StaleDataError

from app.audit.services import record
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.stores.models import (
    INSPECTION_ITEMS,
    INSPECTION_OPEN,
    Inspection,
    InspectionPlan,
    InspectionScore,
    Store,
    StoreEvent,
)
from app.stores.services import STAFF_ROLES, add_event

SLOT_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
PERIODS = (1, 2, 3, 6, 12)
ITEM_MAX = 10


def slot_index(slot: str, field: str = "slot") -> int:
    match = SLOT_RE.match(slot or "")
    if not match:
        raise ValidationFailed({field: ["Give a month as YYYY-MM."]})
    return int(match[1]) * 12 + int(match[2]) - 1


def slot_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _slot_start(slot: str) -> date:
    return date(int(slot[:4]), int(slot[5:7]), 1)


# -- plans ------------------------------------------------------------------------------------

def _covering(store_type: str | None, store_id: int | None, exclude_id: int | None = None):
    stmt = select(InspectionPlan).where(InspectionPlan.active.is_(True))
    if exclude_id is not None:
        stmt = stmt.where(InspectionPlan.id != exclude_id)
    if store_id:
        return stmt.where(InspectionPlan.store_id == store_id)
    return stmt.where(InspectionPlan.store_type == store_type, InspectionPlan.store_id.is_(None))


def _check_plan(data: dict, exclude_id: int | None = None) -> None:
    """The rules a plan obeys when created and after every change: 422 per field for a bad
    month, scope, period, due window or checklist; 409 when another active plan already
    covers the same stores (their inspections would overlap)."""
    slot_index(data["start_month"], "start_month")
    if bool(data.get("store_type")) == bool(data.get("store_id")):
        raise ValidationFailed({"store_type": ["Give either a store type or one store."]})
    if data["every_months"] not in PERIODS:
        raise ValidationFailed({"every_months": [f"One of {', '.join(map(str, PERIODS))}."]})
    if data["due_days"] > data["every_months"] * 28:
        raise ValidationFailed({"due_days": [
            f"{data['due_days']} days to inspect with a new inspection every "
            f"{data['every_months']} month(s) would overlap the next one."]})
    checklist = data.get("checklist")
    if checklist is not None:
        if not checklist:
            raise ValidationFailed({"checklist": ["Choose at least one checklist item."]})
        if len(set(checklist)) != len(checklist):
            raise ValidationFailed({"checklist": ["Each item appears once."]})
    if data.get("store_id"):
        Store.get_or_404(data["store_id"], "Store")
    if data.get("active", True):
        clash = db.session.scalar(_covering(data.get("store_type"), data.get("store_id"),
                                            exclude_id).limit(1))
        if clash is not None:
            raise Conflict(f"Plan '{clash.name}' already covers these stores; inspections "
                           "would overlap", code="plan_overlaps", details={"plan_id": clash.id})


def _checklist_csv(checklist) -> str | None:
    if not checklist or set(checklist) == set(INSPECTION_ITEMS):
        return None
    return ",".join(i for i in INSPECTION_ITEMS if i in checklist)


def create_plan(user, data: dict) -> InspectionPlan:
    """A plan for a store type or one store; 422/409 when it would overlap inspections."""
    if not user.has_role("store_ops", "admin"):
        raise Forbidden("Only store operations plan inspections")
    _check_plan(data)
    plan = InspectionPlan(name=data["name"], store_type=data.get("store_type"),
                          store_id=data.get("store_id"), every_months=data["every_months"],
                          start_month=data["start_month"], due_days=data["due_days"],
                          threshold=data["threshold"],
                          checklist_csv=_checklist_csv(data.get("checklist")),
                          created_by=user.username)
    db.session.add(plan)
    db.session.flush()
    record(user.username, "inspection_plan.created", target_type="inspection_plan",
           target_id=plan.id, details={k: v for k, v in data.items() if v is not None})
    return plan


PLAN_FIELDS = ("name", "every_months", "start_month", "due_days", "threshold", "checklist",
               "active")


def _plan_values(plan: InspectionPlan) -> dict:
    return {"name": plan.name, "store_type": plan.store_type, "store_id": plan.store_id,
            "every_months": plan.every_months, "start_month": plan.start_month,
            "due_days": plan.due_days, "threshold": plan.threshold,
            "checklist": plan.checklist, "active": plan.active}


def check_version(plan: InspectionPlan, *versions: int | None) -> None:
    """409 when a client edits a plan from a stale copy: each version it sent back (the body's
    ``version``, the ``If-Match`` header) must be the plan's current one."""
    for version in versions:
        if version is not None and version != plan.version:
            raise Conflict(f"Plan '{plan.name}' was changed by someone else (version "
                           f"{plan.version}, you edited version {version}); reload it and "
                           "apply your change again", code="plan_changed",
                           details={"version": plan.version})


def open_inspections_of(plan: InspectionPlan) -> int:
    return db.session.scalar(select(func.count()).where(
        Inspection.plan_id == plan.id, Inspection.status.in_(INSPECTION_OPEN))) or 0


def open_inspection_counts() -> dict[int, int]:
    """Plan id → how many of its inspections are still open."""
    return dict(db.session.execute(select(Inspection.plan_id, func.count()).where(
        Inspection.status.in_(INSPECTION_OPEN)).group_by(Inspection.plan_id)).all())


def _cancel_open_inspections(plan: InspectionPlan, actor: str, reason: str) -> list[int]:
    """Cancel the plan's open inspections (a guarded UPDATE: one submitted meanwhile stays
    submitted) and write one entry per inspection into its store's history."""
    table = Inspection.__table__
    rows = db.session.execute(table.update().where(
        table.c.plan_id == plan.id, table.c.status.in_(INSPECTION_OPEN))
        .values(status="cancelled").returning(table.c.id, table.c.store_id, table.c.slot)).all()
    if rows:
        now = utcnow()
        db.session.execute(StoreEvent.__table__.insert(), [
            {"store_id": r.store_id, "kind": "inspection_cancelled", "actor": actor,
             "message": reason, "recipient_role": None, "created_at": now,
             "details": orjson.dumps({"inspection_id": r.id, "slot": r.slot,
                                      "plan_id": plan.id, "plan": plan.name}).decode()}
            for r in rows])
    return sorted(r.id for r in rows)


def update_plan(plan: InspectionPlan, user, changes: dict, *, version: int | None = None,
                if_match: int | None = None) -> InspectionPlan:
    """Edit or (de)activate a plan under the rules of ``create_plan``; record what changed.

    A deactivated plan generates nothing. Its open inspections stay open unless
    ``changes["cancel_open"]`` is true: then they are cancelled with ``changes["reason"]``,
    recorded in each store's history. Reactivating a plan is refused while another active
    plan covers the same stores. Changing the threshold applies to inspections generated
    from then on. ``version`` / ``if_match``: the version the client edited; a stale one is
    a 409 and nothing changes.
    """
    if not user.has_role("store_ops", "admin"):
        raise Forbidden("Only store operations change inspection plans")
    check_version(plan, version, if_match)
    before = _plan_values(plan)
    after = before | {k: v for k, v in changes.items() if k in PLAN_FIELDS}
    if after.get("checklist") is None:
        after["checklist"] = list(INSPECTION_ITEMS)
    diff = {k: {"from": before[k], "to": after[k]} for k in PLAN_FIELDS if before[k] != after[k]}
    deactivating = diff.get("active", {}).get("to") is False
    reason = (changes.get("reason") or "").strip()
    if changes.get("cancel_open"):
        if not deactivating:
            raise ValidationFailed({"cancel_open": [
                "Open inspections are cancelled only when deactivating an active plan."]})
        if len(reason) < 2:
            raise ValidationFailed({"reason": [
                "Say why the open inspections are cancelled (at least 2 characters)."]})
    if not diff:
        return plan
    _check_plan(after, exclude_id=plan.id)
    plan.name, plan.every_months, plan.start_month = (after["name"], after["every_months"],
                                                      after["start_month"])
    plan.due_days, plan.threshold, plan.active = (after["due_days"], after["threshold"],
                                                  after["active"])
    plan.checklist_csv = _checklist_csv(after["checklist"])
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("The plan was changed by someone else at the same time; reload it and "
                       "apply your change again", code="plan_changed") from None
    details: dict = {"changes": diff}
    if deactivating:
        if changes.get("cancel_open"):
            details["cancelled_inspections"] = _cancel_open_inspections(plan, user.username,
                                                                        reason)
            details["reason"] = reason
        else:
            details["kept_open"] = open_inspections_of(plan)
    action = ("inspection_plan.deactivated" if deactivating else
              "inspection_plan.activated" if "active" in diff else "inspection_plan.changed")
    record(user.username, action, target_type="inspection_plan", target_id=plan.id,
           details=details)
    if plan.store_id:
        store = db.session.get(Store, plan.store_id)
        add_event(store, f"plan_{action.split('.', 1)[1]}", user.username, plan.name,
                  details={"plan_id": plan.id, "changes": diff})
    return plan


def plan_history(plan: InspectionPlan) -> list[dict]:
    """The plan's creation and every change, from the audit trail."""
    from app.audit.models import AuditEvent

    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.target_type == "inspection_plan", AuditEvent.target_id == str(plan.id),
        AuditEvent.action.like("inspection_plan.%")).order_by(AuditEvent.id)).all()
    return [{"at": e.at, "actor": e.actor, "action": e.action.split(".", 1)[1],
             "details": orjson.loads(e.details or "{}")} for e in events]


def plan_detail(plan: InspectionPlan) -> dict:
    return _plan_values(plan) | {"id": plan.id, "created_by": plan.created_by,
                                 "version": plan.version,
                                 "open_inspections": open_inspections_of(plan),
                                 "history": plan_history(plan)}


def list_plans() -> list[InspectionPlan]:
    return db.session.scalars(select(InspectionPlan).order_by(InspectionPlan.id)).all()


def ensure_plan_for(store: Store) -> InspectionPlan:
    """A newly active store is inspected by its type's plan, or gets a monthly plan of its own."""
    plan = db.session.scalar(_covering(store.store_type, None).limit(1))
    if plan is None:
        plan = db.session.scalar(_covering(None, store.id).limit(1))
    if plan is None:
        plan = InspectionPlan(name=f"{store.code} monthly", store_id=store.id, every_months=1,
                              start_month=slot_of(date.today() + timedelta(days=31)),
                              due_days=20, threshold=70, created_by="worker")
        db.session.add(plan)
        db.session.flush()
    add_event(store, "inspection_plan_assigned", "worker", plan.name,
              details={"plan_id": plan.id})
    return plan


# -- generation -------------------------------------------------------------------------------

def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))


def _plan_stores(plan: InspectionPlan):
    s = Store.__table__.c
    if plan.store_id:
        return [s.id == plan.store_id]
    own = select(literal(1)).where(InspectionPlan.store_id == s.id,
                                   InspectionPlan.active.is_(True))
    return [s.store_type == plan.store_type, ~exists(own)]


def generate_inspections(slot: str, actor: str = "worker") -> int:
    """Create the inspections due in ``slot`` (YYYY-MM) for every active plan; return how many.

    One INSERT … SELECT per plan; the unique (plan, store, slot) key with ON CONFLICT DO
    NOTHING makes a second run, or a concurrent one on another worker, create nothing.
    """
    index = slot_index(slot)
    table, s = Inspection.__table__, Store.__table__.c
    created = 0
    for plan in db.session.scalars(select(InspectionPlan).where(InspectionPlan.active.is_(True))
                                   .order_by(InspectionPlan.id)).all():
        offset = index - slot_index(plan.start_month)
        if offset < 0 or offset % plan.every_months:
            continue
        due = _slot_start(slot) + timedelta(days=plan.due_days - 1)
        rows = select(literal(plan.id), s.id, literal(slot), s.region, s.store_type,
                      literal("open"), literal(due), literal(plan.threshold),
                      literal(utcnow())).where(s.status == "active", *_plan_stores(plan))
        stmt = _insert(table).from_select(
            ["plan_id", "store_id", "slot", "region", "store_type", "status", "due_on",
             "threshold", "created_at"], rows).on_conflict_do_nothing(
            index_elements=["plan_id", "store_id", "slot"]).returning(table.c.id)
        # RETURNING names only the rows inserted (rowcount is -1 for this on psycopg).
        count = len(db.session.execute(stmt).all())
        if count:
            record(actor, "inspections.generated", target_type="inspection_plan",
                   target_id=plan.id, details={"slot": slot, "created": count})
        created += count
    return created


def generate_current_slot(today: date | None = None, actor: str = "worker") -> int:
    """The periodic job: generate this month's inspections (a no-op after the first run)."""
    return generate_inspections(slot_of(today or date.today()), actor)


def _notify(kind: str, rows) -> None:
    """Tell the inspectors / managers concerned (``app.stores.reminders``)."""
    from app.stores import reminders

    stores = {s.id: s for s in db.session.scalars(
        select(Store).where(Store.id.in_({r.store_id for r in rows})))}
    for r in rows:
        store = stores[r.store_id]
        reminders.tell(kind, store.id, store.name, f"Inspection {r.id} due {r.due_on}",
                       dealer_id=store.dealer_id, region=store.region, inspector=r.inspector)


def check_inspections(today: date | None = None, remind_days_before: int = 3) -> dict:
    """Remind inspectors of inspections due soon, escalate overdue ones to store operations.

    Each inspection is reminded once and escalated once (guarded UPDATEs, so concurrent runs
    do not double up); the reminders are store events addressed to a role.
    """
    today, now = today or date.today(), utcnow()
    table = Inspection.__table__
    soon = table.update().where(
        table.c.status == "open", table.c.reminded_at.is_(None),
        table.c.due_on <= today + timedelta(days=remind_days_before)).values(reminded_at=now)
    late = table.update().where(table.c.status == "open", table.c.escalated_at.is_(None),
                                table.c.due_on < today).values(escalated_at=now)
    counts = {}
    for kind, stmt, column, role in (("inspection_due_soon", soon, table.c.reminded_at,
                                      "inspector"),
                                     ("inspection_overdue", late, table.c.escalated_at,
                                      "store_ops")):
        db.session.execute(stmt)
        rows = db.session.execute(select(table.c.id, table.c.store_id, table.c.due_on,
                                         table.c.inspector).where(column == now)).all()
        if rows:
            db.session.execute(StoreEvent.__table__.insert(), [
                {"store_id": r.store_id, "kind": kind, "actor": "system",
                 "message": f"Inspection {r.id} due {r.due_on}", "recipient_role": role,
                 "details": "{}", "created_at": now} for r in rows])
            _notify(kind, rows)
            record("system", f"stores.{kind}", target_type="inspection",
                   details={"count": len(rows), "today": today})
        counts[kind] = len(rows)
    return counts


# -- inspections ------------------------------------------------------------------------------

def visible_inspections(user):
    stmt = select(Inspection)
    if user.has_role("inspector") and user.region and not user.has_role("admin", "store_ops"):
        return stmt.where(Inspection.region == user.region)  # an inspector covers a region
    if user.has_role(*STAFF_ROLES):
        return stmt
    if user.has_role("regional_manager"):
        return stmt.where(Inspection.region == user.region)
    if user.dealer_id:
        return stmt.where(Inspection.store_id.in_(
            select(Store.id).where(Store.dealer_id == user.dealer_id)))
    return stmt.where(False)


def list_inspections(user, status=None, slot=None, store_id=None, limit: int = 100):
    stmt = visible_inspections(user)
    if status:
        stmt = stmt.where(Inspection.status == status)
    if slot:
        stmt = stmt.where(Inspection.slot == slot)
    if store_id:
        stmt = stmt.where(Inspection.store_id == store_id)
    return db.session.scalars(stmt.order_by(Inspection.due_on, Inspection.id).limit(limit)).all()


def get_inspection_for(inspection_id: int, user) -> Inspection:
    found = db.session.scalar(visible_inspections(user).where(Inspection.id == inspection_id))
    if found is None:
        raise NotFound(f"Inspection {inspection_id} not found")
    return found


def scores_of(inspection: Inspection) -> list[InspectionScore]:
    return db.session.scalars(select(InspectionScore).where(
        InspectionScore.inspection_id == inspection.id).order_by(InspectionScore.id)).all()


def checklist_of(inspection: Inspection) -> list[str]:
    """The items an inspection scores: its plan's checklist."""
    plan = db.session.get(InspectionPlan, inspection.plan_id)
    return plan.checklist if plan is not None else list(INSPECTION_ITEMS)


def _check_items(items: list[dict], checklist: list[str]) -> dict[str, dict]:
    by_item, errors = {}, {}
    for i, row in enumerate(items):
        if row["item"] not in checklist:
            errors[f"items.{i}.item"] = ["Not on this plan's checklist."]
        elif row["item"] in by_item:
            errors[f"items.{i}.item"] = ["Scored twice."]
        by_item[row["item"]] = row
    missing = [name for name in checklist if name not in by_item]
    if missing:
        errors["items"] = [f"Score every item; missing: {', '.join(missing)}."]
    if errors:
        raise ValidationFailed(errors)
    return by_item


def submit_inspection(inspection: Inspection, user, data: dict) -> Inspection:
    """Record the checklist once (a second submission is 409); a low score opens the
    dealer's corrective action."""
    from app.stores.photos import link_photos

    if not user.has_role("inspector", "admin"):
        raise Forbidden("Only inspectors submit inspections")
    by_item = _check_items(data["items"], checklist_of(inspection))
    score = round(sum(r["score"] for r in by_item.values()) * 100
                  / (ITEM_MAX * len(by_item)))
    done = db.session.execute(Inspection.__table__.update().where(
        Inspection.id == inspection.id, Inspection.status == "open").values(
        status="submitted", score=score, inspector=user.username, submitted_at=utcnow(),
        notes=data.get("notes")))
    if done.rowcount != 1:
        raise Conflict(f"Inspection {inspection.id} was already submitted or cancelled",
                       code="inspection_closed")
    db.session.refresh(inspection)
    db.session.add_all(InspectionScore(inspection_id=inspection.id, item=name,
                                       score=row["score"], note=row.get("note"))
                       for name, row in by_item.items())
    link_photos(data.get("photos") or [], actor=user.username, store_id=inspection.store_id,
                inspection_id=inspection.id)
    store = db.session.get(Store, inspection.store_id)
    add_event(store, "inspected", user.username, f"Score {score} (threshold "
              f"{inspection.threshold})", details={"inspection_id": inspection.id})
    if score < inspection.threshold:
        _open_corrective(inspection, store, user, by_item)
    return inspection


def _dealer_username(dealer_id: int) -> str:
    """The dealer's first active user; without one, the first store operations user, so that
    the corrective action is never left open to every dealer's claim."""
    from app.core.models import User

    name = db.session.scalar(select(User.username).where(User.dealer_id == dealer_id,
                                                         User.active.is_(True))
                             .order_by(User.id).limit(1))
    if name is None:
        name = db.session.scalar(select(User.username).where(
            User.roles_csv.contains("store_ops"), User.active.is_(True)).order_by(User.id)
            .limit(1))
    return name or "admin"


def _open_corrective(inspection: Inspection, store: Store, user, by_item: dict) -> None:
    from app.engine import runtime
    from app.engine.services import create_instance, latest_version, run_engine, save

    worst = sorted(by_item.values(), key=lambda r: r["score"])[:2]
    due = date.today() + timedelta(days=7)
    data = {"store": str(store.id), "store_name": f"{store.code} {store.name}",
            "inspection_id": inspection.id, "score": inspection.score,
            "threshold": inspection.threshold, "region": store.region,
            "dealer_username": _dealer_username(store.dealer_id),
            "findings": "; ".join(f"{r['item']}: {r['score']}/{ITEM_MAX} {r.get('note') or ''}"
                                  .strip() for r in worst),
            "corrective_due": due.isoformat()}
    version = latest_version("store_inspection")
    instance, workflow = create_instance(version, user, business_key=f"inspection:{inspection.id}",
                                         title=f"{store.code} {store.name}", region=store.region,
                                         subject=("store", store.id))
    runtime.seed_data(workflow, data)
    run_engine(instance, workflow)
    save(instance, workflow, user)
    inspection.corrective_instance_id, inspection.corrective_status = instance.id, "open"
    add_event(store, "corrective_action_opened", user.username,
              f"Corrective action due {due}", recipient_role="dealer",
              instance_id=instance.id, details={"inspection_id": inspection.id})


def record_reinspection(params: dict, instance_id: int) -> Inspection:
    inspection = Inspection.get_or_404(int(params["inspection_id"]), "Inspection")
    if inspection.corrective_status in ("passed", "failed"):
        return inspection
    passed = params.get("decision") == "pass"
    inspection.reinspection_score = params.get("score")
    inspection.corrective_status = "passed" if passed else "failed"
    add_event(db.session.get(Store, inspection.store_id), "reinspected", "worker",
              f"Re-inspection {'passed' if passed else 'failed'}", instance_id=instance_id,
              details={"inspection_id": inspection.id, "score": params.get("score")})
    return inspection


# -- dashboard --------------------------------------------------------------------------------

def dashboard(user, today: date | None = None, months: int = 6) -> dict:
    """Average scores by region and store type per month, overdue inspections, worst items."""
    today = today or date.today()
    first = slot_of(date(today.year, today.month, 1) - timedelta(days=31 * (months - 1)))
    scope = visible_inspections(user).subquery()
    done = and_(scope.c.status == "submitted", scope.c.slot >= first)

    def series(column):
        rows = db.session.execute(select(scope.c.slot, column, func.avg(scope.c.score))
                                  .where(done).group_by(scope.c.slot, column)
                                  .order_by(scope.c.slot)).all()
        return [{"slot": r[0], "key": r[1], "score": round(float(r[2]), 1)} for r in rows]

    overdue = db.session.execute(select(scope.c.region, func.count()).where(
        scope.c.status == "open", scope.c.due_on < today).group_by(scope.c.region)).all()
    worst = db.session.execute(
        select(InspectionScore.item, func.avg(InspectionScore.score), func.count())
        .join(scope, scope.c.id == InspectionScore.inspection_id).where(done)
        .group_by(InspectionScore.item).order_by(func.avg(InspectionScore.score))).all()
    return {"by_region": series(scope.c.region), "by_type": series(scope.c.store_type),
            "overdue": [{"region": r[0], "count": r[1]} for r in overdue],
            "worst_items": [{"item": r[0], "score": round(float(r[1]) * 100 / ITEM_MAX, 1),
                             "count": r[2]} for r in worst]}


def inspection_detail(inspection: Inspection) -> dict:
    from app.stores.photos import photos_of

    out = {c.key: getattr(inspection, c.key) for c in Inspection.__table__.columns}
    out.update(scores=scores_of(inspection), photos=photos_of(inspection_id=inspection.id),
               checklist=checklist_of(inspection))
    return out
