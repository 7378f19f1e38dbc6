"""Dealer portal pages: dashboard, cart (priced live through the promotions API) and orders.

The cart lives in the browser (localStorage) and talks to the JSON API with the session cookie
and the X-CSRFToken header: POST /api/v1/promotions/preview and POST /api/v1/orders.
Staff with order rights (customer service, finance, directors, admins) get the orders pages.
"""

from datetime import date

from flask import Blueprint, current_app, render_template, request
from flask_babel import format_timedelta, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.catalog.services import is_dealer_user
from app.core.errors import Forbidden
from app.core.models import utcnow
from app.orders import services as orders
from app.promotions.services import live_promotions

bp = Blueprint("portal", __name__)

CLOSED = ("completed", "rejected", "cancelled")
ATTENTION = ("credit_blocked", "erp_error", "rejected")
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
}


def _locale() -> str:
    return str(get_locale() or "zh_CN")


def _dealer_only() -> None:
    if not is_dealer_user(current_user):
        raise Forbidden("Only dealer users have a portal")


@bp.app_template_filter("order_event_label")
def order_event_label(kind: str) -> str:
    return str(EVENT_LABELS.get(kind, kind))


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
            "reviewed": ["rejected"] if "rejected" in kinds else [],
            "credit": [order.credit_result] if order.credit_result else []}
    return [{"key": key, "label": label, "done": done[key], "info": info.get(key, [])}
            for key, label in STEPS]


@bp.get("/portal")
@login_required
def dashboard():
    _dealer_only()
    mine = orders.list_orders(current_user, limit=50)
    shipments = [(o, p) for o in mine for p in o.parts if p.delivery_numbers][:5]
    credit = orders.credit_for(current_user, current_app.config)
    return render_template(
        "portal/dashboard.html",
        credit=credit,
        credit_age=format_timedelta(utcnow() - credit["as_of"]) if credit["as_of"] else "",
        open_orders=[o for o in mine if o.status not in CLOSED][:10],
        shipments=shipments,
        todos=[o for o in mine if o.status in ATTENTION],
        promotions=live_promotions(date.today()),
        locale=_locale(),
    )


@bp.get("/portal/cart")
@login_required
def cart():
    _dealer_only()
    return render_template("portal/cart.html")


@bp.get("/portal/orders")
@login_required
def order_list():
    status = (request.args.get("status") or "").strip()[:20] or None
    return render_template(
        "portal/orders.html",
        orders=orders.list_orders(current_user, status=status, limit=200),
        status=status,
        is_dealer=is_dealer_user(current_user),
    )


@bp.get("/portal/orders/<int:order_id>")
@login_required
def order_detail(order_id: int):
    order = orders.get_order_for(order_id, current_user)
    return render_template(
        "portal/order.html", order=order, steps=progress(order), is_dealer=is_dealer_user(current_user)
    )
