"""Dealer portal pages: dashboard, cart (priced live through the promotions API) and orders.

The cart lives in the browser (localStorage) and talks to the JSON API with the session cookie
and the X-CSRFToken header: POST /api/v1/promotions/preview and POST /api/v1/orders.
Staff with order rights (customer service, finance, directors, admins) get the orders pages,
with filters (status, dealer, region, date range) and pages of 50.
"""

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from app.admin.services import region_choices
from app.announcements import services as announcements
from app.catalog.services import is_dealer_user
from app.core.errors import AppError, Forbidden
from app.core.models import utcnow
from app.dealers.models import Dealer
from app.extensions import db
from app.orders import services as orders
from app.orders.models import ORDER_STATUSES
from app.payments import services as payments
from app.promotions.services import live_promotions
from app.tasks import services as tasks

bp = Blueprint("portal", __name__)

CLOSED = ("completed", "rejected", "cancelled")
ATTENTION = ("returned", "credit_blocked", "erp_error", "rejected")
PER_PAGE = 50
STEPS = [
    ("submitted", _l("Submitted")),
    ("reviewed", _l("Reviewed by customer service")),
    ("credit", _l("Credit checked")),
    ("erp", _l("ERP orders created")),
    ("shipped", _l("Shipped")),
    ("invoiced", _l("Invoiced")),
]
EVENT_LABELS = {
    "submitted": _l("Submitted"),
    "credit_checked": _l("Credit checked"),
    "credit_pass": _l("Credit check passed"),
    "credit_warn": _l("Credit check passed with a warning"),
    "credit_block": _l("Credit blocked, waiting for finance"),
    "split": _l("Split into ERP orders"),
    "erp_orders": _l("ERP orders created"),
    "rejected": _l("Rejected"),
    "parts_cancelled": _l("Order parts cancelled"),
    "shipped": _l("Shipped"),
    "invoiced": _l("Invoiced"),
    "completed": _l("Completed"),
    "prepayment_requested": _l("Prepayment requested from the bank"),
    "prepayment_received": _l("Prepayment received"),
    "prepayment_unmatched": _l("Prepayment received after the order was decided"),
    "credit_block_expired": _l("Cancelled: credit was not released in time"),
    "returned": _l("Returned to the dealer"),
    "resubmitted": _l("Resubmitted by the dealer"),
    "cancelled_by_dealer": _l("Cancelled by the dealer"),
}
STATUS_LABELS = {
    "submitted": _l("Submitted"),
    "returned": _l("Returned to the dealer"),
    "credit_blocked": _l("Credit blocked"),
    "approved": _l("Approved"),
    "in_erp": _l("In the ERP"),
    "erp_error": _l("ERP error"),
    "shipped": _l("Shipped"),
    "invoiced": _l("Invoiced"),
    "completed": _l("Completed"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Cancelled"),
    "new": _l("New"),
    # prepayments
    "requested": _l("Requested"),
    "paid": _l("Paid"),
    "expired": _l("Expired"),
}


def _locale() -> str:
    return str(get_locale() or "zh_CN")


def _dealer_only() -> None:
    if not is_dealer_user(current_user):
        raise Forbidden("Only dealer users have a portal")


@bp.app_template_filter("order_event_label")
def order_event_label(kind: str) -> str:
    return str(EVENT_LABELS.get(kind, kind))


@bp.app_template_filter("order_status_label")
def order_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def progress(order) -> list[dict]:
    """The order's milestones, each done or not, with what the dealer needs to know."""
    kinds = [e.kind for e in order.events]
    erp = [p.erp_order_number for p in order.parts if p.erp_order_number]
    deliveries = [n for p in order.parts for n in p.delivery_numbers or []]
    bills = [n for p in order.parts for n in p.billing_numbers or []]
    done = {
        "submitted": "submitted" in kinds,
        "reviewed": any(k in kinds for k in ("credit_checked", "rejected")),
        "credit": "credit_checked" in kinds,
        "erp": bool(erp),
        "shipped": bool(deliveries),
        "invoiced": bool(bills),
    }
    info = {"erp": erp, "shipped": deliveries, "invoiced": bills,
            "reviewed": [order_event_label("rejected")] if "rejected" in kinds else [],
            "credit": [order_event_label(f"credit_{order.credit_result}")] if order.credit_result else []}
    return [{"key": key, "label": label, "done": done[key], "info": info.get(key, [])}
            for key, label in STEPS]


def _milestone_todos(user, limit: int = 10) -> list[dict]:
    """Store-opening milestones the dealer should report: started, not reported yet."""
    from app.stores.models import Store, StoreMilestone
    from app.stores.services import visible_stores

    stmt = visible_stores(user, select(StoreMilestone, Store).join(
        Store, Store.id == StoreMilestone.store_id)).where(
        Store.status == "opening", StoreMilestone.status == "planned",
        StoreMilestone.planned_start <= date.today(),
    ).order_by(StoreMilestone.planned_date, StoreMilestone.id).limit(limit)
    return [{"kind": "milestone", "url": url_for("stores.detail", store_id=store.id),
             "store": store, "milestone": milestone,
             "overdue": milestone.planned_date < date.today()}
            for milestone, store in db.session.execute(stmt)]


def todos_for(user, mine) -> list[dict]:
    """The dealer user's pending actions: open inbox tasks (returned orders, store milestones,
    corrective actions …), prepayments it may make, orders that need a look."""
    items, seen, with_task = [], set(), set()
    for scope in ("mine", "group"):
        for task in tasks.inbox(user, scope, limit=20):
            if task.id in seen:
                continue
            seen.add(task.id)
            with_task.add(task.instance_id)
            items.append({"kind": "task", "url": url_for("tasks.task_page", task_id=task.id),
                          "name": task.name, "title": task.title, "task_id": task.id,
                          "due_at": task.due_at})
    items.extend(_milestone_todos(user))
    # An order whose step waits in this user's inbox is listed once, as that task.
    attention = [o for o in mine if o.status in ATTENTION and o.instance_id not in with_task]
    states = payments.prepay_states(attention)
    for order in attention:
        state = states.get(order.id, {})
        url = url_for("portal.order_detail", order_id=order.id)
        if state.get("amount") is not None and state["payment"] is None and state["waits"]:
            items.append({"kind": "prepay", "order": order, "amount": state["amount"], "url": url})
        else:
            items.append({"kind": "order", "order": order, "payment": state.get("payment"),
                          "url": url})
    return items


@bp.get("/portal")
@login_required
def dashboard():
    _dealer_only()
    mine = orders.list_orders(current_user, limit=50)
    shipments = [(o, p) for o in mine for p in o.parts if p.delivery_numbers][:5]
    notices = announcements.visible_to(current_user, limit=10)
    credit = orders.credit_for(current_user, current_app.config)
    return render_template(
        "portal/dashboard.html",
        credit=credit,
        credit_age=format_timedelta(utcnow() - credit["as_of"]) if credit["as_of"] else "",
        open_orders=[o for o in mine if o.status not in CLOSED][:10],
        shipments=shipments,
        todos=todos_for(current_user, mine),
        promotions=live_promotions(date.today()),
        announcements=notices,
        read_announcements=announcements.read_ids(current_user, [a.id for a in notices]),
        locale=_locale(),
    )


@bp.get("/portal/cart")
@login_required
def cart():
    _dealer_only()
    return render_template("portal/cart.html")


def _filters() -> tuple[dict, dict]:
    """The order list's filters from the query string; (values, errors per field)."""
    args, errors = request.args, {}
    values = {"status": (args.get("status") or "").strip()[:20] or None,
              "region": (args.get("region") or "").strip()[:20] or None,
              "dealer": (args.get("dealer") or "").strip()[:20] or None}
    if values["status"] and values["status"] not in ORDER_STATUSES:
        errors["status"] = [_("Unknown status")]
    for name in ("date_from", "date_to"):
        raw = (args.get(name) or "").strip()
        try:
            values[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            values[name], errors[name] = None, [_("Not a date (YYYY-MM-DD)")]
    if values["date_from"] and values["date_to"] and values["date_to"] < values["date_from"]:
        errors["date_to"] = [_("Must not be before the start date")]
    try:
        values["page"] = max(1, int(args.get("page") or 1))
    except ValueError:
        values["page"], errors["page"] = 1, [_("Not a page number")]
    return values, errors


def _dealer_choices(user) -> list[Dealer]:
    stmt = select(Dealer).order_by(Dealer.code)
    if user.has_role("regional_manager") and not user.has_role(*orders.STAFF_ROLES):
        stmt = stmt.where(Dealer.region == user.region)
    return list(db.session.scalars(stmt))


@bp.get("/portal/orders")
@login_required
def order_list():
    dealer_view = is_dealer_user(current_user)
    values, errors = _filters()
    dealers = [] if dealer_view else _dealer_choices(current_user)
    dealer_id = None
    if values["dealer"]:
        match = [d.id for d in dealers if d.code == values["dealer"] or str(d.id) == values["dealer"]]
        if match:
            dealer_id = match[0]
        elif not dealer_view:
            errors["dealer"] = [_("Unknown dealer")]
    rows, total = ([], 0) if errors else orders.search_orders(
        current_user, status=values["status"], dealer_id=dealer_id,
        region=None if dealer_view else values["region"], date_from=values["date_from"],
        date_to=values["date_to"], page=values["page"], per_page=PER_PAGE)
    names = {d.id: d for d in dealers}
    query = {k: (v.isoformat() if isinstance(v, date) else v)
             for k, v in values.items() if v and k != "page"}
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "portal/orders.html", orders=rows, total=total, filters=values, errors=errors,
        query=query, page=values["page"], pages=pages, is_dealer=dealer_view,
        statuses=ORDER_STATUSES, dealers=dealers, dealer_names=names,
        regions=region_choices(_locale()),
    ), 422 if errors else 200


@bp.get("/portal/orders/<int:order_id>")
@login_required
def order_detail(order_id: int):
    order = orders.get_order_for(order_id, current_user)
    dealer_view = is_dealer_user(current_user)
    payment = payments.payment_of(order)
    shortfall = payments.shortfall(order) if order.status == "credit_blocked" else None
    answer = None
    if dealer_view and order.status == "returned" and order.instance_id:
        answer = next((t for t in tasks.open_tasks(order.instance_id)
                       if t.assignee_id == current_user.id), None)
    return render_template(
        "portal/order.html", order=order, steps=progress(order), is_dealer=dealer_view,
        payment=payment, shortfall=shortfall, answer_task=answer,
        can_prepay=dealer_view and payment is None and shortfall is not None
        and payments.waits_for_payment(order),
    )


@bp.post("/portal/orders/<int:order_id>/prepay")
@login_required
def prepay(order_id: int):
    _dealer_only()
    try:
        payment, created = payments.request_prepayment(order_id, current_user)
    except AppError as exc:
        if exc.status == 404:
            raise
        db.session.rollback()
        flash(_("The prepayment could not be requested: %(reason)s", reason=exc.message), "error")
    else:
        flash(_("Payment request %(ref)s for %(amount)s CNY sent to the bank.",
                ref=payment.bank_reference, amount=f"{payment.amount:,.2f}"), "success")
    return redirect(url_for("portal.order_detail", order_id=order_id))
