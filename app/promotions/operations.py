"""``promotions.apply_decision``: the approval's outcome puts a promotion live or rejects it."""

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from app.core.models import User
from app.extensions import db
from app.promotions.services import apply_decision
from app.tasks.models import HumanTask
from connectors.registry import CallContext, registry


class DecisionParams(Schema):
    class Meta:
        unknown = EXCLUDE

    promotion_id = fields.Integer(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = fields.String(load_default=None, allow_none=True)


def _decider(instance_id: int) -> str | None:
    user_id = db.session.scalar(
        select(HumanTask.completed_by_id)
        .where(HumanTask.instance_id == instance_id, HumanTask.status == "completed")
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
        .limit(1)
    )
    user = db.session.get(User, user_id) if user_id else None
    return user.username if user else None


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
        _decider(ctx.instance_id),
        ctx.instance_id,
    )
    return {"status": promotion.status, "_data": {"promotion_status": promotion.status}}
