"""Store photos: images only, size-capped, each keeping the time it was taken."""

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.core.errors import ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.files.models import Attachment
from app.files.services import save_upload
from app.stores.models import StorePhoto

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


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
    """Store an uploaded photo; ``taken_at`` (UTC) defaults to now and may not lie ahead."""
    if file_storage is None or not file_storage.filename:
        raise ValidationFailed({"file": ["No file uploaded (multipart field 'file')"]})
    if taken_at is not None and taken_at > utcnow() + timedelta(minutes=5):
        raise ValidationFailed({"taken_at": ["Lies in the future."]})
    att = save_upload(file_storage, uploaded_by=user, allowed_types=IMAGE_TYPES,
                      max_bytes=current_app.config["STORE_PHOTO_MAX_BYTES"],
                      upload_dir=current_app.config["UPLOAD_DIR"])
    photo = StorePhoto(attachment_id=att.id, taken_at=taken_at or utcnow(), caption=caption,
                       uploaded_by=user.username)
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
        if photo is None:  # uploaded through /files: the upload time is all we know
            att = db.session.get(Attachment, att_id)
            if att is None:
                continue
            photo = StorePhoto(attachment_id=att_id, taken_at=att.created_at,
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
