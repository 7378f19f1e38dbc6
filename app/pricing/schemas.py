"""Price change and price import API schemas."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.pricing.models import CONDITION_TYPES, PRICE_CHANGE_STATUSES

MAX_API_LINES = 500


class PriceChangeLineIn(Schema):
    condition_type = fields.String(required=True, validate=validate.OneOf(CONDITION_TYPES))
    product_id = fields.Integer(load_default=None, allow_none=True)
    dealer_id = fields.Integer(load_default=None, allow_none=True)
    price_list = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=2))
    sales_org = fields.String(load_default=None, allow_none=True, validate=validate.Length(equal=4))
    distr_chan = fields.String(load_default=None, allow_none=True, validate=validate.Length(equal=2))
    # CNY per unit (PR00 new price, K004 amount off); percent off for K007.
    amount = fields.Decimal(load_default=None, allow_none=True, as_string=True)
    # PR00 only: change the current price by this percentage (-10 = 10 % cheaper).
    percent = fields.Decimal(
        load_default=None, allow_none=True, as_string=True, validate=validate.Range(min=-90, max=500)
    )
    currency = fields.String(load_default="CNY", validate=validate.Length(equal=3))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _consistent(self, data, **_):
        errors = {}
        kind, amount, percent = data.get("condition_type"), data.get("amount"), data.get("percent")
        if (amount is None) == (percent is None):
            errors["amount"] = ["Give either a new amount or a percentage change"]
        elif percent is not None and kind != "PR00":
            errors["percent"] = ["A percentage change applies to PR00 prices only"]
        elif amount is not None:
            errors.update(_amount_errors(kind, amount))
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            errors["valid_to"] = ["Must not be before the start of the validity"]
        if errors:
            raise ValidationError(errors)


def _amount_errors(kind: str | None, amount: Decimal) -> dict:
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        return {"amount": ["At most two decimals"]}
    if kind == "PR00" and amount <= 0:
        return {"amount": ["A price must be greater than zero"]}
    if amount < 0:
        return {"amount": ["Must not be negative"]}
    if amount >= Decimal(10) ** 10:
        return {"amount": ["Too large"]}
    return {}


class PriceChangeIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    # Letters, digits, - and _ (imports use their own "import:<id>" keys).
    submit_key = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$", error="8–64 letters, digits, - or _"),
    )
    lines = fields.List(
        fields.Nested(PriceChangeLineIn), required=True, validate=validate.Length(min=1, max=MAX_API_LINES)
    )


class PriceChangeLineOut(Schema):
    line_no = fields.Integer()
    condition_type = fields.String()
    product_id = fields.Integer(allow_none=True)
    material_number = fields.String(allow_none=True)
    dealer_id = fields.Integer(allow_none=True)
    customer_number = fields.String(allow_none=True)
    sales_org = fields.String()
    distr_chan = fields.String()
    price_list = fields.String(allow_none=True)
    old_amount = fields.Decimal(as_string=True, allow_none=True)
    amount = fields.Decimal(as_string=True)
    currency = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()


class PriceChangeSummary(Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    reason = fields.String()
    source = fields.String()
    line_count = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    instance_id = fields.Integer(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_comment = fields.String(allow_none=True)
    erp_error = fields.String(allow_none=True)
    applied_at = fields.DateTime(allow_none=True)


class PriceChangeOut(PriceChangeSummary):
    lines = fields.List(fields.Nested(PriceChangeLineOut))
    erp_condition_numbers = fields.List(fields.String())


class PriceChangeQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(PRICE_CHANGE_STATUSES))


class PriceChangeLinesIn(Schema):
    lines = fields.List(
        fields.Nested(PriceChangeLineIn), required=True, validate=validate.Length(min=1, max=MAX_API_LINES)
    )


class PriceImportOut(Schema):
    id = fields.Integer()
    status = fields.String()
    policy = fields.String()
    filename = fields.String()
    total = fields.Integer()
    processed = fields.Integer()
    good_rows = fields.Integer()
    error_count = fields.Integer()
    price_change_id = fields.Integer(allow_none=True)
    failure = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class PriceImportErrors(Schema):
    row = fields.Integer()
    column = fields.String()
    reason = fields.String()


class ExportQuery(Schema):
    price_list = fields.String(load_default=None, validate=validate.Length(min=1, max=4))
