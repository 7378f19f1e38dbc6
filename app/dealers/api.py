"""Dealer master API."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.auth import api_user, require_api
from app.dealers import services

blp = Blueprint("dealers_api", __name__, description="Dealer master")


class AddressSchema(Schema):
    address = fields.String()
    receiver = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    is_default = fields.Boolean()


class BankSchema(Schema):
    bank_name = fields.String()
    account_no = fields.String()


class LifecycleSchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    reason = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class DealerSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    uscc = fields.String(allow_none=True)
    dealer_type = fields.String()
    level = fields.String()
    region = fields.String()
    status = fields.String()
    parent_id = fields.Integer(allow_none=True)
    credit_limit = fields.Decimal(as_string=True)
    payment_terms = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    legal_representative = fields.String(allow_none=True)
    admitted_on = fields.Date(allow_none=True)
    erp_customer_number = fields.String(attribute="erp_customer_no", allow_none=True)


class DealerDetailSchema(DealerSchema):
    addresses = fields.List(fields.Nested(AddressSchema))
    bank_accounts = fields.List(fields.Nested(BankSchema))
    lifecycle = fields.List(fields.Nested(LifecycleSchema))


class DealerQuery(Schema):
    region = fields.String(load_default=None)
    status = fields.String(load_default=None)
    q = fields.String(load_default=None)


@blp.route("/dealers", methods=["GET"])
@blp.arguments(DealerQuery, location="query")
@blp.response(200, DealerSchema(many=True))
@require_api()
def list_dealers(query):
    """Dealers the caller may see."""
    return services.list_dealers(api_user(), **query)


@blp.route("/dealers/<int:dealer_id>", methods=["GET"])
@blp.response(200, DealerDetailSchema)
@require_api()
def get_dealer(dealer_id):
    """One dealer with addresses, bank accounts and lifecycle history (404 outside scope)."""
    return services.get_dealer_for(dealer_id, api_user())
