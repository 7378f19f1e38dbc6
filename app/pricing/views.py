"""Price management pages: price changes (list, detail, request form), imports, export."""

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.catalog import services as catalog
from app.catalog.models import Product
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.i18n import translate_errors
from app.dealers.models import Dealer
from app.extensions import db
from app.pricing import imports, services
from app.pricing.models import CONDITION_TYPES, PRICE_CHANGE_STATUSES, PriceImport
from app.pricing.schemas import MAX_API_LINES, PriceChangeIn, PriceChangeLinesIn

bp = Blueprint("pricing", __name__)
FORM_ROWS = 5
SHOWN_LINES = 500
SHOWN_ERRORS = 200
LINE_FIELDS = (
    "condition_type",
    "product",
    "dealer",
    "price_list",
    "sales_org",
    "distr_chan",
    "amount",
    "percent",
    "valid_from",
    "valid_to",
)


def _require(*roles: str) -> None:
    if not current_user.has_role(*roles):
        raise Forbidden(_("Your role may not manage prices"))


@bp.get("/pricing")
@login_required
def index():
    _require(*services.VIEW_ROLES)
    status = request.args.get("status") or None
    if status not in (None, *PRICE_CHANGE_STATUSES):
        status = None
    return render_template(
        "pricing/index.html",
        changes=services.list_price_changes(status),
        status=status,
        statuses=PRICE_CHANGE_STATUSES,
        can_request=current_user.has_role(*services.REQUEST_ROLES),
    )


@bp.route("/pricing/changes/<int:change_id>", methods=["GET", "POST"])
@login_required
def detail(change_id: int):
    """The change with its lines; while the ERP refuses it, its requester corrects the lines here."""
    _require(*services.VIEW_ROLES)
    change = services.get_price_change(change_id)
    can_correct = (
        change.status == "erp_error"
        and change.line_count <= MAX_API_LINES
        and (change.created_by == current_user.username or current_user.has_role("admin"))
    )
    errors, form = {}, None
    if request.method == "POST":
        if not can_correct:
            raise Conflict(_("Only a price change the ERP refused can be corrected by its requester"))
        form = request.form
        try:
            data = PriceChangeLinesIn().load({"lines": _form_lines(form)})
            services.replace_lines(change, data["lines"], current_user)
        except ValidationError as exc:
            errors = translate_errors(exc.normalized_messages())
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(_("Lines corrected; resubmit the change from your inbox task."), "success")
            return redirect(url_for("pricing.detail", change_id=change.id))
    if can_correct and form is None:
        form = _prefill(change)
    return render_template(
        "pricing/detail.html",
        change=change,
        lines=change.lines[:SHOWN_LINES],
        can_correct=can_correct,
        errors=errors,
        form=form,
        rows=(len(form.getlist("amount[]")) if form else 0) + 1,
        types=CONDITION_TYPES,
        price_lists=sorted(services.known_price_lists()),
    ), 422 if errors else 200


def _prefill(change) -> MultiDict:
    """The change's lines as the correction form's rows."""
    dealers = (
        dict(db.session.execute(select(Dealer.id, Dealer.code)).all())
        if any(ln.dealer_id for ln in change.lines)
        else {}
    )
    form = MultiDict()
    for ln in change.lines:
        for name, value in (
            ("condition_type", ln.condition_type),
            ("product", ln.material_number or ""),
            ("dealer", dealers.get(ln.dealer_id, "")),
            ("price_list", ln.price_list or ""),
            ("sales_org", ln.sales_org),
            ("distr_chan", ln.distr_chan),
            ("amount", str(ln.amount)),
            ("percent", ""),
            ("valid_from", ln.valid_from.isoformat()),
            ("valid_to", "" if ln.valid_to.year == 9999 else ln.valid_to.isoformat()),
        ):
            form.add(f"{name}[]", value)
    return form


def _form_lines(form) -> list[dict]:
    """The request form's rows (filled ones only), with codes resolved to ids."""
    columns = {name: form.getlist(f"{name}[]") for name in LINE_FIELDS}
    rows = []
    for n in range(max((len(v) for v in columns.values()), default=0)):
        cells = {name: (values[n].strip() if n < len(values) else "") for name, values in columns.items()}
        if not any(cells[k] for k in ("product", "dealer", "amount", "percent")):
            continue
        row = {
            k: cells[k] or None
            for k in (
                "condition_type",
                "price_list",
                "sales_org",
                "distr_chan",
                "amount",
                "percent",
                "valid_from",
                "valid_to",
            )
        }
        row["product_id"] = _id_of(Product, Product.material_number, cells["product"])
        row["dealer_id"] = _id_of(Dealer, Dealer.code, cells["dealer"])
        rows.append(row)
    return rows


def _id_of(model, column, code: str) -> int | None:
    if not code:
        return None
    found = db.session.scalar(select(model.id).where(column == code))
    return found if found is not None else -1  # an unknown code: the service says so per line


@bp.route("/pricing/changes/new", methods=["GET", "POST"])
@login_required
def new():
    _require(*services.REQUEST_ROLES)
    errors, form = {}, request.form
    if request.method == "POST":
        raw = {
            "reason": form.get("reason", ""),
            "submit_key": form.get("submit_key", ""),
            "lines": _form_lines(form),
        }
        try:
            data = PriceChangeIn().load(raw)
            change, _created = services.create_price_change(data, current_user)
        except ValidationError as exc:
            errors = translate_errors(exc.normalized_messages())
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(_("Price change %(number)s sent for approval.", number=change.number), "success")
            return redirect(url_for("pricing.detail", change_id=change.id))
    rows = max(FORM_ROWS, len(form.getlist("amount[]")))
    return render_template(
        "pricing/new.html",
        errors=errors,
        form=form,
        rows=rows,
        types=CONDITION_TYPES,
        submit_key=form.get("submit_key") or uuid.uuid4().hex,
        price_lists=sorted(services.known_price_lists()),
    ), 422 if errors else 200


@bp.route("/pricing/imports/new", methods=["GET", "POST"])
@login_required
def new_import():
    _require(*services.REQUEST_ROLES)
    errors = {}
    if request.method == "POST":
        try:
            imp = imports.queue_import(
                request.files.get("file"),
                request.form.get("policy") or "all_or_nothing",
                request.form.get("reason") or "",
                current_user,
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            return redirect(url_for("pricing.import_status", import_id=imp.id))
    return render_template("pricing/import.html", errors=errors, form=request.form), 422 if errors else 200


@bp.get("/pricing/imports/<int:import_id>")
@login_required
def import_status(import_id: int):
    _require(*services.REQUEST_ROLES)
    imp = db.session.get(PriceImport, import_id)
    if imp is None:
        raise NotFound(f"Price import {import_id} not found")
    errors = imp.errors[:SHOWN_ERRORS] if imp.status in ("done", "invalid") else []
    return render_template("pricing/import_status.html", imp=imp, errors=errors)


@bp.get("/pricing/export")
@login_required
def export_page():
    is_dealer = catalog.is_dealer_user(current_user)
    if not (is_dealer or current_user.has_role(*catalog.STAFF_ROLES, "marketing")):
        raise Forbidden(_("Your role may not export price lists"))
    own = sorted({a.price_list for a in catalog.dealer_areas(current_user.dealer_id)}) if is_dealer else []
    return render_template(
        "pricing/export.html",
        is_dealer=is_dealer,
        own=own,
        price_lists=[] if is_dealer else sorted(services.known_price_lists()),
    )
