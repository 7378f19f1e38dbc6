"""Incidents: jobs whose retries ran out, and their retry."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.auth import api_user, require_api
from app.jobs import periodic, services

blp = Blueprint("incidents", __name__, description="Incidents and periodic jobs")


class IncidentSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    instance_id = fields.Integer(allow_none=True)
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


class PeriodicRunSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    slot_start = fields.DateTime()
    trigger = fields.String()
    worker_id = fields.String()
    status = fields.String()
    started_at = fields.DateTime(attribute="created_at")
    finished_at = fields.DateTime(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    result = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)


class PeriodicJobSchema(Schema):
    name = fields.String()
    description = fields.String()
    every_seconds = fields.Integer()
    next_slot = fields.DateTime()
    last_run = fields.Nested(PeriodicRunSchema, allow_none=True)
    last_failure = fields.Nested(PeriodicRunSchema, allow_none=True)


@blp.route("/jobs/periodic", methods=["GET"])
@blp.response(200, PeriodicJobSchema(many=True))
@require_api("admin")
def list_periodic():
    """Registered periodic jobs: period, last run, last failure (with its error), next slot."""
    return periodic.overview()


@blp.route("/jobs/periodic/<name>/runs", methods=["GET"])
@blp.response(200, PeriodicRunSchema(many=True))
@require_api("admin")
def periodic_runs(name):
    """The latest runs of one periodic job, newest first."""
    return periodic.recent_runs(name)


@blp.route("/jobs/periodic/<name>/run", methods=["POST"])
@blp.response(200, PeriodicRunSchema)
@require_api("admin")
def run_periodic_now(name):
    """Run a periodic job now, outside its slots; a failure is recorded on the run."""
    return periodic.run_periodic(name, f"api:{api_user().username}", actor=api_user().username)
