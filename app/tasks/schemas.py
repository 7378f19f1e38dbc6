"""API schemas for tasks and instances."""

import orjson
from marshmallow import Schema, fields, validate

from app.core.models import utcnow
from app.tasks.inbox import InboxFilterSchema


class TaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    process_key = fields.String()
    title = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    form_key = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    candidate_roles = fields.Method("_candidate_roles")
    scope_region = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    warn_at = fields.DateTime(allow_none=True)
    overdue = fields.Method("_overdue")
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by_id = fields.Integer(allow_none=True)
    pass_no = fields.Integer()
    kind = fields.String()
    owner_id = fields.Integer(allow_none=True)
    delegation = fields.String(allow_none=True)
    parent_task_id = fields.Integer(allow_none=True)
    sign_position = fields.String(allow_none=True)
    sign_mode = fields.String(allow_none=True)
    transferred_to_id = fields.Integer(allow_none=True)
    proxied_for_id = fields.Integer(allow_none=True)
    on_behalf_of_id = fields.Integer(allow_none=True)  # a group task seen as someone's proxy
    amount = fields.Decimal(allow_none=True, as_string=True)
    dealer_id = fields.Integer(allow_none=True)
    attachments = fields.Method("_attachments")
    # scope=cc entries only
    cc_id = fields.Integer()
    cc_read = fields.Boolean()
    cc_reason = fields.String()
    cc_by_id = fields.Integer(allow_none=True)
    cc_comment = fields.String(allow_none=True)
    instance_status = fields.String()

    def _candidate_roles(self, obj):
        raw = obj.get("candidate_roles", "") if isinstance(obj, dict) else obj.candidate_roles
        return [r for r in (raw or "").split(",") if r]

    def _overdue(self, obj):
        get = obj.get if isinstance(obj, dict) else lambda k: getattr(obj, k, None)
        due = get("due_at")
        return bool(due and get("status") == "open" and due <= utcnow())

    def _attachments(self, obj):
        raw = obj.get("attachments") if isinstance(obj, dict) else obj.attachments
        return orjson.loads(raw) if raw else []


class InstanceSchema(Schema):
    id = fields.Integer()
    process_key = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    outcome_reason = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    title = fields.String()
    region = fields.String(allow_none=True)
    lock_version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    tasks = fields.List(fields.Nested(TaskSchema))
    data = fields.Raw()


class TaskListQuery(InboxFilterSchema):
    scope = fields.String(load_default="mine")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    before_id = fields.Integer(load_default=None, allow_none=True)


class CountsQuery(InboxFilterSchema):
    pass


class CountsSchema(Schema):
    mine = fields.Integer()
    group = fields.Integer()
    completed = fields.Integer()
    cc = fields.Integer()
    cc_unread = fields.Integer()
    overdue = fields.Integer()


class SavedFilterRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    query = fields.String(load_default="", validate=validate.Length(max=1000))


class SavedFilterPatch(Schema):
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    query = fields.String(load_default=None, validate=validate.Length(max=1000))


class SavedFilterSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    query = fields.String()
    created_at = fields.DateTime()


class TaskDetailSchema(TaskSchema):
    data = fields.Raw()
    form = fields.Raw()


# --- Approval operations ---------------------------------------------------------------

class ActionRequest(Schema):
    comment = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=2000))
    attachments = fields.List(fields.Integer(), load_default=list)


class UserActionRequest(ActionRequest):
    user = fields.String(required=True, validate=validate.Length(min=1, max=64))


class AddSignersRequest(ActionRequest):
    users = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                        validate=validate.Length(min=1, max=20))
    position = fields.String(required=True,
                             validate=validate.OneOf(("before", "after", "parallel")))
    mode = fields.String(load_default="all", validate=validate.OneOf(("all", "any", "sequential")))


class ReturnRequest(ActionRequest):
    to = fields.String(load_default="previous", validate=validate.Length(min=1, max=100))


class RejectRequest(ActionRequest):
    data = fields.Dict(load_default=dict)


class BatchCompleteRequest(Schema):
    task_ids = fields.List(fields.Integer(), required=True,
                           validate=validate.Length(min=1, max=1000))
    data = fields.Dict(load_default=dict)


class BatchResultSchema(Schema):
    task_id = fields.Integer()
    ok = fields.Boolean()
    status = fields.Integer()
    code = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    errors = fields.Raw(allow_none=True)
    instance_id = fields.Integer(allow_none=True)


class BatchResponseSchema(Schema):
    results = fields.List(fields.Nested(BatchResultSchema))
    succeeded = fields.Integer()
    failed = fields.Integer()


class CcRequest(Schema):
    users = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                        validate=validate.Length(min=1, max=50))
    comment = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=2000))


class CcReadSchema(Schema):
    marked = fields.Integer()
    unread = fields.Integer()


class ProxyRequest(Schema):
    proxy = fields.String(required=True, validate=validate.Length(min=1, max=64))
    user = fields.String(load_default=None, allow_none=True)  # admins: for someone else
    starts_at = fields.DateTime(load_default=None, allow_none=True)
    ends_at = fields.DateTime(required=True)
    processes = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                            load_default=list)
    move_pending = fields.Boolean(load_default=False)


class RevokeRequest(Schema):
    recall = fields.Boolean(load_default=False)


class ProxySchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    proxy_id = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    processes = fields.Function(lambda p: [k for k in p.process_keys.split(",") if k])
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Function(lambda p: p.revoked_at is None and
                             p.starts_at <= utcnow() < p.ends_at)
    moved_task_ids = fields.Function(lambda p: getattr(p, "moved", []))


class UrgeResponseSchema(Schema):
    task_id = fields.Integer()
    reminded = fields.List(fields.String())
    next_allowed_at = fields.DateTime(allow_none=True)
