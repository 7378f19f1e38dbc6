"""Promotions API: marketing defines and submits; dealers preview their cart."""

from flask_babel import get_locale
from flask_smorest import Blueprint

from app.core.auth import api_user, require_api
from app.promotions import schemas, services

blp = Blueprint("promotions_api", __name__, description="Promotions and cart pricing")


@blp.route("/promotions", methods=["GET"])
@blp.arguments(schemas.PromotionQuery, location="query")
@blp.response(200, schemas.PromotionOut(many=True))
@require_api(*services.MANAGE_ROLES, "sales_director", "customer_service", "finance")
def list_promotions(query):
    """Promotions, newest first, optionally by status."""
    return services.list_promotions(query["status"])


@blp.route("/promotions", methods=["POST"])
@blp.arguments(schemas.PromotionIn)
@blp.response(201, schemas.PromotionOut)
@require_api(*services.MANAGE_ROLES)
def create_promotion(data):
    """Save a draft promotion (422 names every bad field, including inside the rule)."""
    return services.create_promotion(data, api_user())


@blp.route("/promotions/<int:promotion_id>", methods=["GET"])
@blp.response(200, schemas.PromotionOut)
@require_api(*services.MANAGE_ROLES, "sales_director", "customer_service", "finance")
def get_promotion(promotion_id):
    return services.get_promotion(promotion_id)


@blp.route("/promotions/<int:promotion_id>", methods=["PUT"])
@blp.arguments(schemas.PromotionIn)
@blp.response(200, schemas.PromotionOut)
@require_api(*services.MANAGE_ROLES)
def update_promotion(data, promotion_id):
    """Change a draft or rejected promotion (409 once submitted or live)."""
    return services.update_promotion(services.get_promotion(promotion_id), data, api_user())


@blp.route("/promotions/<int:promotion_id>/submit", methods=["POST"])
@blp.response(200, schemas.PromotionOut)
@require_api(*services.MANAGE_ROLES)
def submit_promotion(promotion_id):
    """Send the promotion for approval (the ``promotion_approval`` process)."""
    return services.submit_promotion(services.get_promotion(promotion_id), api_user())


@blp.route("/promotions/preview", methods=["POST"])
@blp.arguments(schemas.PreviewIn)
@blp.response(200, schemas.PreviewOut)
@require_api("dealer")
def preview(data):
    """Price the signed-in dealer's cart: lines, applied promotions, gifts and totals."""
    return services.preview(api_user(), data["lines"], str(get_locale() or "zh_CN"))
