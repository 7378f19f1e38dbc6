"""Operations of the ``price_change`` process, and the periodic job that runs price imports.

``pricing.write_to_erp`` is a remote operation (the worker holds no transaction while it runs):
it sends the change's condition records through ``erp.set_price_conditions`` in batches, each
with its own idempotency key derived from the job's, so a retried job rewrites nothing twice;
a big change is written by several jobs in turn (the process loops until ``erp_done``).
A RETURN error of the ERP becomes the BPMN error ``ERP_PRICES_REJECTED``.
"""

import time
from datetime import timedelta

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import update

from app.extensions import db
from app.jobs.periodic import register_periodic
from app.pricing import imports, services
from app.pricing.models import PriceChange
from app.tasks.services import last_completer
from connectors.registry import BusinessError, CallContext, ConnectorError, registry

ERP_BATCH = 200


class _Params(Schema):
    class Meta:
        unknown = EXCLUDE

    price_change_id = fields.Integer(required=True)


class DecisionParams(_Params):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = fields.String(load_default=None, allow_none=True)


class ResolveParams(_Params):
    decision = fields.String(required=True, validate=validate.OneOf(["resubmit", "cancel"]))
    comment = fields.String(load_default=None, allow_none=True)


class ErrorParams(_Params):
    error = fields.Dict(load_default=dict)


@registry.register(
    "pricing.apply_decision",
    schema=DecisionParams,
    internal=True,
    description="Record the approver's decision on a price change (approved → ERP write)",
)
def apply_decision(params: dict, ctx: CallContext) -> dict:
    change = services.apply_decision(
        params["price_change_id"],
        params["decision"],
        params.get("comment"),
        last_completer(ctx.instance_id),
        ctx.instance_id,
    )
    # An approved change is written to the ERP from its first batch on.
    return {"status": change.status, "_data": {"erp_next_batch": 0, "erp_done": False}}


class WriteParams(_Params):
    start_batch = fields.Integer(load_default=0, validate=validate.Range(min=0))


@registry.register(
    "pricing.write_to_erp",
    schema=WriteParams,
    description="Write a price change's condition records to the ERP (erp.set_price_conditions)",
)
def write_to_erp(params: dict, ctx: CallContext) -> dict:
    """Send batches from ``start_batch`` on until the time budget is spent.

    A big change (an import of 20,000 rows) takes several jobs: the process loops back here
    with ``erp_next_batch`` until ``erp_done``, so no single call outlasts the job lease.
    """
    setter = registry.get("erp.set_price_conditions")
    if setter is None:
        raise ConnectorError("The ERP connector has no erp.set_price_conditions operation")
    change = services.get_price_change(params["price_change_id"])
    records = services.erp_conditions(change)
    earlier = list(change.erp_condition_numbers) if params["start_batch"] else []
    db.session.rollback()  # hold no database snapshot or lock while the ERP works
    budget = float(current_app.config["PRICE_ERP_WRITE_SECONDS"])
    started, batch, numbers = time.monotonic(), params["start_batch"], []
    while batch * ERP_BATCH < len(records) and (not numbers or time.monotonic() - started < budget):
        batch_ctx = CallContext(
            idempotency_key=f"{ctx.idempotency_key}:{batch}", instance_id=ctx.instance_id, actor=ctx.actor
        )
        first = batch * ERP_BATCH
        rows = records[first : first + ERP_BATCH]
        try:
            result = setter.fn(setter.load_params({"conditions": rows}), batch_ctx)
        except BusinessError as exc:
            raise BusinessError(
                "ERP_PRICES_REJECTED",
                f"{exc.code}: {exc.message} (records {first + 1}–{first + len(rows)})",
                payload={"erp_code": exc.code, "erp_message": exc.message, "batch": batch},
            ) from exc
        numbers += [c["condition_number"] for c in result["conditions"]]
        batch += 1
    db.session.execute(
        update(PriceChange)
        .where(PriceChange.id == params["price_change_id"])
        .values(erp_condition_numbers=[*earlier, *numbers])
    )
    done = batch * ERP_BATCH >= len(records)
    return {"written": len(numbers), "_data": {"erp_next_batch": batch, "erp_done": done}}


@registry.register(
    "pricing.record_erp_error",
    schema=ErrorParams,
    internal=True,
    description="Mark a price change the ERP refused, with the ERP's message",
)
def record_erp_error(params: dict, ctx: CallContext) -> dict:
    error = params["error"] or {}
    message = error.get("message") or error.get("erp_message") or "The ERP refused the condition records"
    change = services.record_erp_error(params["price_change_id"], str(message), ctx.instance_id)
    return {"status": change.status}


@registry.register(
    "pricing.resolve_erp_error",
    schema=ResolveParams,
    internal=True,
    description="Resubmit a corrected price change for approval, or cancel it",
)
def resolve_erp_error(params: dict, ctx: CallContext) -> dict:
    change = services.resolve_erp_error(
        params["price_change_id"],
        params["decision"],
        params.get("comment"),
        last_completer(ctx.instance_id),
        ctx.instance_id,
    )
    return {"status": change.status}


@registry.register(
    "pricing.apply_to_catalogue",
    schema=_Params,
    internal=True,
    description="Write the change's PR00 prices to the catalogue for their validity periods",
)
def apply_to_catalogue(params: dict, ctx: CallContext) -> dict:
    change = services.apply_to_catalogue(params["price_change_id"], ctx.instance_id)
    return {"status": change.status}


register_periodic(
    "pricing.run_imports",
    every=timedelta(seconds=5),
    func=imports.run_queued_imports,
    description="Validate uploaded price workbooks and turn them into price changes",
)
