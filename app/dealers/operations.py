"""``dealers.archive``: write an admitted dealer into the dealer master (an internal operation)."""

from marshmallow import EXCLUDE, Schema, fields

from app.dealers.services import archive_admitted_dealer, set_erp_customer_number
from connectors.registry import CallContext, registry


class ArchiveParams(Schema):
    class Meta:
        unknown = EXCLUDE

    company_name = fields.String(required=True)
    uscc = fields.String(required=True)
    dealer_type = fields.String(required=True)
    level = fields.String(required=True)
    region = fields.String(required=True)
    credit_limit = fields.Decimal(required=True, as_string=False)
    payment_terms = fields.String(load_default=None, allow_none=True)
    parent_dealer = fields.Raw(load_default=None, allow_none=True)
    legal_representative = fields.String(load_default=None, allow_none=True)
    contact_name = fields.String(load_default=None, allow_none=True)
    contact_phone = fields.String(load_default=None, allow_none=True)
    bank_name = fields.String(load_default=None, allow_none=True)
    bank_account = fields.String(load_default=None, allow_none=True)
    shipping_addresses = fields.List(fields.Dict(), load_default=list)
    business_licence = fields.Raw(load_default=None, allow_none=True)


@registry.register("dealers.archive", schema=ArchiveParams, internal=True,
                   description="Archive an admitted dealer into the dealer master")
def archive(params: dict, ctx: CallContext) -> dict:
    dealer = archive_admitted_dealer(params, instance_id=ctx.instance_id)
    return {"dealer_id": dealer.id, "dealer_code": dealer.code, "outcome": "approved",
            "_data": {"dealer_code": dealer.code, "outcome": "approved"}}


class LinkErpParams(Schema):
    class Meta:
        unknown = EXCLUDE

    dealer_code = fields.String(required=True)
    customer_number = fields.String(required=True)


@registry.register("dealers.link_erp_customer", schema=LinkErpParams, internal=True,
                   description="Store the ERP customer number (KUNNR) on the dealer")
def link_erp_customer(params: dict, ctx: CallContext) -> dict:
    dealer = set_erp_customer_number(params["dealer_code"], params["customer_number"],
                                     instance_id=ctx.instance_id)
    return {"erp_customer_number": dealer.erp_customer_no,
            "_data": {"erp_customer_number": dealer.erp_customer_no}}
