"""Store ledger, opening milestones, closure/suspension, inspection plans and inspections."""

from flask import request, send_file
from flask_smorest import Blueprint

from app.core.auth import api_user, require_api
from app.stores import documents, export, inspections, lifecycle, photos, schemas, services

blp = Blueprint("stores_api", __name__, description="Stores and inspections")


@blp.route("/stores", methods=["GET"])
@blp.arguments(schemas.StoreQuery, location="query")
@blp.response(200, schemas.StoreRowSchema(many=True))
@require_api()
def list_stores(query):
    """The store ledger in the caller's scope, filtered by region, dealer, status, type."""
    return services.list_stores(api_user(), **query)


@blp.route("/stores/export.xlsx", methods=["GET"])
@blp.arguments(schemas.StoreQuery, location="query")
@require_api()
def export_stores(query):
    """The filtered ledger as an Excel workbook."""
    query.pop("limit"), query.pop("offset")
    path = export.ledger_workbook(api_user(), **query)
    return send_file(path, as_attachment=True, download_name="stores.xlsx",
                     mimetype=export.XLSX)


@blp.route("/stores/morning", methods=["GET"])
@blp.response(200, schemas.MorningRowSchema(many=True))
@require_api()
def morning():
    """Per store: opening progress, cost against budget and state."""
    return services.morning_view(api_user())


@blp.route("/stores/<int:store_id>", methods=["GET"])
@blp.response(200, schemas.StoreDetailSchema)
@require_api()
def get_store(store_id):
    """One store: status, budget vs actual, milestones, inspections, history (404 outside scope)."""
    return services.store_detail(services.get_store_for(store_id, api_user()))


@blp.route("/stores/applications", methods=["POST"])
@blp.arguments(schemas.ApplicationRequest)
@require_api("dealer", "store_ops", "admin")
def apply(body):
    """Apply for a new store (starts ``store_opening``); 422 when the budget does not add up."""
    from app.tasks.schemas import InstanceSchema
    from app.tasks.services import instance_for_api

    instance = services.apply_for_store(api_user(), body["data"])
    return InstanceSchema().dump(instance_for_api(instance)), 201


@blp.route("/stores/<int:store_id>/milestones/<code>/report", methods=["POST"])
@blp.arguments(schemas.MilestoneReport)
@blp.response(200, schemas.MilestoneSchema)
@require_api("dealer", "store_ops", "admin")
def report_milestone(body, store_id, code):
    """The dealer enters a milestone's actual date and cost."""
    store = services.get_store_for(store_id, api_user())
    return services.report_milestone(store, code, api_user(), body)


@blp.route("/stores/<int:store_id>/milestones/<code>/confirm", methods=["POST"])
@blp.response(200, schemas.MilestoneSchema)
@require_api("store_ops", "admin")
def confirm_milestone(store_id, code):
    """Store operations confirm a reported milestone (the acceptance one activates the store)."""
    store = services.get_store_for(store_id, api_user())
    return services.confirm_milestone(store, code, api_user())


def _status_change(kind: str, body: dict, store_id: int):
    from app.tasks.schemas import InstanceSchema
    from app.tasks.services import instance_for_api

    store = services.get_store_for(store_id, api_user())
    instance = lifecycle.request_status_change(store, api_user(), kind, body)
    return InstanceSchema().dump(instance_for_api(instance)), 201


@blp.route("/stores/<int:store_id>/closure", methods=["POST"])
@blp.arguments(schemas.StatusChangeRequest)
@require_api("dealer", "store_ops", "admin")
def request_closure(body, store_id):
    """Ask to close a store; 409 while milestones or inspections are open unless
    ``cancel_open_items`` is true."""
    return _status_change("closure", body, store_id)


@blp.route("/stores/<int:store_id>/suspension", methods=["POST"])
@blp.arguments(schemas.StatusChangeRequest)
@require_api("dealer", "store_ops", "admin")
def request_suspension(body, store_id):
    """Ask to suspend an active store."""
    return _status_change("suspension", body, store_id)


@blp.route("/stores/<int:store_id>/resumption", methods=["POST"])
@blp.arguments(schemas.StatusChangeRequest)
@require_api("dealer", "store_ops", "admin")
def request_resumption(body, store_id):
    """Ask to reopen a suspended store."""
    return _status_change("resumption", body, store_id)


@blp.route("/stores/photos", methods=["POST"])
@blp.response(201, schemas.PhotoSchema)
@require_api("dealer", "store_ops", "inspector", "admin")
def upload_photo():
    """Upload a store photo (multipart ``file``; JPEG/PNG/WEBP; ``taken_at`` ISO time, UTC)."""
    taken_at = photos.parse_taken_at(request.form.get("taken_at"))
    return photos.upload_photo(request.files.get("file"), api_user(), taken_at,
                               request.form.get("caption"))


@blp.route("/stores/<int:store_id>/documents", methods=["GET"])
@blp.response(200, schemas.DocumentSchema(many=True))
@require_api()
def list_documents(store_id):
    """The store's documents (404 outside the caller's scope)."""
    store = services.get_store_for(store_id, api_user())
    return [documents.serialize(doc) for doc in documents.documents_of(store)]


@blp.route("/stores/<int:store_id>/documents", methods=["POST"])
@blp.response(201, schemas.DocumentSchema)
@require_api()
def add_document(store_id):
    """File a document (multipart ``file``: PDF, JPEG/PNG/WEBP, DOCX/XLSX/PPTX; ``kind``:
    lease_contract, business_licence, acceptance_report, floor_plan, invoice or other;
    optional ``milestone`` code and ``note``). The store's dealer or store operations."""
    store = services.get_store_for(store_id, api_user())
    doc = documents.add_document(store, api_user(), request.files.get("file"),
                                 request.form.get("kind"), request.form.get("milestone"),
                                 request.form.get("note"))
    return documents.serialize(doc)


@blp.route("/stores/<int:store_id>/documents/<int:document_id>/content", methods=["GET"])
@require_api()
def document_content(store_id, document_id):
    """A document's content (PDF and images inline, Office files as an attachment)."""
    store = services.get_store_for(store_id, api_user())
    return documents.send_document(documents.get_document(store, document_id))


@blp.route("/stores/<int:store_id>/documents/<int:document_id>", methods=["DELETE"])
@blp.response(204)
@require_api()
def delete_document(store_id, document_id):
    """Delete a document (its uploader or store operations); the store history keeps it."""
    store = services.get_store_for(store_id, api_user())
    documents.delete_document(store, documents.get_document(store, document_id), api_user())


@blp.route("/inspection-plans", methods=["GET"])
@blp.response(200, schemas.PlanSchema(many=True))
@require_api()
def list_plans():
    """Inspection plans."""
    return inspections.list_plans()


@blp.route("/inspection-plans", methods=["POST"])
@blp.arguments(schemas.PlanSchema)
@blp.response(201, schemas.PlanSchema)
@require_api("store_ops", "admin")
def create_plan(body):
    """Create a plan for a store type or one store; 422/409 when inspections would overlap."""
    return inspections.create_plan(api_user(), body)


def _if_match() -> int | None:
    """The plan version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``); a value that
    names no version can never match, so it is a 409 like a stale one."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else -1


def _with_etag(plan):
    return plan, {"ETag": f'"{plan.version}"'}


@blp.route("/inspection-plans/<int:plan_id>", methods=["GET"])
@blp.response(200, schemas.PlanDetailSchema)
@require_api()
def get_plan(plan_id):
    """One plan with its change history, its open inspections and its version (also the
    ``ETag``)."""
    plan = inspections.InspectionPlan.get_or_404(plan_id, "Plan")
    return inspections.plan_detail(plan), {"ETag": f'"{plan.version}"'}


@blp.route("/inspection-plans/<int:plan_id>", methods=["PATCH"])
@blp.arguments(schemas.PlanUpdateSchema)
@blp.response(200, schemas.PlanSchema)
@require_api("store_ops", "admin")
def update_plan(body, plan_id):
    """Change a plan's name, frequency, due days, checklist, threshold or active flag; the
    same overlap rules as creating one (422 / 409). Send back the ``version`` read (or
    ``If-Match``): a stale one is a 409 ``plan_changed`` and nothing changes. Deactivating
    (``active: false``) keeps its open inspections unless ``cancel_open`` is true, which
    cancels them with ``reason`` (recorded in each store's history)."""
    plan = inspections.InspectionPlan.get_or_404(plan_id, "Plan")
    version = body.pop("version", None)
    return _with_etag(inspections.update_plan(plan, api_user(), body, version=version,
                                              if_match=_if_match()))


@blp.route("/inspection-plans/<int:plan_id>", methods=["DELETE"])
@blp.arguments(schemas.PlanDeactivateQuery, location="query")
@blp.response(200, schemas.PlanSchema)
@require_api("store_ops", "admin")
def deactivate_plan(query, plan_id):
    """Deactivate a plan: it generates no more inspections. Its open inspections stay open,
    or with ``?cancel_open=true&reason=…`` are cancelled (recorded in each store's history).
    ``version`` / ``If-Match`` as for PATCH."""
    plan = inspections.InspectionPlan.get_or_404(plan_id, "Plan")
    changes = {"active": False, "cancel_open": query["cancel_open"], "reason": query["reason"]}
    return _with_etag(inspections.update_plan(plan, api_user(), changes,
                                              version=query["version"], if_match=_if_match()))


@blp.route("/inspections", methods=["GET"])
@blp.arguments(schemas.InspectionQuery, location="query")
@blp.response(200, schemas.InspectionSchema(many=True))
@require_api()
def list_inspections(query):
    """Inspections in the caller's scope (an inspector: their region's)."""
    return inspections.list_inspections(api_user(), **query)


@blp.route("/inspections/generate", methods=["POST"])
@blp.arguments(schemas.SlotRequest)
@blp.response(200, schemas.GenerateResult)
@require_api("store_ops", "admin")
def generate(body):
    """Generate the inspections of a month (YYYY-MM); a second run creates nothing."""
    return {"slot": body["slot"], "created": inspections.generate_inspections(
        body["slot"], api_user().username)}


@blp.route("/inspections/dashboard", methods=["GET"])
@require_api()
def dashboard():
    """Average scores by region and store type per month, overdue inspections, worst items."""
    return inspections.dashboard(api_user())


@blp.route("/inspections/<int:inspection_id>", methods=["GET"])
@blp.response(200, schemas.InspectionDetailSchema)
@require_api()
def get_inspection(inspection_id):
    """One inspection with its item scores and photos."""
    return inspections.inspection_detail(inspections.get_inspection_for(inspection_id, api_user()))


@blp.route("/inspections/<int:inspection_id>/submit", methods=["POST"])
@blp.arguments(schemas.InspectionSubmit)
@blp.response(200, schemas.InspectionSchema)
@require_api("inspector", "admin")
def submit(body, inspection_id):
    """Submit the checklist once (409 the second time); a low score opens a corrective action."""
    found = inspections.get_inspection_for(inspection_id, api_user())
    return inspections.submit_inspection(found, api_user(), body)
