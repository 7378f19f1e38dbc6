"""``stores.*``: internal operations the store processes' service tasks name (run by the worker)."""

from marshmallow import EXCLUDE, Schema, fields

from app.stores import inspections, lifecycle, services
from connectors.registry import CallContext, registry


class _Params(Schema):
    class Meta:
        unknown = EXCLUDE


class ApplicationParams(_Params):
    dealer = fields.String(required=True)
    region = fields.String(load_default=None, allow_none=True)
    store_name = fields.String(required=True)
    city = fields.String(required=True)
    address = fields.String(required=True)
    store_type = fields.String(required=True)
    area_m2 = fields.Decimal(required=True, as_string=False)
    expected_opening = fields.Date(load_default=None, allow_none=True)
    budget_lines = fields.List(fields.Dict(), required=True)
    photos = fields.List(fields.Raw(), load_default=list, allow_none=True)


def _store_result(store) -> dict:
    return {"store_id": store.id, "store_code": store.code, "status": store.status,
            "_data": {"store_id": store.id, "store_code": store.code}}


@registry.register("stores.register_application", schema=ApplicationParams, internal=True,
                   description="Register a store opening application in the store ledger")
def register_application(params: dict, ctx: CallContext) -> dict:
    return _store_result(services.register_application(params, ctx.instance_id))


@registry.register("stores.start_opening", internal=True,
                   description="Budget approved: start the opening project and its milestones")
def start_opening(params: dict, ctx: CallContext) -> dict:
    return _store_result(services.start_opening_project(ctx.instance_id))


class RejectParams(_Params):
    reason = fields.String(load_default=None, allow_none=True)


@registry.register("stores.reject_application", schema=RejectParams, internal=True,
                   description="Close a rejected opening application in the ledger")
def reject_application(params: dict, ctx: CallContext) -> dict:
    return _store_result(services.reject_application(ctx.instance_id, params.get("reason")))


@registry.register("stores.activate", internal=True,
                   description="Acceptance passed: activate the store and plan its inspections")
def activate(params: dict, ctx: CallContext) -> dict:
    return _store_result(services.activate_store(ctx.instance_id))


class StatusParams(_Params):
    store = fields.String(required=True)
    reason = fields.String(load_default=None, allow_none=True)
    effective_date = fields.Date(load_default=None, allow_none=True)
    requested_by = fields.String(load_default=None, allow_none=True)


@registry.register("stores.close", schema=StatusParams, internal=True,
                   description="Close a store (cancelling its open milestones and inspections)")
def close(params: dict, ctx: CallContext) -> dict:
    return _store_result(lifecycle.close_store(params, ctx.instance_id))


@registry.register("stores.suspend", schema=StatusParams, internal=True,
                   description="Suspend a store")
def suspend(params: dict, ctx: CallContext) -> dict:
    return _store_result(lifecycle.suspend_store(params, ctx.instance_id))


@registry.register("stores.resume", schema=StatusParams, internal=True,
                   description="Reopen a suspended store")
def resume(params: dict, ctx: CallContext) -> dict:
    return _store_result(lifecycle.resume_store(params, ctx.instance_id))


class ReinspectionParams(_Params):
    inspection_id = fields.Integer(required=True)
    decision = fields.String(required=True)
    score = fields.Integer(load_default=None, allow_none=True)


@registry.register("stores.record_reinspection", schema=ReinspectionParams, internal=True,
                   description="Record the re-inspection after a corrective action")
def record_reinspection(params: dict, ctx: CallContext) -> dict:
    found = inspections.record_reinspection(params, ctx.instance_id)
    return {"inspection_id": found.id, "corrective_status": found.corrective_status}
from app.stores import reminders  # noqa: E402, F401  (the daily store jobs)
