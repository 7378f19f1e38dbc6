"""Announcement pages: authors create, edit and unpublish; readers mark them read."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.admin.services import region_choices
from app.announcements import services
from app.core.auth import require_page_roles
from app.core.errors import ValidationFailed
from app.dealers.models import DEALER_TYPES

bp = Blueprint("announcements", __name__)


def _form_data() -> dict:
    form = request.form
    return {"title": form.get("title", ""), "body": form.get("body", ""),
            "valid_from": form.get("valid_from") or None, "valid_to": form.get("valid_to") or None,
            "regions": form.getlist("regions"), "dealer_types": form.getlist("dealer_types")}


def _render(item=None, values=None, errors=None, status: int = 200):
    values = values or ({name: getattr(item, name) for name in services.FIELDS} if item else {})
    return render_template(
        "announcements/manage.html", item=item, values=values, errors=errors or {},
        announcements=services.visible_to(current_user),
        regions=region_choices(str(get_locale() or "zh_CN")), dealer_types=DEALER_TYPES,
    ), status


@bp.route("/announcements/manage", methods=["GET", "POST"])
@require_page_roles(*services.AUTHORS)
def manage():
    if request.method == "GET":
        return _render()
    values = _form_data()
    try:
        services.create(current_user, values)
    except ValidationFailed as exc:
        flash(_("Please correct the highlighted fields."), "error")
        return _render(values=values, errors=exc.errors, status=422)
    flash(_("Announcement published."), "success")
    return redirect(url_for("announcements.manage"))


@bp.route("/announcements/manage/<int:announcement_id>", methods=["GET", "POST"])
@require_page_roles(*services.AUTHORS)
def edit(announcement_id: int):
    item = services.get_for(announcement_id, current_user)
    if request.method == "GET":
        return _render(item)
    values = _form_data()
    try:
        services.update(announcement_id, current_user, values)
    except ValidationFailed as exc:
        flash(_("Please correct the highlighted fields."), "error")
        return _render(item, values=values, errors=exc.errors, status=422)
    flash(_("Announcement saved."), "success")
    return redirect(url_for("announcements.manage"))


@bp.post("/announcements/manage/<int:announcement_id>/status")
@require_page_roles(*services.AUTHORS)
def set_status(announcement_id: int):
    published = request.form.get("status") == "published"
    services.set_published(announcement_id, current_user, published)
    flash(_("Announcement published.") if published else _("Announcement unpublished."), "success")
    return redirect(url_for("announcements.manage"))


@bp.post("/announcements/<int:announcement_id>/read")
@login_required
def read(announcement_id: int):
    services.mark_read(announcement_id, current_user)
    return redirect(request.form.get("next") if request.form.get("next", "").startswith("/")
                    and not request.form.get("next", "").startswith("//")
                    else url_for("portal.dashboard"))
