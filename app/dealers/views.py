"""Pages for dealers: the dealer master list and a dealer's detail page."""

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.admin.services import region_choices
from app.dealers.models import DEALER_STATUSES, Dealer
from app.dealers.services import get_dealer_for, list_dealers
from app.extensions import db

bp = Blueprint("dealers", __name__)

DEALER_LABELS = {
    "type": {"tier1": _l("Tier-1 distributor"), "tier2": _l("Tier-2 sub-distributor"),
             "retailer": _l("Retailer")},
    "status": {"pending": _l("Pending"), "active": _l("Active"), "suspended": _l("Suspended"),
               "closed": _l("Closed")},
    "terms": {"prepaid": _l("Prepaid"), "net30": _l("Net 30 days"), "net60": _l("Net 60 days"),
              "credit": _l("On credit within the limit")},
}


@bp.app_template_filter("dealer_label")
def dealer_label(value, kind: str) -> str:
    return str(DEALER_LABELS.get(kind, {}).get(value, value or ""))


def _regions() -> dict[str, str]:
    return dict(region_choices(str(get_locale() or "zh_CN")))


@bp.get("/dealers")
@login_required
def index():
    filters = {k: (request.args.get(k) or "").strip() for k in ("region", "status", "q")}
    dealers = list_dealers(current_user, region=filters["region"] or None,
                           status=filters["status"] or None, q=filters["q"] or None)
    return render_template("dealers/index.html", dealers=dealers, filters=filters,
                           regions=_regions(), statuses=DEALER_STATUSES)


@bp.get("/dealers/<int:dealer_id>")
@login_required
def detail(dealer_id: int):
    dealer = get_dealer_for(dealer_id, current_user)
    parent = db.session.get(Dealer, dealer.parent_id) if dealer.parent_id else None
    return render_template("dealers/detail.html", dealer=dealer, parent=parent,
                           regions=_regions())
