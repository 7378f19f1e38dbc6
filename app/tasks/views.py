"""Pages for tasks: inbox, task page, starting a process, instance pages."""

import re

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, get_locale, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.core import web
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.engine.models import ProcessInstance
from app.engine.services import (
    can_start,
    first_user_task,
    get_instance,
    latest_version,
    latest_versions,
)
from app.extensions import db
from app.tasks.models import HumanTask
from app.tasks.services import (
    can_view_instance,
    claim_task,
    complete_task,
    get_task_for,
    instance_tasks,
    instance_view_data,
    is_candidate,
    release_task,
    start_instance,
    started_by,
    submitted_data,
)
from app.tasks.services import (
    inbox as inbox_query,
)

bp = Blueprint("tasks", __name__)

SCOPES = ("mine", "group", "completed", "cc")
DEFAULT_FILE_TYPES = ("application/pdf", "image/png", "image/jpeg")

LABELS = {
    "task_status": {"open": _l("Open"), "completed": _l("Completed"),
                    "returned": _l("Returned"), "cancelled": _l("Cancelled"),
                    "transferred": _l("Transferred"), "waiting": _l("Waiting for signers"),
                    "pending": _l("Queued")},
    "task_outcome": {"approve": _l("Approved"), "reject": _l("Rejected"),
                     "return": _l("Returned for changes"), "completed": _l("Completed"),
                     "cancelled": _l("Cancelled"), "transferred": _l("Transferred"),
                     "skipped": _l("Skipped on resubmit"), "taken_back": _l("Taken back")},
    "instance_status": {"running": _l("Running"), "completed": _l("Completed"),
                        "error": _l("Error"), "cancelled": _l("Cancelled")},
    "outcome": {"approved": lazy_pgettext("outcome", "Approved"),
                "rejected": lazy_pgettext("outcome", "Rejected"),
                "completed": _l("Completed"), "cancelled": _l("Cancelled"),
                "withdrawn": _l("Withdrawn")},
    "sign_position": {"before": _l("Before me"), "after": _l("After me"),
                      "parallel": _l("Together with me")},
    "sign_mode": {"all": _l("All must approve"), "any": _l("Any one decides"),
                  "sequential": _l("One after another")},
}
CONFLICTS = {
    "task_closed": _l("This task is already closed."),
    "already_claimed": _l("Someone else claimed this task first."),
    "not_assignee": _l("This task is assigned to someone else."),
    "personal_task": _l("This task is yours alone and cannot be released."),
    "stale_instance": _l("The application was changed by someone else; reload and try again."),
    "delegation_pending": _l("This task is delegated; the delegate must resolve it first."),
    "withdraw_window_closed": _l("An approver has already acted; it can no longer be "
                                 "withdrawn."),
    "take_back_window_closed": _l("The next approver has already opened or acted on it."),
    "signers_pending": _l("This task already waits for added signers."),
}
# "区域经理审批 Regional manager review": a Chinese part, then an English part.
_BILINGUAL = re.compile(r"^(?P<zh>[^A-Za-z]*[\u3400-\u9fff][^A-Za-z]*?)\s+(?P<en>[A-Za-z].*)$")


# --- Template helpers ------------------------------------------------------------------

def _zh() -> bool:
    return str(get_locale() or "zh_CN").startswith("zh")


@bp.app_template_filter("bi")
def bilingual(text: str | None) -> str:
    """The part of a bilingual BPMN name in the UI language."""
    match = _BILINGUAL.match(text or "")
    if match is None:
        return text or ""
    return match["zh"].strip() if _zh() else match["en"].strip()


@bp.app_template_filter("dt")
def datetime_filter(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    return format_datetime(value, fmt) if value else ""


@bp.app_template_filter("label")
def label_filter(value, kind: str) -> str:
    return str(LABELS.get(kind, {}).get(value, value or ""))


@bp.app_template_filter("attachment_ids")
def attachment_ids_filter(value) -> list[int]:
    """The attachment ids stored (as JSON) on a task row."""
    import orjson

    return orjson.loads(value) if value else []


@bp.app_template_global("user_name")
def user_name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return (user.display_name or user.username) if user else ""


@bp.app_template_global("is_overdue")
def is_overdue(task) -> bool:
    """An open task past its due time (超时)."""
    due = getattr(task, "due_at", None)
    return bool(due and getattr(task, "status", None) == "open" and due <= utcnow())


def _conflict_message(exc: Conflict) -> str:
    return str(CONFLICTS.get(exc.code, exc.message))


def _process_names() -> dict[str, str]:
    return {v.process_key: v.name for v in latest_versions()}


# --- Forms -----------------------------------------------------------------------------

def _registry():
    from app.forms.setup import form_registry

    return form_registry()


def _form(key: str | None):
    return _registry().get(key) if key and _registry().has(key) else None


def _save_file(upload, field) -> int:
    from app.files.services import save_upload

    cfg = current_app.config
    att = save_upload(upload, uploaded_by=current_user.id,
                      allowed_types=field.accept or DEFAULT_FILE_TYPES,
                      max_bytes=field.max_bytes or cfg["MAX_UPLOAD_BYTES"],
                      upload_dir=cfg["UPLOAD_DIR"])
    return att.id


def _parse_post(form, bpmn_id: str | None) -> dict:
    from app.forms import parse_form_post

    if form is None:
        return {}
    return parse_form_post(form, request.form, request.files, save_file=_save_file,
                           task_id=bpmn_id)


def _keep_existing_files(form, values: dict) -> dict:
    """After a rollback, drop references to uploads that were rolled back with it."""
    from app.files.models import Attachment

    values = dict(values or {})
    for field in form.fields if form is not None else ():
        ref = values.get(field.name)
        if field.type == "file" and ref not in (None, ""):
            exists = str(ref).isdigit() and db.session.get(Attachment, int(ref)) is not None
            if not exists:
                values.pop(field.name)
    return values


# --- Task and instance context ---------------------------------------------------------

def _application(tasks: list[HumanTask]):
    """The instance's application: form of its first human task and latest submission."""
    first = tasks[0] if tasks else None
    form = _form(first.form_key) if first else None
    done = [t for t in tasks if first and t.bpmn_id == first.bpmn_id and t.submitted]
    if form is None or not done:
        return None, {}
    return form, submitted_data(done[-1])


def _prefill(task: HumanTask, tasks: list[HumanTask]) -> dict:
    """The initiator's task redone after a return starts from the last submission."""
    earlier = [t for t in tasks if t.bpmn_id == task.bpmn_id and t.id < task.id and t.submitted]
    if not earlier or tasks[0].bpmn_id != task.bpmn_id:
        return {}
    return submitted_data(earlier[-1])


def _permissions(task: HumanTask) -> dict:
    user = current_user
    is_open, mine = task.status == "open", task.assignee_id == user.id
    claimable = is_open and task.assignee_id is None and is_candidate(task, user)
    personal = not task.candidate_roles and not task.candidate_users
    delegated = task.delegation == "pending"
    can_act = is_open and (mine or claimable) and not delegated
    return {"can_act": can_act, "can_claim": claimable,
            "can_release": is_open and mine and not personal and not delegated,
            "can_operate": can_act and task.kind == "engine",
            "can_resolve": is_open and mine and delegated,
            "can_take_back": task.kind == "engine" and task.completed_by_id == user.id
            and task.status in ("completed", "returned")}


def _instance_context(instance: ProcessInstance, tasks: list[HumanTask]) -> dict:
    app_form, app_values = _application(tasks)
    return {"instance": instance, "timeline": tasks, "app_form": app_form,
            "app_values": app_values, "process_name": _process_names().get(
                instance.process_key, instance.process_key)}


def _return_targets(task: HumanTask, tasks: list[HumanTask]) -> list[tuple[str, str]]:
    """Steps already passed before ``task`` (for the return menu), oldest first."""
    seen, out = set(), []
    for t in tasks:
        if t.id < task.id and t.kind == "engine" and t.bpmn_id != task.bpmn_id and \
                t.bpmn_id not in seen and t.status in ("completed", "returned"):
            seen.add(t.bpmn_id)
            out.append((t.bpmn_id, t.name))
    return out


def _render_task(task: HumanTask, values=None, errors=None, status: int = 200):
    instance = db.session.get(ProcessInstance, task.instance_id)
    tasks = instance_tasks(instance.id)
    ctx = _instance_context(instance, tasks)
    if tasks and tasks[0].bpmn_id == task.bpmn_id:
        ctx["app_form"] = None  # the application is this task's own form
    form = _form(task.form_key)
    if values is None:
        values = _prefill(task, tasks)
    from app.tasks.urge import can_urge, next_allowed_at

    urgeable = [(task, next_allowed_at(task))] if can_urge(task, current_user) else []
    return render_template(
        "tasks/task.html", task=task, form=form, values=values, errors=errors or {},
        urgeable=urgeable, urge_now=utcnow(), urge_back="task",
        return_targets=_return_targets(task, tasks), LABELS=LABELS,
        readonly_fields=form.readonly_for(task.bpmn_id) if form else (),
        done_values=submitted_data(task), **_permissions(task), **ctx), status


# --- Inbox and task pages --------------------------------------------------------------

@bp.get("/inbox")
@login_required
def inbox():
    from app.core.models import Region
    from app.tasks import inbox as boxes

    scope = request.args.get("scope", "mine")
    if scope not in SCOPES:
        scope = "mine"
    params, errors, status = {}, {}, 200
    try:
        params = boxes.parse(request.args)
    except ValidationFailed as exc:
        errors, status = exc.errors, 422
        flash(_("Some filters are not valid and were ignored."), "error")
    try:
        counts = boxes.counts(current_user, params)
    except ValidationFailed as exc:  # e.g. an unknown dealer
        errors, status, params = exc.errors, 422, {}
        flash(_("Some filters are not valid and were ignored."), "error")
        counts = boxes.counts(current_user)
    page = None
    if boxes.is_filtered(params) or (scope == "cc" and (params.get("page") or 1) > 1):
        page = boxes.page_of(current_user, scope, params)
        tasks = page.rows
    else:
        tasks = inbox_query(current_user, scope)
        page = boxes.Page(tasks, counts["cc" if scope == "cc" else scope], 1, boxes.PAGE_SIZE)
    regions = {r.code: r.label(str(get_locale() or "zh_CN"))
               for r in db.session.query(Region).order_by(Region.code)}
    return render_template("tasks/inbox.html", scope=scope, tasks=tasks, page=page,
                           batch_labels=_batch_labels(),
                           counts=counts, params=params, errors=errors,
                           query=boxes.query_string(params), regions=regions,
                           saved=boxes.saved_filters(current_user),
                           process_names=_process_names(), cc_unread=counts["cc_unread"]), status


def _batch_labels() -> dict:
    """What the batch progress script shows, in the UI language."""
    codes = {code: str(text) for code, text in CONFLICTS.items()}
    codes["batch_not_allowed"] = _("This step cannot be approved in batch.")
    codes["validation_failed"] = _("The form of this step needs more than an approval.")
    return {"progress": _("%(done)s of %(total)s done: %(ok)s approved, %(failed)s not "
                          "approved."),
            "finished": _("%(ok)s approved, %(failed)s not approved."),
            "approved": _("Approved"), "codes": codes}


@bp.post("/inbox/filters")
@login_required
def save_inbox_filter():
    from app.tasks.inbox import save_filter

    name, query = request.form.get("name", ""), request.form.get("query", "")
    try:
        save_filter(current_user, name, query)
    except ValidationFailed as exc:
        db.session.rollback()
        for messages in exc.errors.values():
            flash("; ".join(map(str, messages)), "error")
    else:
        flash(_("Filter “%(name)s” saved.", name=" ".join(name.split())), "success")
    return redirect(url_for(".inbox") + ("?" + query if query else ""))


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_inbox_filter(filter_id: int):
    from app.tasks.inbox import delete_filter

    delete_filter(current_user, filter_id)
    flash(_("Filter deleted."), "success")
    return redirect(url_for(".inbox"))


@bp.get("/tasks/<int:task_id>")
@login_required
@web.writes
def task_page(task_id: int):
    from app.tasks.operations import mark_opened

    task = get_task_for(task_id, current_user)
    mark_opened(task, current_user)
    return _render_task(task)


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int):
    task = get_task_for(task_id, current_user)
    form, data = _form(task.form_key), {}
    try:
        data = _parse_post(form, task.bpmn_id) if form else _plain_decision()
        complete_task(task, current_user, data)
    except ValidationFailed as exc:
        values = getattr(exc, "values", None) or data
        db.session.rollback()
        task = get_task_for(task_id, current_user)
        flash(_("Please correct the highlighted fields."), "error")
        return _render_task(task, _keep_existing_files(form, values), exc.errors, 422)
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
        return redirect(url_for(".inbox"))
    flash(_("Task “%(name)s” completed.", name=bilingual(task.name)), "success")
    return redirect(url_for(".inbox"))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    task = get_task_for(task_id, current_user)
    try:
        claim_task(task, current_user)
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
        return redirect(url_for(".inbox", scope="group"))
    flash(_("Task claimed; it is now in your inbox."), "success")
    return redirect(url_for(".task_page", task_id=task_id))


@bp.post("/tasks/<int:task_id>/release")
@login_required
def release(task_id: int):
    task = get_task_for(task_id, current_user)
    try:
        release_task(task, current_user)
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
    else:
        flash(_("Task released back to the group."), "success")
    return redirect(url_for(".task_page", task_id=task_id))


# --- Starting processes ----------------------------------------------------------------

@bp.get("/start")
@login_required
def start_list():
    versions = [v for v in latest_versions() if can_start(v, current_user)]
    return render_template("tasks/start_list.html", versions=versions)


@bp.route("/start/<key>", methods=["GET", "POST"])
@login_required
def start_form(key: str):
    version = latest_version(key)
    if not can_start(version, current_user):
        raise Forbidden(_("You may not start this process."))
    bpmn_id, form_key = first_user_task(version)
    form, values, errors, status = _form(form_key), {}, {}, 200
    if request.method == "POST":
        data = {}
        try:
            data = _parse_post(form, bpmn_id)
            instance = start_instance(key, current_user, data)
        except ValidationFailed as exc:
            values = getattr(exc, "values", None) or data
            db.session.rollback()
            values, errors, status = _keep_existing_files(form, values), exc.errors, 422
            flash(_("Please correct the highlighted fields."), "error")
        else:
            flash(_("Your application has been submitted."), "success")
            return redirect(url_for(".instance_page", instance_id=instance.id))
    return render_template("tasks/start.html", version=version, form=form, values=values,
                           errors=errors, readonly_fields=form.readonly_for(bpmn_id)
                           if form else ()), status


# --- Instances -------------------------------------------------------------------------

@bp.get("/instances/mine")
@login_required
def my_instances():
    return render_template("tasks/my_instances.html", instances=started_by(current_user),
                           process_names=_process_names())


@bp.get("/instances/<int:instance_id>")
@login_required
@web.writes
def instance_page(instance_id: int):
    instance = get_instance(instance_id)
    if not can_view_instance(instance, current_user):
        raise NotFound(_("Application %(id)s not found", id=instance_id))
    from app.tasks.cc import mark_read

    mark_read(current_user, instance_id=instance.id)
    tasks = instance_tasks(instance.id)
    mine = [t for t in tasks if t.status == "open" and t.assignee_id == current_user.id]
    data = instance_view_data(instance)
    can_withdraw = instance.status == "running" and instance.started_by_id == current_user.id
    from app.tasks.urge import can_urge, next_allowed_at

    urgeable = [(t, next_allowed_at(t)) for t in tasks if can_urge(t, current_user)]
    return render_template("tasks/instance.html", my_task=mine[0] if mine else None,
                           can_withdraw=can_withdraw, urgeable=urgeable, urge_now=utcnow(),
                           dealer_code=data.get("dealer_code"),
                           **_instance_context(instance, tasks))


# --- Approval operations ---------------------------------------------------------------

def _plain_decision() -> dict:
    """Decision and comment of a task without a form (added signers, form-less models)."""
    data = {"decision": request.form.get("decision") or "approve",
            "comment": request.form.get("comment") or None}
    files = _uploads()
    if files:
        data["attachments"] = files
    return data


def _uploads() -> list[int]:
    from app.files.services import save_upload

    cfg, out = current_app.config, []
    for upload in request.files.getlist("attachments"):
        if upload and upload.filename:
            out.append(save_upload(upload, uploaded_by=current_user.id,
                                   allowed_types=DEFAULT_FILE_TYPES,
                                   max_bytes=cfg["MAX_UPLOAD_BYTES"],
                                   upload_dir=cfg["UPLOAD_DIR"]).id)
    return out


def _operate(task_id: int, action, done_message, back_to_task: bool = False):
    """Run one operation from the task page: flash the result, 422 page on bad input."""
    task = get_task_for(task_id, current_user)
    comment = (request.form.get("comment") or "").strip() or None
    try:
        action(task, comment, _uploads())
    except ValidationFailed as exc:
        db.session.rollback()
        for field, messages in exc.errors.items():
            flash(f"{field}: {'; '.join(map(str, messages))}", "error")
        return _render_task(get_task_for(task_id, current_user), status=422)
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
        return redirect(url_for(".task_page", task_id=task_id))
    flash(done_message, "success")
    if back_to_task:
        return redirect(url_for(".task_page", task_id=task_id))
    return redirect(url_for(".inbox"))


@bp.post("/tasks/<int:task_id>/transfer")
@login_required
def transfer(task_id: int):
    from app.tasks import operations

    target = request.form.get("user", "")
    return _operate(task_id, lambda t, c, f: operations.transfer(t, current_user, target, c, f),
                    _("Task transferred to %(user)s.", user=target))


@bp.post("/tasks/<int:task_id>/delegate")
@login_required
def delegate(task_id: int):
    from app.tasks import operations

    target = request.form.get("user", "")
    return _operate(task_id, lambda t, c, f: operations.delegate(t, current_user, target, c, f),
                    _("Task delegated to %(user)s; it comes back to you when resolved.",
                      user=target))


@bp.post("/tasks/<int:task_id>/resolve")
@login_required
def resolve(task_id: int):
    from app.tasks import operations

    return _operate(task_id, lambda t, c, f: operations.resolve(t, current_user, c, f),
                    _("Task resolved back to its owner."))


@bp.post("/tasks/<int:task_id>/add-signers")
@login_required
def add_signers(task_id: int):
    from app.tasks import operations

    users = [u for u in re.split(r"[\s,，;；]+", request.form.get("users", "")) if u]
    position, mode = request.form.get("position", ""), request.form.get("mode", "all")
    return _operate(task_id, lambda t, c, f: operations.add_signers(
        t, current_user, users, position, mode, c, f),
        _("Signers added: %(users)s.", users=", ".join(users)), back_to_task=True)


@bp.post("/tasks/<int:task_id>/return")
@login_required
def return_task(task_id: int):
    from app.tasks import operations

    to = request.form.get("to") or "previous"
    return _operate(task_id, lambda t, c, f: operations.return_task(t, current_user, to, c, f),
                    _("The application was returned."))


@bp.post("/tasks/<int:task_id>/reject")
@login_required
def reject(task_id: int):
    from app.tasks import operations

    return _operate(task_id, lambda t, c, f: operations.reject(t, current_user, c, f),
                    _("The application was rejected."))


@bp.post("/tasks/<int:task_id>/take-back")
@login_required
def take_back(task_id: int):
    from app.tasks import operations

    task = get_task_for(task_id, current_user)
    try:
        new = operations.take_back(task, current_user, request.form.get("comment") or None)
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
        return redirect(url_for(".task_page", task_id=task_id))
    flash(_("You took the step back; decide again."), "success")
    return redirect(url_for(".task_page", task_id=new.id))


@bp.post("/instances/<int:instance_id>/withdraw")
@login_required
def withdraw(instance_id: int):
    from app.tasks import operations

    instance = operations.get_instance_for(instance_id, current_user)
    try:
        operations.withdraw(instance, current_user, request.form.get("comment") or None)
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
    else:
        flash(_("Your application was withdrawn."), "success")
    return redirect(url_for(".instance_page", instance_id=instance_id))


@bp.post("/tasks/<int:task_id>/urge")
@login_required
def urge(task_id: int):
    from app.tasks import urge as urging

    task = urging.task_to_urge(task_id, current_user)
    try:
        reminded = urging.urge(task, current_user, request.form.get("comment") or None)
    except urging.UrgeTooSoon as exc:
        db.session.rollback()
        flash(_("Reminder already sent. You can remind them again from %(at)s.",
                at=datetime_filter(exc.allowed_at)), "warning")
    except Conflict as exc:
        db.session.rollback()
        flash(_conflict_message(exc), "error")
    else:
        flash(_("Reminder sent to %(names)s.",
                names=", ".join(u.display_name or u.username for u in reminded)), "success")
    back = request.form.get("back")
    if back == "task":
        return redirect(url_for(".task_page", task_id=task.id))
    return redirect(url_for(".instance_page", instance_id=task.instance_id))


@bp.post("/tasks/batch-complete")
@login_required
def batch_complete():
    from app.tasks import operations

    ids = [int(i) for i in request.form.getlist("task_ids") if i.isdigit()]
    if not ids:
        flash(_("Select the tasks to approve first."), "error")
        return redirect(url_for(".inbox"))
    data = {"decision": "approve", "comment": request.form.get("comment") or None}
    results = operations.batch_complete(current_user, ids, data)
    ok = sum(1 for r in results if r["ok"])
    tasks = {t.id: t for t in db.session.query(HumanTask).filter(HumanTask.id.in_(ids))}
    return render_template("tasks/batch_result.html", results=results, tasks=tasks,
                           succeeded=ok, failed=len(results) - ok)


@bp.post("/tasks/<int:task_id>/cc")
@login_required
def cc(task_id: int):
    from app.tasks.cc import cc_adhoc

    users = [u for u in re.split(r"[\s,，;；]+", request.form.get("users", "")) if u]
    return _operate(task_id, lambda t, c, f: cc_adhoc(t, current_user, users, c),
                    _("CC sent to %(users)s.", users=", ".join(users)), back_to_task=True)


# --- 代理 proxies ----------------------------------------------------------------------

@bp.route("/proxies", methods=["GET", "POST"])
@login_required
def proxies():
    from datetime import datetime

    from app.tasks.proxies import list_proxies, set_proxy

    status = 200
    if request.method == "POST":
        form = request.form
        try:
            starts = datetime.fromisoformat(form["starts_at"]) if form.get("starts_at") else None
            ends = datetime.fromisoformat(form.get("ends_at", ""))
        except ValueError:
            flash(_("Give the period as dates and times."), "error")
            status = 422
        else:
            keys = [k for k in re.split(r"[\s,，]+", form.get("processes", "")) if k]
            try:
                set_proxy(current_user, form.get("proxy", ""), starts, ends, keys,
                          form.get("user") or None, bool(form.get("move_pending")))
            except ValidationFailed as exc:
                db.session.rollback()
                for field, messages in exc.errors.items():
                    flash(f"{field}: {'; '.join(map(str, messages))}", "error")
                status = 422
            except Conflict as exc:
                db.session.rollback()
                flash(exc.message, "error")
                status = 409
            else:
                flash(_("Proxy set."), "success")
                return redirect(url_for(".proxies"))
    return render_template("tasks/proxies.html", proxies=list_proxies(current_user),
                           processes=_process_names()), status


@bp.post("/proxies/<int:proxy_id>/revoke")
@login_required
def revoke_proxy(proxy_id: int):
    from app.tasks.proxies import revoke

    try:
        revoke(current_user, proxy_id, bool(request.form.get("recall")))
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Proxy revoked."), "success")
    return redirect(url_for(".proxies"))
