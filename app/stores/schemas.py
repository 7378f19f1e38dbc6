"""Marshmallow schemas of the store API (in and out)."""

from marshmallow import Schema, fields, validate

from app.stores.models import INSPECTION_ITEMS, STORE_STATUSES, STORE_TYPES


class StoreQuery(Schema):
    region = fields.String(load_default=None)
    dealer = fields.Integer(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(STORE_STATUSES))
    store_type = fields.String(load_default=None, validate=validate.OneOf(STORE_TYPES))
    q = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class StoreRowSchema(Schema):
    id = fields.Integer()
    code = fields.String(allow_none=True)
    name = fields.String()
    dealer_id = fields.Integer()
    dealer_name = fields.String()
    region = fields.String()
    status = fields.String()
    city = fields.String()
    address = fields.String()
    store_type = fields.String()
    area_m2 = fields.Decimal(as_string=True)
    expected_opening = fields.Date(allow_none=True)
    opened_on = fields.Date(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    budget_total = fields.Decimal(as_string=True)
    actual_total = fields.Decimal(as_string=True)


class MorningRowSchema(StoreRowSchema):
    total = fields.Integer(allow_none=True)
    done = fields.Integer(allow_none=True)
    overdue = fields.Integer(allow_none=True)
    next_due = fields.Date(allow_none=True)


class BudgetRowSchema(Schema):
    category = fields.String()
    budget = fields.Decimal(as_string=True)
    actual = fields.Decimal(as_string=True)
    variance = fields.Decimal(as_string=True)


class MilestoneSchema(Schema):
    code = fields.String()
    seq = fields.Integer()
    category = fields.String(allow_none=True)
    planned_start = fields.Date()
    planned_date = fields.Date()
    actual_date = fields.Date(allow_none=True)
    actual_cost = fields.Decimal(as_string=True, allow_none=True)
    status = fields.String()
    overdue_since = fields.Date(allow_none=True)
    escalated_at = fields.DateTime(allow_none=True)
    reported_by = fields.String(allow_none=True)
    confirmed_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class EventSchema(Schema):
    kind = fields.String()
    actor = fields.String()
    message = fields.String(allow_none=True)
    recipient_role = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class PhotoSchema(Schema):
    id = fields.Integer()
    attachment_id = fields.Integer()
    store_id = fields.Integer(allow_none=True)
    inspection_id = fields.Integer(allow_none=True)
    taken_at = fields.DateTime()
    taken_at_source = fields.String()
    caption = fields.String(allow_none=True)
    uploaded_by = fields.String()


class InspectionSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    store_id = fields.Integer()
    slot = fields.String()
    region = fields.String()
    store_type = fields.String()
    status = fields.String()
    due_on = fields.Date()
    inspector = fields.String(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    score = fields.Integer(allow_none=True)
    threshold = fields.Integer()
    notes = fields.String(allow_none=True)
    corrective_instance_id = fields.Integer(allow_none=True)
    corrective_status = fields.String(allow_none=True)
    reinspection_score = fields.Integer(allow_none=True)


class ScoreSchema(Schema):
    item = fields.String()
    score = fields.Integer()
    note = fields.String(allow_none=True)


class InspectionDetailSchema(InspectionSchema):
    checklist = fields.List(fields.String())
    scores = fields.List(fields.Nested(ScoreSchema))
    photos = fields.List(fields.Nested(PhotoSchema))


class DocumentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    milestone = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    uploaded_by = fields.String()
    created_at = fields.DateTime()


class StoreDetailSchema(StoreRowSchema):
    status_reason = fields.String(allow_none=True)
    opening_instance_id = fields.Integer(allow_none=True)
    budget = fields.List(fields.Nested(BudgetRowSchema))
    milestones = fields.List(fields.Nested(MilestoneSchema))
    progress = fields.Dict()
    inspections = fields.List(fields.Nested(InspectionSchema))
    history = fields.List(fields.Nested(EventSchema))
    photos = fields.List(fields.Nested(PhotoSchema))
    documents = fields.List(fields.Nested(DocumentSchema))


class ApplicationRequest(Schema):
    data = fields.Dict(required=True)


class MilestoneReport(Schema):
    actual_date = fields.Date(required=True)
    actual_cost = fields.Decimal(required=True, places=2, validate=validate.Range(min=0))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class StatusChangeRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))
    cancel_open_items = fields.Boolean(load_default=False)
    effective_date = fields.Date(load_default=None, allow_none=True)


class PlanSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    store_type = fields.String(load_default=None, allow_none=True,
                               validate=validate.OneOf(STORE_TYPES))
    store_id = fields.Integer(load_default=None, allow_none=True)
    every_months = fields.Integer(load_default=1)
    start_month = fields.String(required=True)
    due_days = fields.Integer(load_default=20, validate=validate.Range(1, 366))
    threshold = fields.Integer(load_default=70, validate=validate.Range(0, 100))
    checklist = fields.List(fields.String(validate=validate.OneOf(INSPECTION_ITEMS)),
                            load_default=None, allow_none=True,
                            metadata={"description": "items scored; all when omitted"})
    active = fields.Boolean(dump_only=True)
    created_by = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={
        "description": "send it back (body `version` or `If-Match`) when changing the plan"})


class PlanUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    every_months = fields.Integer()
    start_month = fields.String()
    due_days = fields.Integer(validate=validate.Range(1, 366))
    threshold = fields.Integer(validate=validate.Range(0, 100))
    checklist = fields.List(fields.String(validate=validate.OneOf(INSPECTION_ITEMS)),
                            allow_none=True)
    active = fields.Boolean()
    version = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "the version edited; a stale one is a 409 and nothing changes"})
    cancel_open = fields.Boolean(load_default=False, metadata={
        "description": "when deactivating: cancel the plan's open inspections (else they "
                       "stay open)"})
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=2000))


class PlanDeactivateQuery(Schema):
    cancel_open = fields.Boolean(load_default=False)
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=2000))
    version = fields.Integer(load_default=None, allow_none=True)


class PlanChangeSchema(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    details = fields.Dict()


class PlanDetailSchema(PlanSchema):
    open_inspections = fields.Integer(dump_only=True)
    history = fields.List(fields.Nested(PlanChangeSchema))


class InspectionQuery(Schema):
    status = fields.String(load_default=None)
    slot = fields.String(load_default=None)
    store_id = fields.Integer(load_default=None)


class ItemScore(Schema):
    item = fields.String(required=True, validate=validate.OneOf(INSPECTION_ITEMS))
    score = fields.Integer(required=True, validate=validate.Range(0, 10))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class InspectionSubmit(Schema):
    items = fields.List(fields.Nested(ItemScore), required=True)
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    photos = fields.List(fields.Integer(), load_default=list)


class SlotRequest(Schema):
    slot = fields.String(required=True)


class GenerateResult(Schema):
    slot = fields.String()
    created = fields.Integer()


class OverdueCheck(Schema):
    today = fields.Date(load_default=None, allow_none=True)
