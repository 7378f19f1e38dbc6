"""``promotions.apply_decision``: the approval's outcome puts a promotion live or rejects it."""

from marshmallow import EXCLUDE, Schema, fields, validate

from app.promotions.services import apply_decision
from app.tasks.services import last_completer
from connectors.registry import CallContext, registry


class DecisionParams(Schema):
    class Meta:
        unknown = EXCLUDE

    promotion_id = fields.Integer(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = fields.String(load_default=None, allow_none=True)


@registry.register(
    "promotions.apply_decision",
    schema=DecisionParams,
    internal=True,
    description="Put an approved promotion live, or mark it rejected",
)
def decide(params: dict, ctx: CallContext) -> dict:
    promotion = apply_decision(
        params["promotion_id"],
        params["decision"],
        params.get("comment"),
        last_completer(ctx.instance_id),
        ctx.instance_id,
    )
    return {"status": promotion.status, "_data": {"promotion_status": promotion.status}}
