"""The BPMN modeler pages: deployed processes, editing, validating and deploying in the browser."""

import re
import uuid

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.core.auth import require_page_roles
from app.core.errors import AppError, DeployError, NotFound, ValidationFailed
from app.engine import services
from app.engine.diagram import version_files, version_xml
from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.parsing import ModelProblems
from app.extensions import db
from app.modeler.services import diff_models, key_problem, label_types, process_ids

bp = Blueprint("modeler", __name__, url_prefix="/modeler")
MODELER_ROLES = ("analyst", "admin")
_FILENAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}\.bpmn$")
MAX_XML_BYTES = 2 * 1024 * 1024

NEW_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Definitions_{suffix}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="{key}">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _check_key(key: str) -> None:
    problem = key_problem(key)
    if problem:
        raise AppError(problem, code="invalid_process_key", status=400)


def _versions(key: str) -> list[ProcessVersion]:
    _check_key(key)
    versions = db.session.scalars(select(ProcessVersion).where(ProcessVersion.process_key == key)
                                  .order_by(ProcessVersion.version.desc())).all()
    if not versions:
        raise NotFound(_("Process %(key)s is not deployed", key=key))
    return versions


@bp.get("")
@require_page_roles(*MODELER_ROLES)
def index():
    running = dict(db.session.execute(
        select(ProcessInstance.process_key, func.count())
        .where(ProcessInstance.status == "running")
        .group_by(ProcessInstance.process_key)).all())
    return render_template("modeler/index.html", versions=services.latest_versions(),
                           running=running)


@bp.get("/new")
@require_page_roles(*MODELER_ROLES)
def new():
    suffix = uuid.uuid4().hex[:7]
    key = f"Process_{suffix}"
    return render_template("modeler/edit.html", key=None, version=None, versions=[],
                           xml=NEW_DIAGRAM.format(key=key, suffix=suffix),
                           filename=f"{key}.bpmn", read_only=False)


@bp.get("/processes/<key>")
@require_page_roles(*MODELER_ROLES)
def edit(key: str):
    versions = _versions(key)
    version = versions[0]
    wanted = request.args.get("version", type=int)
    if wanted is not None:
        version = next((v for v in versions if v.version == wanted), None)
        if version is None:
            raise NotFound(_("Version %(n)s of %(key)s not found", n=wanted, key=key))
    return render_template("modeler/edit.html", key=key, version=version, versions=versions,
                           xml=version_xml(version), filename=version.filename,
                           read_only=version.version != versions[0].version)


@bp.get("/processes/<key>/versions")
@require_page_roles(*MODELER_ROLES)
def versions(key: str):
    """The editor's version table alone (``shown``: the version the editor shows)."""
    versions = _versions(key)
    shown = request.args.get("shown", type=int)
    version = next((v for v in versions if v.version == shown), None)
    return render_template("modeler/_versions.html", key=key, version=version,
                           versions=versions)


@bp.get("/<key>")
@require_page_roles(*MODELER_ROLES)
def edit_redirect(key: str):
    """Earlier editor links (``/modeler/<key>``) open the editor's address."""
    return redirect(url_for("modeler.edit", key=key, **request.args), 301)


@bp.get("/processes/<key>/download")
@require_page_roles(*MODELER_ROLES)
def download(key: str):
    versions = _versions(key)
    wanted = request.args.get("version", type=int)
    version = versions[0] if wanted is None else next(
        (v for v in versions if v.version == wanted), None)
    if version is None:
        raise NotFound(_("Version %(n)s of %(key)s not found", n=wanted, key=key))
    return Response(version_xml(version), mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{version.filename}"'})


def _edited() -> tuple[str, str, str | None]:
    """The edited diagram from the JSON body: ``(xml, filename, key)``; 422 per field."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"xml": [_("Send a JSON body with the diagram's XML.")]})
    xml, filename, key = body.get("xml"), body.get("filename"), body.get("key")
    errors = {}
    if not isinstance(xml, str) or not xml.strip():
        errors["xml"] = [_("The diagram is empty.")]
    elif len(xml.encode()) > MAX_XML_BYTES:
        errors["xml"] = [_("The diagram is larger than 2 MB.")]
    if not isinstance(filename, str) or not _FILENAME.match(filename):
        errors["filename"] = [_("Use letters, digits, '.', '_' or '-' and end with .bpmn.")]
    if key is not None and not isinstance(key, str):
        errors["key"] = [_("Not a process key.")]
    elif key and key_problem(key):
        errors["key"] = [key_problem(key)]
    if errors:
        raise ValidationFailed(errors)
    return xml, filename, key or None


def _upload() -> dict[str, bytes]:
    """The edited file (JSON ``xml`` + ``filename``) with the other files of its bundle.

    ``key`` names the process being edited: the other files of its latest version (DMN tables,
    called processes) are deployed with it, so they need not be re-uploaded.
    """
    xml, filename, key = _edited()
    files = {}
    if key:
        latest = services.latest_version(key)
        files = {name: text.encode() for name, text in version_files(latest).items()
                 if name != latest.filename and name != filename}
    files[filename] = xml.encode()
    return files


@bp.post("/check")
@require_page_roles(*MODELER_ROLES)
def check():
    try:
        bundle = services.check_files(_upload())
    except ModelProblems as exc:
        return {"ok": False, "problems": exc.problems}
    return {"ok": True, "processes": bundle.process_ids()}


@bp.post("/deploy")
@require_page_roles(*MODELER_ROLES)
def deploy():
    files = _upload()
    try:
        results = services.deploy_files(files, current_user.username)
    except DeployError as exc:
        return {"ok": False, "problems": exc.problems}, 422
    return {"ok": True, "deployed": [r.__dict__ for r in results]}


@bp.post("/diff")
@require_page_roles(*MODELER_ROLES)
def diff():
    """What deploying the edited diagram changes against the process's latest version."""
    xml, filename, key = _edited()
    try:
        key = key or next(iter(process_ids(xml.encode(), filename)), None)
        latest = services.latest_version(key, required=False) \
            if key and not key_problem(key) else None
        changes = label_types(diff_models(version_xml(latest).encode() if latest else None,
                                          xml.encode(), filename))
    except ModelProblems as exc:
        return {"ok": False, "problems": exc.problems}
    running = db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.process_key == key, ProcessInstance.status == "running")) if key else 0
    return {"ok": True, "process_key": key, "base_version": latest.version if latest else None,
            "running": running, **changes}
