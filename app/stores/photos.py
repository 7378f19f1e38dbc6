"""Store photos: images only, size-capped, each keeping the time it was taken.

The time comes from the image's EXIF ``DateTimeOriginal`` (with ``OffsetTimeOriginal``, or
the configured ``STORE_PHOTO_EXIF_UTC_OFFSET``); without it, from the file time the browser
sent; without that, the upload time. ``taken_at_source`` says which (``exif`` / ``device`` /
``upload``) so pages can mark a fallback time as such.
"""

import io
import logging
from datetime import UTC, datetime, timedelta, timezone

import exifread
from flask import current_app
from sqlalchemy import select

from app.core.errors import ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.files.models import Attachment
from app.files.services import open_attachment, save_upload
from app.stores.models import StorePhoto

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
EARLIEST = datetime(2000, 1, 1)  # a camera clock never set reads 1970 or 0000: ignore it
log = logging.getLogger(__name__)


def _utc_offset(raw: str) -> timezone | None:
    raw = (raw or "").strip()
    if len(raw) != 6 or raw[0] not in "+-" or raw[3] != ":":
        return None
    try:
        delta = timedelta(hours=int(raw[1:3]), minutes=int(raw[4:6]))
    except ValueError:
        return None
    return timezone(-delta if raw[0] == "-" else delta)


def exif_taken_at(content: bytes, default_offset: str = "+08:00") -> datetime | None:
    """DateTimeOriginal of an image as naive UTC, or None (no EXIF, unreadable, implausible)."""
    try:
        tags = exifread.process_file(io.BytesIO(content), details=False, extract_thumbnail=False)
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not refuse the photo
        log.info("unreadable EXIF block", exc_info=True)
        return None
    raw = str(tags.get("EXIF DateTimeOriginal") or tags.get("Image DateTime") or "").strip()
    try:
        local = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = (_utc_offset(str(tags.get("EXIF OffsetTimeOriginal") or ""))
              or _utc_offset(default_offset) or UTC)
    value = local.replace(tzinfo=offset).astimezone(UTC).replace(tzinfo=None)
    if value < EARLIEST or value > utcnow() + timedelta(days=1):
        return None
    return value


def _exif_of(att: Attachment) -> datetime | None:
    try:
        content = open_attachment(att, current_app.config["UPLOAD_DIR"]).read_bytes()
    except Exception:  # noqa: BLE001 - the content is missing: no EXIF to read
        return None
    return exif_taken_at(content, current_app.config["STORE_PHOTO_EXIF_UTC_OFFSET"])


def parse_taken_at(raw: str | None) -> datetime | None:
    """An ISO time (with offset, or UTC when naive) as naive UTC; 422 when unreadable."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed({"taken_at": ["Not an ISO date and time."]}) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def upload_photo(file_storage, user, taken_at: datetime | None, caption: str | None = None):
    """Store an uploaded photo, timed by its EXIF, else ``taken_at`` (UTC, the device's file
    time; may not lie ahead), else now."""
    if file_storage is None or not file_storage.filename:
        raise ValidationFailed({"file": ["No file uploaded (multipart field 'file')"]})
    if taken_at is not None and taken_at > utcnow() + timedelta(minutes=5):
        raise ValidationFailed({"taken_at": ["Lies in the future."]})
    att = save_upload(file_storage, uploaded_by=user, allowed_types=IMAGE_TYPES,
                      max_bytes=current_app.config["STORE_PHOTO_MAX_BYTES"],
                      upload_dir=current_app.config["UPLOAD_DIR"])
    exif = _exif_of(att)
    if exif is not None:
        when, source = exif, "exif"
    elif taken_at is not None:
        when, source = taken_at, "device"
    else:
        when, source = utcnow(), "upload"
    photo = StorePhoto(attachment_id=att.id, taken_at=when, taken_at_source=source,
                       caption=caption, uploaded_by=user.username)
    db.session.add(photo)
    db.session.flush()
    return photo


def link_photos(attachment_ids, *, actor: str, store_id: int | None = None,
                inspection_id: int | None = None) -> list[StorePhoto]:
    """Attach photos named by attachment id to a store or an inspection."""
    ids = [int(i) for i in attachment_ids if str(i).isdigit()]
    if not ids:
        return []
    photos = {p.attachment_id: p for p in db.session.scalars(
        select(StorePhoto).where(StorePhoto.attachment_id.in_(ids)))}
    out = []
    for att_id in ids:
        photo = photos.get(att_id)
        if photo is None:  # uploaded through /files: its EXIF, else the upload time
            att = db.session.get(Attachment, att_id)
            if att is None:
                continue
            exif = _exif_of(att)
            photo = StorePhoto(attachment_id=att_id, taken_at=exif or att.created_at,
                               taken_at_source="exif" if exif else "upload",
                               uploaded_by=actor)
            db.session.add(photo)
        photo.store_id = store_id or photo.store_id
        photo.inspection_id = inspection_id or photo.inspection_id
        out.append(photo)
    db.session.flush()
    return out


def photos_of(store_id: int | None = None, inspection_id: int | None = None):
    stmt = select(StorePhoto).order_by(StorePhoto.taken_at)
    if inspection_id is not None:
        stmt = stmt.where(StorePhoto.inspection_id == inspection_id)
    else:
        stmt = stmt.where(StorePhoto.store_id == store_id)
    return db.session.scalars(stmt).all()


def photo_of_store(store_id: int, photo_id: int) -> StorePhoto:
    """A photo filed under this store (directly or through one of its inspections)."""
    from app.core.errors import NotFound

    photo = db.session.get(StorePhoto, photo_id)
    if photo is None or photo.store_id != store_id:
        raise NotFound(f"Photo {photo_id} not found")
    return photo
