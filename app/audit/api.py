"""The audit trail, for administrators."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.audit.services import query_events
from app.core.auth import require_api

blp = Blueprint("audit_api", __name__, description="Audit trail")


class AuditQuery(Schema):
    instance_id = fields.Integer(load_default=None)
    actor = fields.String(load_default=None)
    action = fields.String(load_default=None)
    process_key = fields.String(load_default=None)
    dealer_id = fields.Integer(load_default=None)
    since = fields.DateTime(load_default=None)
    until = fields.DateTime(load_default=None)
    before_id = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    process_key = fields.String(allow_none=True)
    dealer_id = fields.Integer(allow_none=True)
    details = fields.Function(lambda e: __import__("orjson").loads(e.details))
    prev_hash = fields.String()
    hash = fields.String()


@blp.route("/audit", methods=["GET"])
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEventSchema(many=True))
@require_api("admin")
def list_audit(query):
    """Audit events, newest first, filtered by instance, actor, action and time."""
    for key in ("since", "until"):
        if query.get(key) is not None and query[key].tzinfo is not None:
            from datetime import UTC

            query[key] = query[key].astimezone(UTC).replace(tzinfo=None)
    return query_events(**query)
