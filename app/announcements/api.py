"""Announcements API: dealers read the ones that target them; admins and marketing write."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.announcements import services
from app.core.auth import api_user, require_api

blp = Blueprint("announcements_api", __name__, description="Announcements (公告)")


class AnnouncementIn(Schema):
    title = fields.String(required=True)
    body = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, allow_none=True)
    regions = fields.List(fields.String(), load_default=list,
                          metadata={"description": "Region codes; empty = every region"})
    dealer_types = fields.List(fields.String(), load_default=list,
                               metadata={"description": "tier1, tier2, retailer; empty = every type"})


class AnnouncementPatch(Schema):
    title = fields.String()
    body = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    regions = fields.List(fields.String())
    dealer_types = fields.List(fields.String())
    status = fields.String(validate=validate.OneOf(("published", "unpublished")))


class AnnouncementOut(Schema):
    id = fields.Integer()
    title = fields.String()
    body = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    regions = fields.List(fields.String())
    dealer_types = fields.List(fields.String())
    status = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    read = fields.Boolean(metadata={"description": "whether the caller has marked it read"})


def _with_read(items, user):
    seen = services.read_ids(user, [a.id for a in items])
    for item in items:
        item.read = item.id in seen
    return items


@blp.route("/announcements", methods=["GET"])
@blp.response(200, AnnouncementOut(many=True))
@require_api()
def list_announcements():
    """Announcements for the caller: a dealer's users get the live ones targeting their dealer."""
    user = api_user()
    return _with_read(services.visible_to(user), user)


@blp.route("/announcements", methods=["POST"])
@blp.arguments(AnnouncementIn)
@blp.response(201, AnnouncementOut)
@require_api("admin", "marketing")
def create_announcement(data):
    """Publish an announcement (422 per field: dates, unknown regions or dealer types)."""
    user = api_user()
    return _with_read([services.create(user, data)], user)[0]


@blp.route("/announcements/<int:announcement_id>", methods=["GET"])
@blp.response(200, AnnouncementOut)
@require_api()
def get_announcement(announcement_id):
    """One announcement; 404 when it does not target the caller's dealer."""
    user = api_user()
    return _with_read([services.get_for(announcement_id, user)], user)[0]


@blp.route("/announcements/<int:announcement_id>", methods=["PATCH"])
@blp.arguments(AnnouncementPatch)
@blp.response(200, AnnouncementOut)
@require_api("admin", "marketing")
def update_announcement(data, announcement_id):
    """Edit an announcement; ``status: unpublished`` takes it off the dealers' dashboards."""
    user = api_user()
    status = data.pop("status", None)
    item = services.update(announcement_id, user, data) if data else None
    if status:
        item = services.set_published(announcement_id, user, status == "published")
    item = item or services.get_for(announcement_id, user)
    return _with_read([item], user)[0]


@blp.route("/announcements/<int:announcement_id>/read", methods=["POST"])
@blp.response(200, AnnouncementOut)
@require_api()
def read_announcement(announcement_id):
    """Mark an announcement read for the caller."""
    user = api_user()
    return _with_read([services.mark_read(announcement_id, user)], user)[0]
