"""Uploads: size cap, magic-byte sniffing, content-addressed storage, Attachment rows."""

import io
import struct
import zlib

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict

import app.models  # noqa: F401  (every table, for create_all)
from app.core.errors import NotFound, ValidationFailed
from app.core.models import User
from app.extensions import db
from app.files.models import Attachment
from app.files.services import open_attachment, save_upload, sniff_content_type
from app.forms import parse_form, parse_form_post, validate_submission

PDF_ONLY = ["application/pdf"]
LICENCE_TYPES = ["application/pdf", "image/png", "image/jpeg"]


def tiny_png() -> bytes:
    """A real 1×1 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


@pytest.fixture
def flask_app():
    flask_app = Flask(__name__)
    flask_app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", TESTING=True)
    db.init_app(flask_app)
    with flask_app.app_context():
        db.create_all()
        yield flask_app
        db.session.remove()


@pytest.fixture
def upload_dir(tmp_path):
    return tmp_path / "uploads"


def upload(content: bytes, filename="licence.pdf", content_type="application/pdf"):
    return FileStorage(stream=io.BytesIO(content), filename=filename, content_type=content_type)


def stored_files(upload_dir) -> list:
    return [p for p in upload_dir.rglob("*") if p.is_file()] if upload_dir.exists() else []


def attachment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Attachment))


def test_sniffing():
    assert sniff_content_type(b"%PDF-1.7\n") == "application/pdf"
    assert sniff_content_type(tiny_png()[:16]) == "image/png"
    assert sniff_content_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_content_type(b"GIF89a\x01\x00") == "image/gif"
    assert sniff_content_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_content_type(b"MZ\x90\x00") is None


def test_too_big_is_rejected_and_nothing_written(flask_app, upload_dir):
    with pytest.raises(ValidationFailed) as info:
        save_upload(upload(b"%PDF-1.4\n" + b"x" * 2000), uploaded_by=None,
                    allowed_types=PDF_ONLY, max_bytes=1024, upload_dir=upload_dir)
    assert info.value.status == 422
    assert "larger than 1 KB" in info.value.errors["file"][0]
    assert stored_files(upload_dir) == [] and attachment_count() == 0


def test_exe_renamed_to_pdf_is_rejected(flask_app, upload_dir):
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100
    with pytest.raises(ValidationFailed) as info:
        save_upload(upload(exe, "licence.pdf"), uploaded_by=None, allowed_types=LICENCE_TYPES,
                    max_bytes=5 * 1024 * 1024, upload_dir=upload_dir)
    assert info.value.errors["file"] == [
        "This file type is not allowed; upload PDF, PNG, JPEG."]
    assert stored_files(upload_dir) == [] and attachment_count() == 0


def test_allowed_types_are_checked_against_the_sniffed_type(flask_app, upload_dir):
    with pytest.raises(ValidationFailed):
        save_upload(upload(tiny_png(), "scan.pdf"), uploaded_by=None,
                    allowed_types=PDF_ONLY, max_bytes=10_000, upload_dir=upload_dir)
    with pytest.raises(ValidationFailed, match="Validation failed") as info:
        save_upload(upload(b""), uploaded_by=None, allowed_types=PDF_ONLY,
                    max_bytes=10_000, upload_dir=upload_dir)
    assert info.value.errors == {"file": ["The file is empty."]}


def test_png_is_stored_once_content_addressed(flask_app, upload_dir):
    user = User(username="rep")
    user.set_password("secret-for-test")
    db.session.add(user)
    db.session.flush()
    content = tiny_png()
    first = save_upload(upload(content, "C:\\fakepath\\营业执照.png", "application/pdf"),
                        uploaded_by=user, allowed_types=LICENCE_TYPES,
                        max_bytes=5 * 1024 * 1024, upload_dir=upload_dir)
    second = save_upload(upload(content, "again.png", "image/png"), uploaded_by=user.id,
                         allowed_types=LICENCE_TYPES, max_bytes=5 * 1024 * 1024,
                         upload_dir=upload_dir)
    assert first.id and second.id and first.id != second.id
    assert first.sha256 == second.sha256 and len(first.sha256) == 64
    assert first.content_type == "image/png" and first.size == len(content)
    assert first.filename == "营业执照.png" and first.uploaded_by_id == user.id
    path = open_attachment(first, upload_dir)
    assert path == upload_dir / first.sha256[:2] / first.sha256[2:]
    assert path.read_bytes() == content
    assert stored_files(upload_dir) == [path]


def test_rows_are_flushed_not_committed(flask_app, upload_dir):
    save_upload(upload(b"%PDF-1.4\n%%EOF\n"), uploaded_by=None, allowed_types=PDF_ONLY,
                max_bytes=1024, upload_dir=upload_dir)
    assert attachment_count() == 1
    db.session.rollback()
    assert attachment_count() == 0


def test_missing_content_is_not_found(flask_app, upload_dir):
    att = Attachment(id=5, sha256="ab" * 32, filename="x.pdf", content_type="application/pdf",
                     size=1)
    with pytest.raises(NotFound):
        open_attachment(att, upload_dir)


def test_form_post_with_upload(flask_app, upload_dir):
    form = parse_form({"key": "t", "title": "T", "fields": [
        {"name": "licence", "type": "file", "required": True, "accept": "application/pdf",
         "max_bytes": 1024}]})

    def save_file(file_storage, field):
        return save_upload(file_storage, uploaded_by=None, allowed_types=field.accept,
                           max_bytes=field.max_bytes, upload_dir=upload_dir).id

    def file_exists(attachment_id):
        return db.session.get(Attachment, attachment_id) is not None

    files = MultiDict([("licence", upload(b"%PDF-1.4\n%%EOF\n"))])
    data = parse_form_post(form, MultiDict(), files, save_file=save_file)
    assert validate_submission(form, data, file_exists=file_exists) == {"licence": data["licence"]}
    with pytest.raises(ValidationFailed) as info:
        parse_form_post(form, MultiDict(), MultiDict([("licence", upload(tiny_png()))]),
                        save_file=save_file)
    assert list(info.value.errors) == ["licence"]
    with pytest.raises(ValidationFailed) as info:
        validate_submission(form, {"licence": 999}, file_exists=file_exists)
    assert list(info.value.errors) == ["licence"]
