"""Promotion API schemas: one rule schema per kind, validated by the kind chosen."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.promotions.rules import BUNDLE, FULL_REDUCTION, GIFT, KINDS, SPECIAL_PRICE, TIERED_PRICE

POSITIVE = validate.Range(min=0, min_inclusive=False)
MONEY = {"as_string": True, "places": 2, "validate": POSITIVE}


def _ascending(values: list, field: str, what: str) -> None:
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValidationError({field: [f"{what} must rise strictly from one tier to the next"]})


class _TierChoice(Schema):
    """Either tiers (highest reached) or a per-multiple step (每满), never both."""

    step_field = "step"

    @validates_schema
    def _one_form(self, data, **_):
        has_tiers, has_step = bool(data.get("tiers")), data.get("step") is not None
        if has_tiers == has_step:
            raise ValidationError({"tiers": ["Give either tiers or a step (每满), not both"]})


class MoneyTier(Schema):
    threshold = fields.Decimal(required=True, **MONEY)
    discount = fields.Decimal(required=True, **MONEY)


class FullReductionRule(_TierChoice):
    tiers = fields.List(fields.Nested(MoneyTier), load_default=list)
    step = fields.Decimal(allow_none=True, **MONEY)
    step_discount = fields.Decimal(allow_none=True, **MONEY)
    cap = fields.Decimal(allow_none=True, **MONEY)
    include_promoted_lines = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data, **_):
        tiers = data.get("tiers") or []
        _ascending([t["threshold"] for t in tiers], "tiers", "Thresholds")
        _ascending([t["discount"] for t in tiers], "tiers", "Discounts")
        if any(t["discount"] >= t["threshold"] for t in tiers):
            raise ValidationError({"tiers": ["A discount must be below its threshold"]})
        if data.get("step") is not None:
            if data.get("step_discount") is None:
                raise ValidationError({"step_discount": ["Required with a step"]})
            if data["step_discount"] >= data["step"]:
                raise ValidationError({"step_discount": ["Must be below the step"]})


class QuantityTier(Schema):
    threshold = fields.Decimal(required=True, **MONEY)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))


class GiftRule(_TierChoice):
    gift_product_id = fields.Integer(required=True)
    basis = fields.String(
        load_default="quantity", validate=validate.OneOf(["quantity", "amount_before", "amount_after"])
    )
    tiers = fields.List(fields.Nested(QuantityTier), load_default=list)
    step = fields.Decimal(allow_none=True, **MONEY)
    step_quantity = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    cap = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    inclusive = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data, **_):
        tiers = data.get("tiers") or []
        _ascending([t["threshold"] for t in tiers], "tiers", "Thresholds")
        if data.get("step") is not None and data.get("step_quantity") is None:
            raise ValidationError({"step_quantity": ["Required with a step"]})


class SpecialPriceRule(Schema):
    price = fields.Decimal(required=True, **MONEY)
    cap_per_dealer = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class Bracket(Schema):
    min_quantity = fields.Integer(required=True, validate=validate.Range(min=1))
    price = fields.Decimal(required=True, **MONEY)


class TieredPriceRule(Schema):
    brackets = fields.List(fields.Nested(Bracket), required=True, validate=validate.Length(min=2))
    mode = fields.String(load_default="whole", validate=validate.OneOf(["whole", "progressive"]))

    @validates_schema
    def _consistent(self, data, **_):
        brackets = data.get("brackets") or []
        _ascending([b["min_quantity"] for b in brackets], "brackets", "Minimum quantities")
        if brackets and brackets[0]["min_quantity"] != 1:
            raise ValidationError({"brackets": ["The first bracket must start at 1"]})
        if any(b["price"] >= a["price"] for a, b in zip(brackets, brackets[1:], strict=False)):
            raise ValidationError({"brackets": ["Prices must fall as quantities rise"]})


class BundleComponent(Schema):
    product_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))


class BundleRule(Schema):
    components = fields.List(fields.Nested(BundleComponent), required=True, validate=validate.Length(min=2))
    price = fields.Decimal(required=True, **MONEY)

    @validates_schema
    def _distinct(self, data, **_):
        ids = [c["product_id"] for c in data.get("components") or []]
        if len(ids) != len(set(ids)):
            raise ValidationError({"components": ["Each product may appear once"]})


RULE_SCHEMAS = {
    FULL_REDUCTION: FullReductionRule,
    GIFT: GiftRule,
    SPECIAL_PRICE: SpecialPriceRule,
    TIERED_PRICE: TieredPriceRule,
    BUNDLE: BundleRule,
}


class ScopeSchema(Schema):
    products = fields.List(fields.Integer(), load_default=list)
    categories = fields.List(fields.Integer(), load_default=list)
    exclude_products = fields.List(fields.Integer(), load_default=list)
    regions = fields.List(fields.String(), load_default=list)
    dealer_groups = fields.List(fields.String(), load_default=list)
    channels = fields.List(fields.String(), load_default=list)


class PromotionIn(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z0-9][A-Z0-9_-]{1,29}$", error="2–30 capital letters, digits, - or _"),
    )
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=120))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(sorted(KINDS)))
    rule = fields.Dict(required=True)
    scope = fields.Nested(ScopeSchema, load_default=dict)
    priority = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1000))
    exclusion_group = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=30))
    stackable = fields.Boolean(load_default=True)
    excludes = fields.List(fields.String(), load_default=list)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema(skip_on_field_errors=False)
    def _rule_and_period(self, data, **_):
        if data.get("valid_from") and data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError({"valid_to": ["Must not be before the start"]})
        schema = RULE_SCHEMAS.get(data.get("kind"))
        if schema is not None:
            try:
                schema().load(data.get("rule") or {})
            except ValidationError as exc:
                raise ValidationError({"rule": exc.normalized_messages()}) from exc


class PromotionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    kind = fields.String()
    rule = fields.Dict()
    scope = fields.Dict()
    priority = fields.Integer()
    exclusion_group = fields.String(allow_none=True)
    stackable = fields.Boolean()
    excludes = fields.List(fields.String())
    valid_from = fields.Date()
    valid_to = fields.Date()
    status = fields.String()
    description = fields.String(allow_none=True)
    created_by = fields.String()
    instance_id = fields.Integer(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_comment = fields.String(allow_none=True)


class PromotionQuery(Schema):
    status = fields.String(
        load_default=None, validate=validate.OneOf(["draft", "pending", "active", "rejected", "ended"])
    )


class PreviewLine(Schema):
    product_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)


class PreviewIn(Schema):
    lines = fields.List(fields.Nested(PreviewLine), required=True, validate=validate.Length(min=1, max=500))


class Discount(Schema):
    promotion = fields.String()
    kind = fields.String()
    amount = fields.Decimal(as_string=True, places=2)


class PricedLineOut(Schema):
    product_id = fields.Integer()
    material_number = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    unit_price = fields.Decimal(
        as_string=True,
        places=2,
        metadata={"description": "The dealer's net price per unit (after K004/K007)"},
    )
    list_price = fields.Decimal(
        as_string=True, places=2, metadata={"description": "PR00 list price per unit"}
    )
    material_discount = fields.Decimal(
        as_string=True, places=2, metadata={"description": "K004: CNY off per unit"}
    )
    customer_discount_percent = fields.Decimal(
        as_string=True, places=2, metadata={"description": "K007: the dealer's percent off"}
    )
    condition_discount = fields.Decimal(
        as_string=True, places=2, metadata={"description": "What K004/K007 take off the line's list value"}
    )
    list_amount = fields.Decimal(as_string=True, places=2)
    line_amount = fields.Decimal(as_string=True, places=2)
    net_amount = fields.Decimal(as_string=True, places=2)
    is_gift = fields.Boolean()
    line_promotion = fields.String(allow_none=True)
    discounts = fields.List(fields.Nested(Discount))


class AppliedOut(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    discount = fields.Decimal(as_string=True, places=2)
    gift_product_id = fields.Integer(allow_none=True)
    gift_quantity = fields.Integer()


class WarningOut(Schema):
    code = fields.String()
    promotion = fields.String()
    message = fields.String()


class PreviewOut(Schema):
    lines = fields.List(fields.Nested(PricedLineOut))
    promotions = fields.List(fields.Nested(AppliedOut))
    gifts = fields.List(fields.Nested(PricedLineOut))
    list_total = fields.Decimal(as_string=True, places=2, metadata={"description": "At PR00 list prices"})
    condition_discount_total = fields.Decimal(
        as_string=True, places=2, metadata={"description": "K004/K007 discounts of every line"}
    )
    discount_total = fields.Decimal(
        as_string=True, places=2, metadata={"description": "K004/K007 and promotion discounts"}
    )
    net_total = fields.Decimal(as_string=True, places=2)
    warnings = fields.List(fields.Nested(WarningOut))
