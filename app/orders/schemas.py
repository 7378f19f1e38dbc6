"""Order API schemas."""

from marshmallow import Schema, fields, validate

from app.orders.models import ORDER_STATUSES
from app.promotions.schemas import PreviewLine

MONEY = {"as_string": True, "places": 2}


class OrderIn(Schema):
    lines = fields.List(fields.Nested(PreviewLine), required=True, validate=validate.Length(min=1, max=500))
    submit_key = fields.String(
        required=True,
        validate=validate.Length(min=8, max=64),
        metadata={"description": "Generated once per cart; a repeat returns the same order"},
    )
    expected_net_total = fields.Decimal(
        load_default=None, allow_none=True, metadata={"description": "The total the dealer confirmed"}
    )
    ship_to = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    requested_date = fields.Date(load_default=None, allow_none=True)
    remark = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class OrderQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATUSES))
    dealer_id = fields.Integer(load_default=None)
    region = fields.String(load_default=None, validate=validate.Length(max=20))
    date_from = fields.Date(load_default=None, metadata={"description": "submitted on or after"})
    date_to = fields.Date(load_default=None, metadata={"description": "submitted on or before"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=200))


class LineOut(Schema):
    line_no = fields.Integer()
    product_id = fields.Integer()
    material_number = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    unit_price = fields.Decimal(**MONEY)
    list_price = fields.Decimal(allow_none=True, **MONEY)
    material_discount = fields.Decimal(allow_none=True, **MONEY)
    customer_discount_percent = fields.Decimal(allow_none=True, **MONEY)
    list_amount = fields.Decimal(**MONEY)
    net_amount = fields.Decimal(**MONEY)
    is_gift = fields.Boolean()
    line_promotion = fields.String(allow_none=True)
    discounts = fields.List(fields.Dict())
    part_no = fields.Integer(allow_none=True)


class PartOut(Schema):
    part_no = fields.Integer()
    sales_org = fields.String()
    distr_chan = fields.String()
    division = fields.String()
    order_type = fields.String()
    purch_no = fields.String()
    net_total = fields.Decimal(**MONEY)
    status = fields.String()
    erp_order_number = fields.String(allow_none=True)
    erp_error = fields.String(allow_none=True)
    delivery_numbers = fields.List(fields.String())
    billing_numbers = fields.List(fields.String())


class EventOut(Schema):
    kind = fields.String()
    actor = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()


class OrderOut(Schema):
    id = fields.Integer()
    number = fields.String()
    dealer_id = fields.Integer()
    status = fields.String()
    credit_result = fields.String(allow_none=True)
    currency = fields.String()
    list_total = fields.Decimal(**MONEY)
    discount_total = fields.Decimal(**MONEY)
    net_total = fields.Decimal(**MONEY)
    promotions = fields.List(fields.Dict())
    instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class OrderDetailOut(OrderOut):
    lines = fields.List(fields.Nested(LineOut))
    parts = fields.List(fields.Nested(PartOut))
    timeline = fields.List(fields.Nested(EventOut), attribute="events")
    ship_to = fields.String(allow_none=True)
    requested_date = fields.Date(allow_none=True)
    remark = fields.String(allow_none=True)


class ExposureSplitOut(Schema):
    open_orders = fields.Decimal(**MONEY, metadata={"description": "sales orders not yet delivered"})
    open_deliveries = fields.Decimal(**MONEY, metadata={"description": "deliveries not yet billed"})
    open_billing = fields.Decimal(**MONEY, metadata={"description": "billing documents not yet "
                                                     "posted to accounting"})
    receivables = fields.Decimal(**MONEY, metadata={"description": "open items in accounts "
                                                    "receivable"})


class CreditOut(Schema):
    customer_number = fields.String(allow_none=True)
    currency = fields.String()
    credit_limit = fields.Decimal(**MONEY)
    erp_exposure = fields.Decimal(**MONEY)
    platform_pending = fields.Decimal(**MONEY)
    available = fields.Decimal(**MONEY)
    exposure_split = fields.Nested(ExposureSplitOut, allow_none=True, metadata={
        "description": "erp_exposure by kind, as the ERP gave it (also from the cache); null "
                       "when only the dealer master is known"})
    source = fields.String(metadata={"description": "erp (live), cache (ERP unreachable: the last "
                                     "ERP figures, fetched at as_of) or dealer_master (ERP "
                                     "unreachable, nothing cached)"})
    as_of = fields.DateTime(allow_none=True, metadata={"description": "when the ERP gave these "
                                                       "figures"})
