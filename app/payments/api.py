"""Prepayment API: the dealer requests it; the bank calls back when the dealer has paid."""

from functools import wraps

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.core.auth import api_user, require_api
from app.core.errors import NotFound
from app.orders import services as orders
from app.payments import services

blp = Blueprint("payments_api", __name__, description="Dealer prepayments and the bank's callback")
MONEY = {"as_string": True, "places": 2}


class PaymentOut(Schema):
    order_id = fields.Integer()
    amount = fields.Decimal(**MONEY)
    currency = fields.String()
    status = fields.String(metadata={"description": "requested, paid or expired"})
    bank = fields.String()
    bank_reference = fields.String()
    transaction_id = fields.String(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    note = fields.String(allow_none=True)


class CallbackIn(Schema):
    order_number = fields.String(required=True, validate=validate.Length(min=1, max=20))
    amount = fields.Decimal(required=True)
    transaction_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    currency = fields.String(load_default=None, allow_none=True, validate=validate.Length(equal=3))


class CallbackOut(Schema):
    order_number = fields.String()
    status = fields.String()
    duplicate = fields.Boolean(metadata={"description": "true when this payment was reported before"})
    matched = fields.Boolean(metadata={"description": "false when the order no longer waited for it"})


@blp.route("/orders/<int:order_id>/prepayment", methods=["POST"])
@blp.response(201, PaymentOut)
@blp.alt_response(200, schema=PaymentOut, description="Requested before: the same request")
@require_api("dealer")
def request_prepayment(order_id):
    """Prepay the shortfall of a credit-blocked order (409 when it no longer waits for credit)."""
    payment, created = services.request_prepayment(order_id, api_user())
    return payment, 201 if created else 200


@blp.route("/orders/<int:order_id>/prepayment", methods=["GET"])
@blp.response(200, PaymentOut)
@require_api()
def get_prepayment(order_id):
    """The order's prepayment request and its state (404 when there is none)."""
    payment = services.payment_of(orders.get_order_for(order_id, api_user()))
    if payment is None:
        raise NotFound(f"Order {order_id} has no prepayment")
    return payment


def _bank_signed(view):
    """Check the bank's signature of the raw body before anything else reads it."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        services.check_callback_signature(request.get_data(cache=True), request.headers)
        return view(*args, **kwargs)
    return wrapper


@blp.route("/payments/callback", methods=["POST"])
@_bank_signed
@blp.arguments(CallbackIn)
@blp.response(200, CallbackOut)
@require_api("admin", "integration")
def callback(body):
    """The bank reports a payment: the order's approval continues (sends ``payment_received``).

    The bank signs the call: ``X-Bank-Timestamp`` (Unix seconds) and ``X-Bank-Signature:
    sha256=<hex>``, HMAC-SHA256 with the shared callback secret of ``"<timestamp>." + raw
    body``; a missing or bad signature, or a timestamp outside the replay window, is 401 and
    changes nothing. 404 for an unknown order or one without a payment request; 422 when the amount differs
    from the request (nothing changes); a repeated callback answers 200 with ``duplicate``.
    """
    user = api_user()
    payment, duplicate = services.receive_payment(body["order_number"], body["amount"],
                                                  body["transaction_id"], user.username,
                                                  currency=body.get("currency"))
    return {"order_number": body["order_number"], "status": payment.status,
            "duplicate": duplicate, "matched": payment.note is None}
