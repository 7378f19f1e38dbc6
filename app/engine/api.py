"""Processes and instances: the core REST contract."""

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.auth import api_user, require_api
from app.core.errors import DeployError, NotFound
from app.core.fastdump import Dumper, json_response
from app.core.schemas import DataRequest
from app.engine import services
from app.engine.parsing import ModelProblems
from app.tasks import services as tasks
from app.tasks.schemas import InstanceSchema

blp = Blueprint("processes", __name__, description="Processes and instances")
INSTANCE_JSON = Dumper(InstanceSchema)  # the start response, as InstanceSchema writes it


class ProcessSchema(Schema):
    key = fields.String(attribute="process_key")
    name = fields.String()
    version = fields.Integer()
    deployed_at = fields.DateTime(attribute="created_at")
    can_start = fields.Boolean()


@blp.route("/processes", methods=["GET"])
@blp.response(200, ProcessSchema(many=True))
@require_api()
def list_processes():
    """Latest version of every deployed process, with whether the caller may start it."""
    user = api_user()
    out = []
    for v in services.latest_versions():
        v.can_start = services.can_start(v, user)
        out.append(v)
    return out


@blp.route("/processes/deploy", methods=["POST"])
@require_api("analyst", "admin")
def deploy():
    """Deploy uploaded BPMN/DMN files (multipart ``files``); 422 with located problems."""
    files = {f.filename: f.read() for f in request.files.getlist("files") if f.filename}
    if not files:
        raise DeployError([{"file": None, "element": None, "line": None,
                            "message": "No files uploaded (multipart field 'files')"}])
    results = services.deploy_files(files, api_user().username)
    return {"deployed": [r.__dict__ for r in results]}


@blp.route("/processes/check", methods=["POST"])
@require_api("analyst", "admin")
def check():
    """Validate BPMN/DMN files without deploying them."""
    files = {f.filename: f.read() for f in request.files.getlist("files") if f.filename}
    try:
        bundle = services.check_files(files)
    except ModelProblems as exc:
        return {"ok": False, "problems": exc.problems}
    return {"ok": True, "processes": bundle.process_ids()}


@blp.route("/processes/<key>/instances", methods=["POST"])
@blp.arguments(DataRequest)
@blp.response(201, InstanceSchema)
@require_api()
def start(body, key):
    """Start an instance; ``data`` completes the starter's first form."""
    instance = tasks.start_instance(key, api_user(), body.get("data"), body.get("business_key"))
    return json_response(INSTANCE_JSON.one(tasks.instance_for_api(instance)), status=201)


@blp.route("/instances/<int:instance_id>", methods=["GET"])
@blp.response(200, InstanceSchema)
@require_api()
def get_instance(instance_id):
    """One instance: status, outcome, its tasks and current data."""
    instance = services.get_instance(instance_id)
    if not tasks.can_view_instance(instance, api_user()):
        raise NotFound(f"Instance {instance_id} not found")
    return tasks.instance_for_api(instance, with_data=True, history=True)


class MessageRequest(Schema):
    payload = fields.Dict(load_default=dict)
    business_key = fields.String(load_default=None, allow_none=True)
    instance_id = fields.Integer(load_default=None, allow_none=True)
    correlations = fields.Dict(load_default=dict)
    correlation = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict,
                              metadata={"description": "keys the waiting instance's data must "
                                        "match, e.g. {\"contract_id\": \"C-1\"}"})


class MessageResult(Schema):
    message = fields.String()
    instance_id = fields.Integer()


@blp.route("/messages/<name>", methods=["POST"])
@blp.arguments(MessageRequest)
@blp.response(200, MessageResult)
@require_api("admin", "integration")
def deliver(body, name):
    """Deliver a message (e.g. an e-signature callback) to the instance waiting for it.

    The instance is the one whose data matches every ``correlation`` key (and the
    ``business_key`` / ``instance_id`` when given). 404 when no instance waits for it, 409 when
    several do. Admins and the ``integration`` role (external systems' API users) may post.
    """
    delivered = services.deliver_message(name, body["payload"], api_user(),
                                   business_key=body["business_key"],
                                   instance_id=body["instance_id"],
                                   correlations=body["correlations"],
                                   correlation=body["correlation"])
    return {"message": name, "instance_id": delivered}
