"""Catalogue pages: browse and search (dealers at their own prices), product detail and upkeep."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.catalog import services
from app.catalog.schemas import CategoryCreateSchema, CategoryUpdateSchema, ProductUpdateSchema
from app.core.errors import Conflict, Forbidden, ValidationFailed
from app.core.i18n import translate_errors
from app.extensions import db

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
            services.update_product(product, data, current_user.username)
        except ValidationError as exc:
            errors = translate_errors(exc.normalized_messages())
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            flash(_("Product saved."), "success")
            return redirect(url_for("catalog.detail", product_id=product.id))
    price = services.price_for_user(product, current_user)
    return render_template(
        "catalog/detail.html",
        product=product,
        price=price,
        can_edit=can_edit,
        errors=errors,
        categories=services.category_choices(_locale()) if can_edit else [],
        category=services.category_of(product),
    ), 422 if errors else 200


def _category_form() -> dict:
    """The posted category fields, blanks dropped (a blank parent means the root)."""
    raw = {k: v.strip() for k, v in request.form.items() if k in ("name_zh", "name_en", "sort")}
    if "parent_id" in request.form:
        raw["parent_id"] = request.form["parent_id"] or None
    if raw.get("sort") == "":
        raw.pop("sort")
    return raw


@bp.route("/catalog/categories", methods=["GET", "POST"])
@login_required
def categories():
    if not current_user.has_role(*services.EDIT_ROLES):
        raise Forbidden("Your role may not edit categories")
    errors, status, editing = {}, 200, None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "create":
                data = CategoryCreateSchema().load(_category_form())
                services.create_category(data, current_user.username)
                flash(_("Category added."), "success")
            else:
                editing = request.form.get("category_id", type=int)
                category = services.get_category(editing or 0)
                if action == "deactivate":
                    data = {"active": False, "force": "force" in request.form}
                elif action == "activate":
                    data = {"active": True}
                else:
                    data = CategoryUpdateSchema().load(_category_form())
                services.update_category(category, data, current_user.username)
                flash(_("Category saved."), "success")
        except ValidationError as exc:
            errors, status = translate_errors(exc.normalized_messages()), 422
        except ValidationFailed as exc:
            errors, status = exc.errors, 422
        except Conflict as exc:
            db.session.rollback()
            count = exc.details.get("on_shelf_products", 0)
            flash(
                _("%(n)s on-shelf products are in this category. Tick “Hide its products” to deactivate "
                  "it anyway.", n=count),
                "error",
            )
            status = 409
        else:
            return redirect(url_for("catalog.categories"))
        if status == 422:
            db.session.rollback()
    return render_template(
        "catalog/categories.html",
        rows=services.flat_category_tree(_locale()),
        errors=errors,
        editing=editing,
        form=request.form,
        add_parent=request.args.get("parent", type=int),
    ), status
