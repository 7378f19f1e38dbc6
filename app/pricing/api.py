"""Price management API: price changes, Excel price imports with progress, price-list export."""

from flask import request, send_file
from flask_smorest import Blueprint

from app.core.auth import api_user, require_api
from app.core.errors import NotFound
from app.extensions import db
from app.pricing import export, imports, schemas, services
from app.pricing.models import PriceImport

blp = Blueprint("pricing_api", __name__, description="Price changes, imports and exports")


@blp.route("/price-changes", methods=["GET"])
@blp.arguments(schemas.PriceChangeQuery, location="query")
@blp.response(200, schemas.PriceChangeSummary(many=True))
@require_api(*services.VIEW_ROLES)
def list_price_changes(query):
    """Price changes, newest first, optionally by status."""
    return services.list_price_changes(query["status"])


@blp.route("/price-changes", methods=["POST"])
@blp.arguments(schemas.PriceChangeIn)
@blp.response(201, schemas.PriceChangeOut)
@blp.alt_response(
    200, schema=schemas.PriceChangeOut, description="The same submit_key again: the first change"
)
@require_api(*services.REQUEST_ROLES)
def create_price_change(data):
    """Request a price change (PR00 / K004 / K007 lines); it starts the ``price_change`` approval."""
    change, created = services.create_price_change(data, api_user())
    return change, 201 if created else 200


@blp.route("/price-changes/<int:change_id>", methods=["GET"])
@blp.response(200, schemas.PriceChangeOut)
@require_api(*services.VIEW_ROLES)
def get_price_change(change_id):
    """A price change with its lines, old and new amounts."""
    return services.get_price_change(change_id)


@blp.route("/price-changes/<int:change_id>/lines", methods=["PUT"])
@blp.arguments(schemas.PriceChangeLinesIn)
@blp.response(200, schemas.PriceChangeOut)
@require_api(*services.REQUEST_ROLES)
def correct_lines(data, change_id):
    """Correct the lines of a change the ERP refused, before resubmitting it (409 otherwise)."""
    return services.replace_lines(services.get_price_change(change_id), data["lines"], api_user())


@blp.route("/price-imports", methods=["POST"])
@blp.response(202, schemas.PriceImportOut)
@require_api(*services.REQUEST_ROLES)
def upload_price_import():
    """Upload an .xlsx of base prices (multipart ``file``, ``policy``, ``reason``); runs in the background."""
    return imports.queue_import(
        request.files.get("file"),
        request.form.get("policy") or "all_or_nothing",
        request.form.get("reason") or "",
        api_user(),
    )


def _import(import_id: int) -> PriceImport:
    imp = db.session.get(PriceImport, import_id)
    if imp is None:
        raise NotFound(f"Price import {import_id} not found")
    return imp


@blp.route("/price-imports/<int:import_id>", methods=["GET"])
@blp.response(200, schemas.PriceImportOut)
@require_api(*services.REQUEST_ROLES)
def get_price_import(import_id):
    """Status and progress (processed of total rows) of an import."""
    return _import(import_id)


@blp.route("/price-imports/<int:import_id>/errors", methods=["GET"])
@blp.response(200, schemas.PriceImportErrors(many=True))
@require_api(*services.REQUEST_ROLES)
def get_price_import_errors(import_id):
    """Every bad row: row number, column and reason."""
    return _import(import_id).errors


@blp.route("/price-imports/<int:import_id>/errors.xlsx", methods=["GET"])
@require_api(*services.REQUEST_ROLES)
def download_price_import_errors(import_id):
    """The uploaded rows with an Error column."""
    imp = _import(import_id)
    return send_file(
        imports.error_workbook(imp),
        as_attachment=True,
        download_name=f"price-import-{imp.id}-errors.xlsx",
        mimetype=imports.XLSX,
    )


@blp.route("/price-lists/export.xlsx", methods=["GET"])
@blp.arguments(schemas.ExportQuery, location="query")
@require_api()
def export_price_list(query):
    """A price list as .xlsx: staff any (``price_list``, or ``base``), a dealer only its own."""
    name, out = export.export_price_list(api_user(), query["price_list"])
    return send_file(out, as_attachment=True, download_name=name, mimetype=imports.XLSX)
