"""Operations the order processes call: timeline/status steps, credit position, split, ERP orders.

``orders.create_erp_orders`` is a remote operation (the worker holds no transaction while it
runs): it creates one ERP sales order per part through ``erp.create_sales_order``; the ERP
dedupes on PURCH_NO_C, so a retry never creates a part twice. The internal operations around
it write what happened to the order.
"""

from decimal import Decimal

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields

from app.audit.services import record
from app.erp import credit as credit_cache
from app.extensions import db
from app.orders import services
from connectors.registry import BusinessError, CallContext, ConnectorError, registry


class _Params(Schema):
    class Meta:
        unknown = EXCLUDE


class StatusParams(_Params):
    order_id = fields.Integer(required=True)
    status = fields.String(required=True)
    event = fields.String(required=True)
    note = fields.String(load_default=None, allow_none=True)


@registry.register(
    "orders.set_status",
    schema=StatusParams,
    internal=True,
    description="Move an order to a status and add a timeline entry",
)
def set_status(params: dict, ctx: CallContext) -> dict:
    order = services.find_order(params["order_id"])
    order.status = params["status"]
    services.event(order, params["event"], ctx.actor, params.get("note"))
    record(
        ctx.actor,
        f"order.{params['event']}",
        target_type="order",
        target_id=order.id,
        instance_id=ctx.instance_id,
        dealer_id=order.dealer_id,
        details={"status": order.status},
    )
    return {"status": order.status}


class CreditParams(_Params):
    order_id = fields.Integer(required=True)
    erp_credit = fields.Dict(required=True)


@registry.register(
    "orders.credit_position",
    schema=CreditParams,
    internal=True,
    description="ERP limit and exposure plus this platform's orders not yet in the ERP",
)
def credit_position(params: dict, ctx: CallContext) -> dict:
    order = services.find_order(params["order_id"])
    erp = params["erp_credit"]
    limit, exposure = Decimal(erp["credit_limit"]), Decimal(erp["total_exposure"])
    pending = services.pending_exposure(order.dealer_id, exclude_order_id=order.id)
    available_after = limit - exposure - pending - order.net_total
    figures = {
        "credit_limit": str(limit),
        "erp_exposure": str(exposure),
        "platform_pending": str(pending),
        "order_total": str(order.net_total),
        "available_after": str(available_after),
    }
    if erp.get("source") == "cache":  # the ERP was down: the check used the cached status
        figures |= {"source": "cache", "as_of": erp.get("fetched_at")}
    else:
        credit_cache.remember(order.dealer_id, erp)
    services.event(order, "credit_checked", "worker", **figures)
    # The decision table compares plain numbers.
    return {**figures, "_data": {"available_after": float(available_after), "credit_limit": float(limit)}}


class DecisionParams(_Params):
    order_id = fields.Integer(required=True)
    credit_result = fields.String(required=True)


@registry.register(
    "orders.record_credit",
    schema=DecisionParams,
    internal=True,
    description="Store the credit decision (pass / warn / block) on the order",
)
def record_credit(params: dict, ctx: CallContext) -> dict:
    order = services.find_order(params["order_id"])
    order.credit_result = params["credit_result"]
    if order.credit_result == "block":
        order.status = "credit_blocked"
    services.event(order, f"credit_{order.credit_result}", "worker")
    return {"credit_result": order.credit_result}


class OrderParams(_Params):
    order_id = fields.Integer(required=True)
    customer_number = fields.String(load_default=None, allow_none=True)


@registry.register(
    "orders.split",
    schema=OrderParams,
    internal=True,
    description="Split an approved order into ERP sales orders",
)
def split(params: dict, ctx: CallContext) -> dict:
    order = services.find_order(params["order_id"])
    order.status = "approved"
    parts = services.split_order(order)
    doc_types = current_app.config["ERP_ORDER_TYPES"]
    payloads = [
        services.part_payload(order, p, params.get("customer_number") or "", doc_types) for p in parts
    ]
    needs = any(p.needs_shipment_approval for p in parts)
    return {"parts": payloads, "_data": {"erp_parts": payloads, "needs_shipment_approval": needs}}


class CreateParams(_Params):
    parts = fields.List(fields.Dict(), required=True)


@registry.register(
    "orders.create_erp_orders",
    schema=CreateParams,
    description="Create one ERP sales order per part (PURCH_NO_C dedupes retries)",
)
def create_erp_orders(params: dict, ctx: CallContext) -> dict:
    create = registry.get("erp.create_sales_order")
    if create is None:
        raise ConnectorError("The ERP connector has no erp.create_sales_order operation")
    created, failed = {}, {}
    for part in params["parts"]:
        part_ctx = CallContext(
            idempotency_key=f"{ctx.idempotency_key}:{part['purchase_order_number']}",
            instance_id=ctx.instance_id,
            actor=ctx.actor,
        )
        try:
            result = create.fn(create.load_params(part), part_ctx)
        except BusinessError as exc:
            failed[part["purchase_order_number"]] = f"{exc.code}: {exc.message}"
            continue
        created[part["purchase_order_number"]] = result["sales_document"]
    if failed:
        raise BusinessError(
            "ERP_ORDER_REJECTED",
            f"The ERP rejected {len(failed)} of {len(params['parts'])} parts",
            payload={"erp_created": created, "erp_failed": failed},
        )
    return {"created": created, "_data": {"erp_created": created, "erp_failed": {}}}


class RecordParams(_Params):
    order_id = fields.Integer(required=True)
    created = fields.Dict(load_default=dict)
    failed = fields.Dict(load_default=dict)


@registry.register(
    "orders.record_erp_orders",
    schema=RecordParams,
    internal=True,
    description="Write the ERP order numbers (and any rejected parts) to the order",
)
def record_erp_orders(params: dict, ctx: CallContext) -> dict:
    order = services.find_order(params["order_id"])
    for part in order.parts:
        if part.purch_no in params["created"]:
            part.erp_order_number, part.status, part.erp_error = (
                params["created"][part.purch_no],
                "in_erp",
                None,
            )
        elif part.purch_no in params["failed"]:
            part.status, part.erp_error = "erp_error", params["failed"][part.purch_no]
    live = [p for p in order.parts if p.status != "cancelled"]
    order.status = "in_erp" if live and all(p.erp_order_number for p in live) else "erp_error"
    services.event(
        order,
        "erp_orders",
        "worker",
        numbers={p.purch_no: p.erp_order_number for p in order.parts if p.erp_order_number},
        failed=params["failed"],
    )
    record(
        ctx.actor,
        "order.erp_orders",
        target_type="order",
        target_id=order.id,
        instance_id=ctx.instance_id,
        dealer_id=order.dealer_id,
        details={"created": params["created"], "failed": params["failed"]},
    )
    db.session.flush()
    return {"status": order.status}


class CancelParams(_Params):
    order_id = fields.Integer(required=True)
    failed = fields.Dict(load_default=dict)


@registry.register(
    "orders.cancel_failed_parts",
    schema=CancelParams,
    internal=True,
    description="Cancel the parts the ERP rejected; the other parts stand",
)
def cancel_failed_parts(params: dict, ctx: CallContext) -> dict:
    order = services.find_order(params["order_id"])
    for part in order.parts:
        if part.purch_no in params["failed"] and not part.erp_order_number:
            part.status = "cancelled"
    live = [p for p in order.parts if p.status != "cancelled"]
    order.status = "in_erp" if live else "cancelled"
    services.event(order, "parts_cancelled", ctx.actor, parts=sorted(params["failed"]))
    return {"status": order.status}
from app.orders import poll  # noqa: E402,F401  (registers the erp.delivery_poll periodic job)
