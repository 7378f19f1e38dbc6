"""The ERP message log, for administrators."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.core.auth import require_api
from app.erp.services import list_messages

blp = Blueprint("erp_api", __name__, description="ERP message log")


class MessageQuery(Schema):
    instance_id = fields.Integer(load_default=None)
    idempotency_key = fields.String(load_default=None)
    outcome = fields.String(load_default=None,
                            validate=validate.OneOf(["ok", "business_error", "technical_error"]))
    before_id = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ErpMessageSchema(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    operation = fields.String()
    function = fields.String()
    url = fields.String()
    idempotency_key = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    outcome = fields.String()
    http_status = fields.Integer(allow_none=True)
    duration_ms = fields.Integer()
    request_xml = fields.String()
    response_xml = fields.String()
    error = fields.String(allow_none=True)


@blp.route("/erp/messages", methods=["GET"])
@blp.arguments(MessageQuery, location="query")
@blp.response(200, ErpMessageSchema(many=True))
@require_api("admin")
def messages(query):
    """Logged SOAP envelope pairs (secrets redacted), newest first."""
    return list_messages(**query)
