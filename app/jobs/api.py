"""Incidents: jobs whose retries ran out, and their retry."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.auth import api_user, require_api
from app.jobs import services

blp = Blueprint("incidents", __name__, description="Incidents")


class IncidentSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    instance_id = fields.Integer()
    operation = fields.String()
    error = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class IncidentQuery(Schema):
    status = fields.String(load_default="open")


@blp.route("/incidents", methods=["GET"])
@blp.arguments(IncidentQuery, location="query")
@blp.response(200, IncidentSchema(many=True))
@require_api("admin")
def list_incidents(query):
    """Open incidents (``status=all`` for every one)."""
    status = None if query["status"] == "all" else query["status"]
    return services.list_incidents(status)


@blp.route("/incidents/<int:incident_id>/retry", methods=["POST"])
@blp.response(200, IncidentSchema)
@require_api("admin")
def retry(incident_id):
    """Queue the incident's job again, due now, with fresh attempts."""
    return services.retry_incident(incident_id, api_user().username)
