"""Closing and suspending stores: refusal while items are open, or their explicit cancellation."""

from datetime import date

from sqlalchemy import select

from app.core.errors import Conflict, Forbidden
from app.extensions import db
from app.stores.models import MILESTONE_OPEN, Inspection, InspectionPlan, Store
from app.stores.services import add_event, set_status
from connectors.registry import BusinessError


def open_items(store: Store) -> dict:
    milestones = [m.code for m in store.milestones if m.status in MILESTONE_OPEN]
    inspections = db.session.scalars(select(Inspection.id).where(
        Inspection.store_id == store.id, Inspection.status == "open")).all()
    return {"milestones": milestones, "inspections": list(inspections)}


def request_status_change(store: Store, user, kind: str, data: dict):
    """Start ``store_closure`` or ``store_suspension``; refuse (409) while items are open
    unless the caller asks to cancel them."""
    from app.tasks.services import start_instance

    if not (user.dealer_id == store.dealer_id or user.has_role("store_ops", "admin")):
        raise Forbidden("Only the store's dealer or store operations may ask for this")
    allowed = {"closure": ("active", "suspended", "opening", "planned"),
               "suspension": ("active",), "resumption": ("suspended",)}[kind]
    if store.status not in allowed:
        raise Conflict(f"A {store.status} store cannot go through {kind}", code="wrong_status")
    items = open_items(store)
    if kind == "closure" and (items["milestones"] or items["inspections"]) \
            and not data.get("cancel_open_items"):
        raise Conflict("The store has open milestones or inspections; cancel them explicitly "
                       "(cancel_open_items) or finish them first", code="store_has_open_items",
                       details={"open": items})
    form = {"store": str(store.id), "region": store.region, "reason": data["reason"],
            "cancel_open_items": "yes" if data.get("cancel_open_items") else "no",
            "effective_date": data.get("effective_date"), "title": f"{store.code} {store.name}"}
    instance = start_instance(f"store_{kind}", user, form, business_key=f"{kind}:{store.id}")
    add_event(store, f"{kind}_requested", user.username, data["reason"],
              instance_id=instance.id, details={"open": items})
    return instance


def cancel_open_items(store: Store, actor: str, instance_id: int | None) -> dict:
    items = open_items(store)
    for m in store.milestones:
        if m.status in MILESTONE_OPEN:
            m.status = "cancelled"
    if items["inspections"]:
        db.session.execute(Inspection.__table__.update()
                           .where(Inspection.id.in_(items["inspections"]))
                           .values(status="cancelled"))
    if items["milestones"] or items["inspections"]:
        add_event(store, "open_items_cancelled", actor, "Cancelled with the closure",
                  instance_id=instance_id, details=items)
    return items


def _check_requester(store: Store, username: str | None) -> None:
    """The request may come from the generic process start: the requester must be the
    store's dealer or store operations, or the change is refused (a BPMN error)."""
    from app.core.models import User

    user = User.by_username(username or "")
    if user is None or not (user.dealer_id == store.dealer_id
                            or user.has_role("store_ops", "admin")):
        raise BusinessError("NOT_ALLOWED", f"{username} may not change store {store.code}")


def _store_param(params: dict) -> Store:
    store = db.session.get(Store, int(params["store"])) if str(params["store"]).isdigit() else None
    if store is None:
        raise BusinessError("NOT_ALLOWED", f"Store {params['store']} does not exist")
    _check_requester(store, params.get("requested_by"))
    return store


def close_store(params: dict, instance_id: int) -> Store:
    store = _store_param(params)
    if store.status == "closed":
        return store
    cancel_open_items(store, "worker", instance_id)
    store.closed_on = params.get("effective_date") or date.today()
    set_status(store, "closed", "worker", params.get("reason"), instance_id)
    _deactivate_store_plans(store)
    return store


def suspend_store(params: dict, instance_id: int) -> Store:
    store = _store_param(params)
    if store.status != "suspended":
        set_status(store, "suspended", "worker", params.get("reason"), instance_id)
    return store


def _deactivate_store_plans(store: Store) -> None:
    for plan in db.session.scalars(select(InspectionPlan).where(InspectionPlan.store_id == store.id)):
        plan.active = False


def resume_store(params: dict, instance_id: int) -> Store:
    store = _store_param(params)
    if store.status == "suspended":
        set_status(store, "active", "worker", params.get("reason"), instance_id)
    return store
