"""Pages: the user's notifications, and the outbox in the admin console."""

import orjson
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.auth import require_page_roles
from app.core.errors import ValidationFailed
from app.notify import services

bp = Blueprint("notify", __name__)


@bp.app_context_processor
def _unread():
    def notification_unread() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return services.unread_count(current_user)
    return {"notification_unread": notification_unread}


@bp.get("/notifications")
@login_required
def notifications():
    unread_only = request.args.get("unread") == "1"
    items = services.list_notifications(current_user, unread_only, limit=200)
    return render_template("notify/notifications.html", items=items, unread_only=unread_only)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    n = services.mark_read(notification_id, current_user)
    target = request.form.get("next")
    if target == "link" and n.link and n.link.startswith("/") and not n.link.startswith("//"):
        return redirect(n.link)
    return redirect(url_for(".notifications"))


@bp.post("/notifications/read-all")
@login_required
def read_all():
    services.mark_all_read(current_user)
    return redirect(url_for(".notifications"))


@bp.get("/admin/outbox")
@require_page_roles("admin")
def outbox():
    channel = request.args.get("channel") or None
    status = request.args.get("status") or None
    try:
        rows = services.list_outbox(channel, status)
    except ValidationFailed:
        channel = status = None
        rows = services.list_outbox()
    for row in rows:
        row.payload_data = orjson.loads(row.payload)
    return render_template("notify/outbox.html", rows=rows, channel=channel, status=status,
                           channels=services.OUTBOX_CHANNELS, statuses=services.OUTBOX_STATUSES)


@bp.post("/admin/outbox/<int:message_id>/retry")
@require_page_roles("admin")
def retry(message_id: int):
    services.retry_message(message_id, current_user.username)
    return redirect(url_for(".outbox"))
