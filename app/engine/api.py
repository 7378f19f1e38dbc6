"""Processes and instances: the core REST contract."""

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.auth import api_user, require_api
from app.core.errors import DeployError, Forbidden, NotFound
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


class ChildRunSchema(Schema):
    id = fields.String(metadata={"description": "the called run's id (its call activity's "
                                 "engine task id): GET …/subprocesses/{id}/diagram"})
    process_key = fields.String(metadata={"description": "the called process"})
    state = fields.String(metadata={"description": "completed | active | incident"})


class ParentRunSchema(Schema):
    subprocess_id = fields.String(allow_none=True, metadata={
        "description": "the calling run; null when it is the instance's own diagram"})
    element = fields.String(metadata={"description": "the call activity that called this run"})


class DiagramSchema(Schema):
    process_key = fields.String()
    version = fields.Integer()
    xml = fields.String(metadata={"description": "BPMN XML of the file defining the process"})
    diagram_id = fields.String(allow_none=True, metadata={
        "description": "the BPMNDiagram of the process when its file holds several"})
    elements = fields.Dict(keys=fields.String(), values=fields.String(),
                           metadata={"description": "element id → completed | active | incident"})
    call_activities = fields.Dict(keys=fields.String(), values=fields.List(
        fields.Nested(ChildRunSchema)), metadata={
            "description": "call activity id → the runs of the process it called"})
    subprocess_id = fields.String(allow_none=True, metadata={
        "description": "this run's id; null for the instance's own diagram"})
    parent = fields.Nested(ParentRunSchema, allow_none=True)


def _diagram(instance_id: int, subprocess_id: str | None) -> dict:
    from sqlalchemy import select

    from app.engine import diagram
    from app.engine.models import ProcessVersion
    from app.extensions import db
    from app.jobs.models import Incident, Job

    user = api_user()
    if user.has_role("dealer"):
        raise Forbidden("Dealers do not see process diagrams")
    instance = services.get_instance(instance_id)
    if not tasks.can_view_instance(instance, user):
        raise NotFound(f"Instance {instance_id} not found")
    version = db.session.get(ProcessVersion, instance.process_version_id)
    failed = db.session.execute(
        select(Job.engine_task_id, Job.bpmn_id).join(Incident, Incident.job_id == Job.id)
        .where(Incident.instance_id == instance.id, Incident.status == "open")).all()
    run = diagram.instance_run(instance, subprocess_id,
                               incident_tasks=[t for t, _ in failed if t],
                               incident_elements=[b for t, b in failed if not t])
    if run is None:
        raise NotFound(f"Instance {instance_id} has no called process run {subprocess_id}")
    if subprocess_id is None:
        xml, diagram_id = diagram.version_xml(version), None
    else:
        xml, diagram_id = diagram.process_file_xml(version, run.process_key)
    return {"process_key": run.process_key if subprocess_id else version.process_key,
            "version": version.version, "xml": xml, "diagram_id": diagram_id,
            "elements": run.elements, "call_activities": run.children,
            "subprocess_id": subprocess_id, "parent": run.parent}


@blp.route("/instances/<int:instance_id>/diagram", methods=["GET"])
@blp.response(200, DiagramSchema)
@require_api()
def instance_diagram(instance_id):
    """The instance's process diagram: its version's XML and the state of each element run.

    ``call_activities`` names, per call activity, the runs of the process it called; each
    opens with ``GET /instances/{id}/subprocesses/{run id}/diagram``.
    """
    return _diagram(instance_id, None)


@blp.route("/instances/<int:instance_id>/subprocesses/<subprocess_id>/diagram", methods=["GET"])
@blp.response(200, DiagramSchema)
@require_api()
def subprocess_diagram(instance_id, subprocess_id):
    """The diagram of one process a call activity called in the instance, with its states."""
    return _diagram(instance_id, subprocess_id)


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
