"""API schemas shared across domains."""

from marshmallow import Schema, fields


class TokenRequest(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class TokenResponse(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    username = fields.String()
    roles = fields.List(fields.String())


class DataRequest(Schema):
    """A body carrying free-form process/form data: ``{"data": {...}}``."""

    data = fields.Dict(load_default=dict)
    business_key = fields.String(load_default=None, allow_none=True)
