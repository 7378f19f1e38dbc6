"""Catalogue API: products a caller may see (dealers at their own prices), categories, upkeep."""

from flask_babel import get_locale
from flask_smorest import Blueprint

from app.catalog import schemas, services
from app.core.auth import api_user, require_api

blp = Blueprint("catalog_api", __name__, description="Product catalogue")


def _locale() -> str:
    return str(get_locale() or "zh_CN")


@blp.route("/catalog/products", methods=["GET"])
@blp.arguments(schemas.ProductQuery, location="query")
@blp.response(200, schemas.ProductPageSchema)
@require_api()
def list_products(query):
    """Products filtered by category (with its sub-categories) and text; one page."""
    page = services.search_products(
        api_user(),
        category_id=query["category"],
        q=query["q"],
        page=query["page"],
        per_page=query["per_page"],
        locale=_locale(),
    )
    return {
        "items": page.items,
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "per_page": page.per_page,
    }


@blp.route("/catalog/products/<int:product_id>", methods=["GET"])
@blp.response(200, schemas.ProductSchema)
@require_api()
def get_product(product_id):
    """One product (404 when a dealer may not see it)."""
    user = api_user()
    product = services.get_product_for(product_id, user)
    return services.product_row(product, services.price_for_user(product, user), _locale())


@blp.route("/catalog/products/<int:product_id>", methods=["PATCH"])
@blp.arguments(schemas.ProductUpdateSchema)
@blp.response(200, schemas.ProductSchema)
@require_api(*services.EDIT_ROLES)
def update_product(data, product_id):
    """Operations staff: shelf status, category, names, image and description."""
    user = api_user()
    product = services.update_product(services.get_product_for(product_id, user), data, user.username)
    return services.product_row(product, None, _locale())


@blp.route("/catalog/categories", methods=["GET"])
@blp.response(200, schemas.CategorySchema(many=True))
@require_api()
def list_categories():
    """The category tree."""
    user = api_user()
    services.check_can_view(user)
    return services.category_tree(_locale(), include_inactive=user.has_role(*services.EDIT_ROLES))


def _category_row(category) -> dict:
    return {
        "id": category.id,
        "code": category.code,
        "name": category.label(_locale()),
        "name_zh": category.name_zh,
        "name_en": category.name_en,
        "parent_id": category.parent_id,
        "level": category.level,
        "sort": category.sort_order,
        "active": category.active,
        "children": [],
    }


@blp.route("/catalog/categories", methods=["POST"])
@blp.arguments(schemas.CategoryCreateSchema)
@blp.response(201, schemas.CategorySchema)
@require_api(*services.EDIT_ROLES)
def create_category(data):
    """Operations staff add a category at the root or under ``parent_id``."""
    category = services.create_category(data, api_user().username)
    return _category_row(category)


@blp.route("/catalog/categories/<int:category_id>", methods=["PATCH"])
@blp.arguments(schemas.CategoryUpdateSchema)
@blp.response(200, schemas.CategorySchema)
@require_api(*services.EDIT_ROLES)
def update_category(data, category_id):
    """Rename, move (with its subtree), re-sort or deactivate a category."""
    category = services.update_category(services.get_category(category_id), data, api_user().username)
    return _category_row(category)
