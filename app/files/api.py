"""Upload files (e.g. a business licence) to reference from form data by id."""

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.core.auth import api_user, require_api
from app.core.errors import ValidationFailed
from app.files.services import save_upload

blp = Blueprint("files_api", __name__, description="File uploads")
ALLOWED = ("application/pdf", "image/png", "image/jpeg")


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()


@blp.route("/files", methods=["POST"])
@blp.response(201, AttachmentSchema)
@require_api()
def upload():
    """Upload one file (multipart field ``file``: PDF, PNG or JPEG, at most 5 MB)."""
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        raise ValidationFailed({"file": ["No file uploaded (multipart field 'file')"]})
    return save_upload(storage, uploaded_by=api_user(), allowed_types=ALLOWED,
                       max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
                       upload_dir=current_app.config["UPLOAD_DIR"])
