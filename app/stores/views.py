"""Pages: the store ledger, a store, the morning view, inspections (mobile) and the dashboard."""

from datetime import date, timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import or_, select

from app.admin.services import region_choices
from app.core.errors import AppError, Forbidden
from app.core.i18n import translate_errors
from app.extensions import db
from app.files.services import open_attachment
from app.stores import charts, documents, export, inspections, schemas, services
from app.stores.models import (
    DOCUMENT_KINDS,
    INSPECTION_ITEMS,
    MILESTONES,
    STORE_STATUSES,
    STORE_TYPES,
    InspectionPlan,
    Store,
)

bp = Blueprint("stores", __name__)
PAGE = 50

LABELS = {
    "status": {"planned": _l("Planned"), "opening": _l("Opening"), "active": _l("Active"),
               "suspended": _l("Suspended"), "closed": _l("Closed")},
    "type": {"flagship": _l("Flagship store"), "standard": _l("Standard store"),
             "kiosk": _l("Kiosk / shop-in-shop")},
    "category": {"rent": _l("Rent"), "decoration": _l("Decoration"),
                 "equipment": _l("Equipment"), "first_stock": _l("First stock")},
    "milestone": {"lease_signed": _l("Lease signed"), "decoration": _l("Decoration"),
                  "equipment": _l("Equipment"), "staff_training": _l("Staff training"),
                  "acceptance": _l("Acceptance inspection")},
    "item": {"hygiene": _l("Hygiene"), "display": _l("Display"), "service": _l("Service"),
             "decoration": _l("Decoration")},
    "mstatus": {"planned": _l("Planned"), "reported": _l("Reported"),
                "confirmed": _l("Confirmed"), "cancelled": _l("Cancelled"),
                "open": _l("Open"), "submitted": _l("Submitted")},
    "document": {"lease_contract": _l("Lease contract"),
                 "business_licence": _l("Business licence"),
                 "acceptance_report": _l("Acceptance report"), "floor_plan": _l("Floor plan"),
                 "invoice": _l("Invoice"), "other": _l("Other document")},
    "time_source": {"exif": _l("camera time (EXIF)"), "device": _l("file time"),
                    "upload": _l("upload time")},
    "plan_action": {"created": _l("Created"), "changed": _l("Changed"),
                    "deactivated": _l("Deactivated"), "activated": _l("Activated")},
}


@bp.app_template_filter("store_label")
def store_label(value, kind: str) -> str:
    return str(LABELS.get(kind, {}).get(value, value or ""))


def _regions() -> dict[str, str]:
    return dict(region_choices(str(get_locale() or "zh_CN")))


def _filters() -> dict:
    raw = {k: (request.args.get(k) or "").strip() for k in
           ("region", "dealer", "status", "store_type", "q")}
    raw["dealer"] = raw["dealer"] if raw["dealer"].isdigit() else ""
    if raw["status"] not in STORE_STATUSES:
        raw["status"] = ""
    if raw["store_type"] not in STORE_TYPES:
        raw["store_type"] = ""
    return raw


@bp.get("/stores")
@login_required
def index():
    filters = _filters()
    active = {k: v for k, v in filters.items() if v}
    offset = max(0, request.args.get("offset", 0, type=int))
    rows = services.list_stores(current_user, limit=PAGE, offset=offset, **active)
    total = services.count_stores(current_user, **active)
    return render_template("stores/index.html", stores=rows, filters=filters, total=total,
                           offset=offset, page=PAGE, regions=_regions(),
                           statuses=STORE_STATUSES, types=STORE_TYPES,
                           status_labels={k: str(v) for k, v in LABELS["status"].items()},
                           type_labels={k: str(v) for k, v in LABELS["type"].items()})


def _save_photo(upload, field) -> int:
    """A photo attached to the application form: kept as a store photo with its time."""
    from app.stores.photos import upload_photo

    return upload_photo(upload, current_user, None).attachment_id


@bp.route("/stores/apply", methods=["GET", "POST"])
@login_required
def apply():
    """The opening application: the dealer and region come from the caller."""
    from app.forms import parse_form_post
    from app.forms.setup import form_registry

    form = form_registry().get("store_opening")
    dealer = services.applicant_dealer(current_user, request.values.get("dealer"))
    fixed = {"dealer": str(dealer.id), "region": dealer.region}
    values, errors, status = dict(fixed), {}, 200
    if request.method == "POST":
        data = {}
        try:
            data = parse_form_post(form, request.form, request.files, save_file=_save_photo)
            instance = services.apply_for_store(current_user, data | fixed)
        except AppError as exc:
            db.session.rollback()
            values = (getattr(exc, "values", None) or data) | fixed
            errors, status = exc.details.get("errors") or {"_": [exc.message]}, 422
            flash(_("Please correct the highlighted fields."), "error")
        else:
            flash(_("Your application has been submitted."), "success")
            return redirect(url_for("tasks.instance_page", instance_id=instance.id))
    return render_template("stores/apply.html", form=form, values=values, errors=errors,
                           dealer=dealer), status


@bp.get("/stores/export.xlsx")
@login_required
def export_xlsx():
    active = {k: v for k, v in _filters().items() if v}
    return send_file(export.ledger_workbook(current_user, **active), as_attachment=True,
                     download_name="stores.xlsx", mimetype=export.XLSX)


@bp.get("/stores/morning")
@login_required
def morning():
    return render_template("stores/morning.html", rows=services.morning_view(current_user),
                           regions=_regions())


@bp.get("/stores/<int:store_id>")
@login_required
def detail(store_id: int):
    store = services.get_store_for(store_id, current_user)
    return render_template("stores/detail.html", store=store,
                           d=services.store_detail(store), regions=_regions(),
                           document_kinds=DOCUMENT_KINDS, milestone_codes=MILESTONES,
                           may_upload=documents.may_upload(store, current_user))


@bp.post("/stores/<int:store_id>/documents")
@login_required
def add_document(store_id: int):
    store = services.get_store_for(store_id, current_user)
    try:
        documents.add_document(store, current_user, request.files.get("file"),
                               request.form.get("kind"), request.form.get("milestone"),
                               request.form.get("note"))
    except AppError as exc:
        db.session.rollback()
        problems = exc.details.get("errors") or {"_": [exc.message]}
        flash(_("Document not saved: %(errors)s",
                errors=" ".join(" ".join(v) for v in problems.values())), "error")
        return redirect(url_for("stores.detail", store_id=store_id, _anchor="documents")), 303
    flash(_("Document saved."), "success")
    return redirect(url_for("stores.detail", store_id=store_id, _anchor="documents")), 303


@bp.get("/stores/<int:store_id>/documents/<int:document_id>")
@login_required
def document(store_id: int, document_id: int):
    store = services.get_store_for(store_id, current_user)
    return documents.send_document(documents.get_document(store, document_id))


@bp.get("/stores/<int:store_id>/photos/<int:photo_id>")
@login_required
def photo(store_id: int, photo_id: int):
    """A store or inspection photo, for everyone who may see the store (the dealer too)."""
    from app.files.models import Attachment
    from app.stores.photos import photo_of_store

    store = services.get_store_for(store_id, current_user)
    found = photo_of_store(store.id, photo_id)
    att = db.session.get(Attachment, found.attachment_id)
    path = open_attachment(att, current_app.config["UPLOAD_DIR"])
    response = send_file(path, mimetype=att.content_type, download_name=att.filename,
                         max_age=0, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.post("/stores/<int:store_id>/documents/<int:document_id>/delete")
@login_required
def delete_document(store_id: int, document_id: int):
    store = services.get_store_for(store_id, current_user)
    documents.delete_document(store, documents.get_document(store, document_id), current_user)
    flash(_("Document deleted."), "success")
    return redirect(url_for("stores.detail", store_id=store_id, _anchor="documents")), 303


@bp.post("/stores/<int:store_id>/milestones/<code>")
@login_required
def milestone(store_id: int, code: str):
    store = services.get_store_for(store_id, current_user)
    try:
        if request.form.get("action") == "confirm":
            services.confirm_milestone(store, code, current_user)
        else:
            data = schemas.MilestoneReport().load({k: v for k, v in request.form.items()
                                                   if k in ("actual_date", "actual_cost", "note")})
            services.report_milestone(store, code, current_user, data)
    except ValidationError as exc:
        flash(_("Not saved: %(errors)s", errors=translate_errors(exc.messages)), "error")
        return redirect(url_for("stores.detail", store_id=store_id))
    except AppError as exc:
        flash(_("Not saved: %(errors)s", errors=exc.details.get("errors") or exc.message),
              "error")
        return redirect(url_for("stores.detail", store_id=store_id))
    flash(_("Milestone saved."), "success")
    return redirect(url_for("stores.detail", store_id=store_id))


@bp.get("/inspections")
@login_required
def inspection_list():
    status = request.args.get("status", "open")
    rows = inspections.list_inspections(current_user, status=status or None)
    return render_template("stores/inspections.html", rows=rows, status=status,
                           regions=_regions())


@bp.get("/inspections/dashboard")
@login_required
def dashboard():
    data = inspections.dashboard(current_user)
    return render_template("stores/dashboard.html", data=data, regions=_regions(),
                           by_region=charts.line_chart(data["by_region"]),
                           by_type=charts.line_chart(data["by_type"]),
                           worst=charts.bar_chart([(store_label(r["item"], "item"), r["score"])
                                                   for r in data["worst_items"]], 100),
                           overdue=charts.bar_chart([(_regions().get(r["region"], r["region"]),
                                                      r["count"]) for r in data["overdue"]]))


PLAN_FORM_FIELDS = ("name", "scope", "store_type", "store", "every_months", "start_month",
                    "due_days", "threshold")


def _plans_page(status: int = 200, *, new_values: dict | None = None,
                new_errors: dict | None = None, edited: int | None = None,
                edit_values: dict | None = None, edit_errors: dict | None = None,
                conflict: dict | None = None):
    """The plans page; a refused create or edit is shown in its own form with the values
    typed and the messages next to the fields."""
    rows = inspections.list_plans()
    return render_template("stores/plans.html", plans=rows, items=INSPECTION_ITEMS,
                           periods=inspections.PERIODS, types=STORE_TYPES,
                           history={p.id: inspections.plan_history(p) for p in rows},
                           open_counts=inspections.open_inspection_counts(),
                           may_edit=current_user.has_role("store_ops", "admin"),
                           new_values=new_values or {
                               "scope": "type", "checklist": list(INSPECTION_ITEMS),
                               "start_month": inspections.slot_of(
                                   date.today().replace(day=1) + timedelta(days=31))},
                           new_errors=new_errors or {}, edited=edited,
                           edit_values=edit_values or {}, edit_errors=edit_errors or {},
                           conflict=conflict), status


def _refusal(exc: AppError) -> tuple[int, dict, dict | None]:
    """(status, per-field errors, overlap) for a refused plan form."""
    if exc.code == "plan_overlaps":
        clash = db.session.get(InspectionPlan, exc.details.get("plan_id"))
        return exc.status, {}, {"plan": clash, "message": exc.message}
    if exc.code == "plan_changed":
        return exc.status, {"_": [_("Someone else changed this plan meanwhile; the form now "
                                    "shows their version. Apply your change again.")]}, None
    return exc.status, exc.details.get("errors") or {"_": [exc.message]}, None


def _store_of(code: str) -> int:
    """The store named on the form (its code or number); 422 on the field when unknown."""
    code = code.strip()
    found = db.session.scalar(select(Store.id).where(or_(
        Store.code == code, Store.id == (int(code) if code.isdigit() else -1))).limit(1)) \
        if code else None
    if found is None:
        raise AppError(_("No store has this code."), status=422, code="validation_failed",
                       details={"errors": {"store": [_("No store has this code.")]}})
    return found


@bp.get("/inspections/plans")
@login_required
def plans():
    return _plans_page()


@bp.post("/inspections/plans")
@login_required
def create_plan():
    """Create a plan from the page: the API's schema and service, errors beside the fields."""
    if not current_user.has_role("store_ops", "admin"):
        raise Forbidden("Only store operations plan inspections")
    values = {k: (request.form.get(k) or "").strip() for k in PLAN_FORM_FIELDS}
    values["checklist"] = request.form.getlist("checklist")
    try:
        body = {k: values[k] for k in ("name", "every_months", "start_month", "due_days",
                                       "threshold")} | {"checklist": values["checklist"]}
        if values["scope"] == "store":
            body["store_id"] = _store_of(values["store"])
        else:
            body["store_type"] = values["store_type"] or None
        plan = inspections.create_plan(current_user, schemas.PlanSchema().load(body))
    except ValidationError as exc:
        db.session.rollback()
        return _plans_page(422, new_values=values, new_errors=translate_errors(exc.messages))
    except AppError as exc:
        db.session.rollback()
        status, errors, conflict = _refusal(exc)
        return _plans_page(status, new_values=values, new_errors=errors, conflict=conflict)
    flash(_("Plan created."), "success")
    return redirect(url_for("stores.plans", _anchor=f"plan-{plan.id}")), 303


@bp.post("/inspections/plans/<int:plan_id>")
@login_required
def plan_action(plan_id: int):
    """Save a plan's form, or deactivate / reactivate it (store operations). The form sends
    back the version it showed: a stale one is a 409 and changes nothing."""
    if not current_user.has_role("store_ops", "admin"):
        raise Forbidden("Only store operations change inspection plans")
    plan = InspectionPlan.get_or_404(plan_id, "Plan")
    action = request.form.get("action", "save")
    version = request.form.get("version", type=int)
    values = {k: request.form.get(k) for k in ("name", "every_months", "due_days", "threshold",
                                               "open_inspections", "reason")}
    values["checklist"] = request.form.getlist("checklist")
    try:
        if action in ("deactivate", "activate"):
            changes = {"active": action == "activate"}
            if action == "deactivate" and request.form.get("open_inspections") == "cancel":
                changes |= {"cancel_open": True, "reason": request.form.get("reason")}
        else:
            changes = schemas.PlanUpdateSchema().load({
                "name": request.form.get("name", plan.name),
                "every_months": request.form.get("every_months", plan.every_months),
                "due_days": request.form.get("due_days", plan.due_days),
                "threshold": request.form.get("threshold", plan.threshold),
                "checklist": values["checklist"]})
        inspections.update_plan(plan, current_user, changes, version=version)
    except ValidationError as exc:
        db.session.rollback()
        return _plans_page(422, edited=plan_id, edit_values=values,
                           edit_errors=translate_errors(exc.messages))
    except AppError as exc:
        db.session.rollback()
        status, errors, conflict = _refusal(exc)
        if exc.code == "plan_changed":
            values = {}  # show the version saved by the other person
        return _plans_page(status, edited=plan_id, edit_values=values, edit_errors=errors,
                           conflict=conflict)
    flash(_("Plan saved."), "success")
    return redirect(url_for("stores.plans", _anchor=f"plan-{plan_id}")), 303


def _join(errors: dict) -> str:
    return " ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in errors.items())


@bp.route("/inspections/<int:inspection_id>", methods=["GET", "POST"])
@login_required
def inspect(inspection_id: int):
    found = inspections.get_inspection_for(inspection_id, current_user)
    checklist = inspections.checklist_of(found)
    errors = {}
    if request.method == "POST":
        body = {"notes": request.form.get("notes") or None,
                "photos": [p for p in request.form.get("photos", "").split(",") if p],
                "items": [{"item": item, "score": request.form.get(f"score_{item}"),
                           "note": request.form.get(f"note_{item}") or None}
                          for item in checklist]}
        try:
            inspections.submit_inspection(found, current_user,
                                          schemas.InspectionSubmit().load(body))
        except ValidationError as exc:
            errors = translate_errors(exc.messages)
        except AppError as exc:
            errors = exc.details.get("errors") or {"_": [exc.message]}
        if not errors:
            flash(_("Inspection submitted: score %(score)s.", score=found.score), "success")
            return redirect(url_for("stores.inspect", inspection_id=inspection_id))
    store = services.get_store_for(found.store_id, current_user)
    return render_template("stores/inspect.html", i=inspections.inspection_detail(found),
                           store=store, items=checklist, errors=errors,
                           form=request.form), (422 if errors else 200)
