"""Catalogue pages: browse and search (dealers at their own prices), product detail and upkeep."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.catalog import services
from app.catalog.schemas import ProductUpdateSchema

bp = Blueprint("catalog", __name__)


def _locale() -> str:
    return str(get_locale() or "zh_CN")


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/catalog")
@login_required
def index():
    category, q = _int_arg("category"), (request.args.get("q") or "").strip()[:100]
    page = services.search_products(
        current_user, category_id=category, q=q or None, page=_int_arg("page") or 1, locale=_locale()
    )
    return render_template(
        "catalog/index.html",
        page=page,
        tree=services.category_tree(_locale()),
        category=category,
        q=q,
        is_dealer=services.is_dealer_user(current_user),
    )


@bp.route("/catalog/products/<int:product_id>", methods=["GET", "POST"])
@login_required
def detail(product_id: int):
    product = services.get_product_for(product_id, current_user)
    can_edit = current_user.has_role(*services.EDIT_ROLES)
    errors = {}
    if request.method == "POST" and can_edit:
        raw = {k: v for k, v in request.form.items() if k in ProductUpdateSchema().fields}
        raw["on_shelf"] = "on_shelf" in request.form
        if raw.get("category_id") == "":
            raw.pop("category_id")
        try:
            data = ProductUpdateSchema().load(raw)
        except ValidationError as exc:
            errors = exc.normalized_messages()
        else:
            services.update_product(product, data, current_user.username)
            flash(_("Product saved."), "success")
            return redirect(url_for("catalog.detail", product_id=product.id))
    price = services.price_for_user(product, current_user)
    return render_template(
        "catalog/detail.html",
        product=product,
        price=price,
        can_edit=can_edit,
        errors=errors,
        tree=services.category_tree(_locale()),
    ), 422 if errors else 200
