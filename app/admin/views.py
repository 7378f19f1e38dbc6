"""Admin pages: the audit trail (filter, verify, CSV export) and job incidents."""

import csv
import io
from datetime import date, datetime, time, timedelta

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_utc
from flask_login import current_user

from app.audit.services import query_events, verify_chain
from app.core.auth import require_page_roles
from app.core.errors import Conflict, NotFound
from app.extensions import db
from app.jobs.services import list_incidents, retry_incident

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE = 200
CSV_LIMIT = 100_000
CSV_COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "instance_id",
               "task_id", "process_key", "dealer_id", "details", "prev_hash", "hash")
_FILTERS = ("actor", "action", "instance_id", "process_key", "since", "until")


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _filters() -> tuple[dict, dict]:
    """(raw values for the form, keyword arguments for query_events)."""
    raw = {k: (request.args.get(k) or "").strip() for k in _FILTERS}
    since, until = _day(raw["since"]), _day(raw["until"])
    query = {"actor": raw["actor"] or None, "action": raw["action"] or None,
             "process_key": raw["process_key"] or None,
             "instance_id": int(raw["instance_id"]) if raw["instance_id"].isdigit() else None,
             # Dates are days in the user's time zone; the trail stores UTC.
             "since": to_utc(datetime.combine(since, time.min)) if since else None,
             "until": to_utc(datetime.combine(until + timedelta(days=1), time.min))
             - timedelta(microseconds=1) if until else None}
    return raw, query


@bp.get("/audit")
@require_page_roles("admin")
def audit():
    raw, query = _filters()
    before = request.args.get("before_id", "")
    events = query_events(**query, limit=PAGE,
                          before_id=int(before) if before.isdigit() else None)
    older = events[-1].id if len(events) == PAGE else None
    return render_template("admin/audit.html", events=events, filters=raw, older=older)


@bp.post("/audit/verify")
@require_page_roles("admin")
def audit_verify():
    count, broken, reason = verify_chain()
    if broken is None:
        flash(_("Audit chain intact: %(n)s events verified.", n=count), "success")
    else:
        flash(_("Audit chain broken at event %(id)s (%(action)s): %(reason)s. "
                "%(n)s events before it verified.", id=broken.id, action=broken.action,
                reason=reason, n=count), "error")
    return redirect(url_for(".audit", **{k: v for k, v in request.args.items() if v}))


@bp.get("/audit.csv")
@require_page_roles("admin")
def audit_csv():
    _raw, query = _filters()
    out = io.StringIO()
    out.write("\ufeff")  # BOM: spreadsheet programs then read the UTF-8 (Chinese) correctly
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for ev in query_events(**query, limit=CSV_LIMIT):
        writer.writerow([ev.at.isoformat(timespec="seconds") + "Z" if c == "at" else
                         getattr(ev, c) for c in CSV_COLUMNS])
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=audit-{stamp}.csv"})


@bp.get("/incidents")
@require_page_roles("admin")
def incidents():
    return render_template("admin/incidents.html", incidents=list_incidents("open"))


@bp.post("/incidents/<int:incident_id>/retry")
@require_page_roles("admin")
def retry(incident_id: int):
    try:
        retry_incident(incident_id, current_user.username)
    except (Conflict, NotFound) as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Incident %(id)s queued for a retry.", id=incident_id), "success")
    return redirect(url_for(".incidents"))
