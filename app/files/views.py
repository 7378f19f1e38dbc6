"""Downloading uploaded files (business licences, photos) from the pages."""

from flask import Blueprint, current_app, send_file
from flask_login import current_user, login_required

from app.core.errors import NotFound
from app.core.models import User
from app.engine.services import STAFF_EXCLUDED
from app.extensions import db
from app.files.models import Attachment
from app.files.services import open_attachment

bp = Blueprint("files", __name__)


def may_read(att: Attachment, user: User) -> bool:
    """The uploader, or any staff user (dealers and applicants see only their own uploads)."""
    return att.uploaded_by_id == user.id or any(r not in STAFF_EXCLUDED for r in user.roles)


@bp.get("/files/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    att = db.session.get(Attachment, attachment_id)
    if att is None or not may_read(att, current_user):
        raise NotFound(f"File {attachment_id} not found")
    path = open_attachment(att, current_app.config["UPLOAD_DIR"])
    # Only sniffed PDF/image types are stored, so showing them inline is safe.
    response = send_file(path, mimetype=att.content_type, download_name=att.filename,
                         as_attachment=False, max_age=0, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
