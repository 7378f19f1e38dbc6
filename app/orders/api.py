"""Orders API: dealers submit and follow their orders; staff see them in scope."""

from flask import current_app
from flask_smorest import Blueprint

from app.core.auth import api_user, require_api
from app.orders import schemas, services

blp = Blueprint("orders_api", __name__, description="Dealer orders")


@blp.route("/orders", methods=["POST"])
@blp.arguments(schemas.OrderIn)
@blp.response(201, schemas.OrderDetailOut)
@blp.alt_response(
    200, schema=schemas.OrderDetailOut, description="The same submit_key again: the first order"
)
@require_api("dealer")
def submit_order(data):
    """Submit the cart as an order (priced now; 409 when the price changed since the preview)."""
    order, created = services.submit_order(api_user(), data)
    return order, 201 if created else 200


@blp.route("/orders", methods=["GET"])
@blp.arguments(schemas.OrderQuery, location="query")
@blp.response(200, schemas.OrderOut(many=True))
@require_api()
def list_orders(query):
    """Orders the caller may see (a dealer: its own and its sub-distributors'), newest first,
    filtered by status, dealer, region and submission dates; ``page`` of ``per_page``."""
    rows, _total = services.search_orders(api_user(), **query)
    return rows


@blp.route("/orders/<int:order_id>", methods=["GET"])
@blp.response(200, schemas.OrderDetailOut)
@require_api()
def get_order(order_id):
    """Status, lines, parts (each with its ERP order number once created) and the timeline."""
    return services.get_order_for(order_id, api_user())


@blp.route("/credit", methods=["GET"])
@blp.response(200, schemas.CreditOut)
@require_api("dealer")
def get_credit():
    """The signed-in dealer's credit limit, exposure and available credit."""
    return services.credit_for(api_user(), current_app.config)
