"""Store uploads content-addressed on disk and record them as ``Attachment`` rows.

The real type of a file is sniffed from its first bytes; the client's content type and
file name extension are never trusted. Files live at ``upload_dir/ab/cdef…`` (the sha256
of the content), so the same content uploaded twice is stored once; every upload still
gets its own ``Attachment`` row (own file name, own uploader).
"""

import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from app.files.models import Attachment
from app.forms.validators import lazy_text as _l

CHUNK = 64 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
OFFICE_TYPES = (DOCX, XLSX, PPTX)
TYPE_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG",
              "image/gif": "GIF", "image/webp": "WEBP", DOCX: "Word (DOCX)",
              XLSX: "Excel (XLSX)", PPTX: "PowerPoint (PPTX)"}
EXTENSIONS = {"application/pdf": (".pdf",), "image/png": (".png",),
              "image/jpeg": (".jpg", ".jpeg"), "image/gif": (".gif",), "image/webp": (".webp",),
              DOCX: (".docx",), XLSX: (".xlsx",), PPTX: (".pptx",)}
# The part every Office Open XML package of a kind carries (ECMA-376 part 2).
_OOXML_MAIN_PARTS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX),
                     ("ppt/presentation.xml", PPTX))


def sniff_content_type(head: bytes) -> str | None:
    """The content type told by the magic bytes at the start of a file, or None."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_type(content: bytes) -> str | None:
    """Like ``sniff_content_type``, and tells Word/Excel/PowerPoint (OOXML) packages apart by
    the parts in their ZIP directory (names only: nothing is decompressed)."""
    sniffed = sniff_content_type(content[:16])
    if sniffed is None and content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as package:
                names = set(package.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" in names:
            for part, content_type in _OOXML_MAIN_PARTS:
                if part in names:
                    return content_type
    return sniffed


def _reject(message: str) -> ValidationFailed:
    return ValidationFailed({"file": [message]})


def _read_capped(stream, max_bytes: int) -> bytes:
    """Read at most ``max_bytes``; a longer stream is rejected before anything is kept."""
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _reject(str(_l("The file is larger than %(limit)s.", limit=_human(max_bytes))))
        chunks.append(chunk)


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} B"


def _display_name(filename: str | None, content_type: str | None = None) -> str:
    """The client's file name without directories, control or quoting characters, ending in
    an extension of the sniffed type (``report.html`` holding a PDF is kept as ``report.pdf``)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|*?:').strip(" .")
    name = name or "upload"
    extensions = EXTENSIONS.get(content_type or "")
    if extensions and not name.lower().endswith(extensions):
        stem, dot, ext = name.rpartition(".")
        name = (stem if dot and stem and len(ext) <= 5 else name)
        return name[:255 - len(extensions[0])] + extensions[0]
    return name[:255]


def attachment_path(upload_dir, sha256: str) -> Path:
    if not _SHA256_RE.match(sha256 or ""):
        raise ValueError("not a sha256 hex digest")
    return Path(upload_dir) / sha256[:2] / sha256[2:]


def _store(content: bytes, path: Path) -> None:
    """Write atomically (temp file + rename); an existing file is the same content."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_upload(file_storage, *, uploaded_by, allowed_types: Iterable[str], max_bytes: int,
                upload_dir) -> Attachment:
    """Validate and store one uploaded file; add (flush, not commit) its ``Attachment``.

    ``uploaded_by``: a User, a user id or None. ``allowed_types``: content types such as
    ``application/pdf``, checked against the sniffed type. Raises ``ValidationFailed``
    with ``{'file': [message]}`` for an empty, too large or disallowed file.
    """
    content = _read_capped(file_storage.stream, max_bytes)
    if not content:
        raise _reject(str(_l("The file is empty.")))
    allowed = list(dict.fromkeys(allowed_types))
    sniffed = sniff_type(content)
    if sniffed is None or sniffed not in allowed:
        names = ", ".join(TYPE_NAMES.get(t, t) for t in allowed)
        raise _reject(str(_l("This file type is not allowed; upload %(types)s.", types=names)))
    digest = hashlib.sha256(content).hexdigest()
    _store(content, attachment_path(upload_dir, digest))
    user_id = getattr(uploaded_by, "id", uploaded_by)
    att = Attachment(sha256=digest, filename=_display_name(file_storage.filename, sniffed),
                     content_type=sniffed, size=len(content), uploaded_by_id=user_id)
    db.session.add(att)
    db.session.flush()
    return att


def open_attachment(att: Attachment, upload_dir) -> Path:
    """The path of an attachment's content on disk (``NotFound`` if it is missing)."""
    path = attachment_path(upload_dir, att.sha256)
    if not path.is_file():
        raise NotFound(f"content of attachment {att.id} is missing")
    return path
