"""API schemas for tasks and instances."""

from marshmallow import Schema, fields, validate


class TaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    process_key = fields.String()
    title = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    form_key = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    candidate_roles = fields.Function(lambda t: [r for r in t.candidate_roles.split(",") if r])
    scope_region = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by_id = fields.Integer(allow_none=True)
    pass_no = fields.Integer()


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


class TaskListQuery(Schema):
    scope = fields.String(load_default="mine")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    before_id = fields.Integer(load_default=None, allow_none=True)


class TaskDetailSchema(TaskSchema):
    data = fields.Raw()
    form = fields.Raw()
