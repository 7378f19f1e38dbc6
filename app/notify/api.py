"""Notifications of the caller, and the outbox (admins)."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.core.auth import api_user, require_api
from app.notify import services

blp = Blueprint("notifications", __name__, description="Notifications and the outbox")


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    read = fields.Function(lambda n: n.read_at is not None)


class NotificationQuery(Schema):
    unread = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=services.PAGE, validate=validate.Range(1, 200))
    before_id = fields.Integer(load_default=None)


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    unread = fields.Integer()


@blp.route("/notifications", methods=["GET"])
@blp.arguments(NotificationQuery, location="query")
@blp.response(200, NotificationPage)
@require_api()
def list_notifications(query):
    """The caller's notifications, newest first, with the unread count."""
    user = api_user()
    return {"items": services.list_notifications(user, query["unread"], query["limit"],
                                                 query["before_id"]),
            "unread": services.unread_count(user)}


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@require_api()
def read(notification_id):
    """Mark one of the caller's notifications read (others' answer 404)."""
    return services.mark_read(notification_id, api_user())


@blp.route("/notifications/read-all", methods=["POST"])
@require_api()
def read_all():
    """Mark every notification of the caller read."""
    return {"marked": services.mark_all_read(api_user())}


class OutboxSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    recipient = fields.String()
    payload = fields.Raw()
    status = fields.String(attribute="delivery_status",
                           metadata={"description": "queued, sent, or failed (its delivery job "
                                     "is an open incident)"})
    attempts = fields.Integer()
    external_id = fields.String(allow_none=True)
    last_error = fields.String(attribute="delivery_error", allow_none=True)
    job_id = fields.Integer(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class OutboxQuery(Schema):
    channel = fields.String(load_default=None)
    status = fields.String(load_default=None)


@blp.route("/outbox", methods=["GET"])
@blp.arguments(OutboxQuery, location="query")
@require_api("admin")
def outbox(query):
    """Outgoing SMS / WeCom / e-signature messages, newest first (admins)."""
    import orjson

    rows = services.list_outbox(query["channel"], query["status"])
    out = OutboxSchema(many=True).dump(rows)
    for item, row in zip(out, rows, strict=True):
        item["payload"] = orjson.loads(row.payload)
    return out


@blp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@blp.response(200, OutboxSchema)
@require_api("admin")
def retry(message_id):
    """Queue a failed message again."""
    return services.retry_message(message_id, api_user().username)
