"""Store documents: lease contracts, licences, acceptance reports, floor plans, invoices.

A document is an uploaded file (type sniffed from its bytes, size-capped, file name
sanitised by ``app.files.services``) filed under a store and optionally one of its opening
milestones. Only users who may see the store may list or download it; its uploader and store
operations may delete it, which keeps the row (and a history entry) but stops serving it.
"""

from flask import current_app, send_file
from sqlalchemy import select

from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.files.services import OFFICE_TYPES, open_attachment, save_upload
from app.stores.models import DOCUMENT_KINDS, MILESTONES, Store, StoreDocument
from app.stores.services import add_event

DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/webp", *OFFICE_TYPES)
INLINE_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/webp")
MANAGERS = ("store_ops", "admin")


def may_upload(store: Store, user) -> bool:
    return user.dealer_id == store.dealer_id or user.has_role(*MANAGERS)


def add_document(store: Store, user, file_storage, kind: str | None,
                 milestone: str | None = None, note: str | None = None) -> StoreDocument:
    """File an uploaded document under a store (422 per field for bad input)."""
    if not may_upload(store, user):
        raise Forbidden("Only the store's dealer or store operations add documents")
    errors: dict[str, list[str]] = {}
    if kind not in DOCUMENT_KINDS:
        errors["kind"] = [f"One of {', '.join(DOCUMENT_KINDS)}."]
    milestone = (milestone or "").strip() or None
    if milestone is not None and milestone not in MILESTONES:
        errors["milestone"] = [f"One of {', '.join(MILESTONES)}, or none."]
    note = (note or "").strip() or None
    if note is not None and len(note) > 255:
        errors["note"] = ["At most 255 characters."]
    if file_storage is None or not file_storage.filename:
        errors["file"] = ["No file uploaded (multipart field 'file')."]
    if errors:
        raise ValidationFailed(errors)
    att = save_upload(file_storage, uploaded_by=user, allowed_types=DOCUMENT_TYPES,
                      max_bytes=current_app.config["STORE_DOCUMENT_MAX_BYTES"],
                      upload_dir=current_app.config["UPLOAD_DIR"])
    doc = StoreDocument(store_id=store.id, attachment_id=att.id, kind=kind,
                        milestone_code=milestone, note=note, uploaded_by=user.username)
    db.session.add(doc)
    db.session.flush()
    add_event(store, "document_added", user.username, att.filename,
              details={"document_id": doc.id, "kind": kind, "milestone": milestone,
                       "sha256": att.sha256, "size": att.size})
    return doc


def documents_of(store: Store) -> list[StoreDocument]:
    """The store's documents that were not deleted, oldest first."""
    return db.session.scalars(select(StoreDocument).where(
        StoreDocument.store_id == store.id, StoreDocument.deleted_at.is_(None))
        .order_by(StoreDocument.id)).all()


def get_document(store: Store, document_id: int) -> StoreDocument:
    """A live document of this store (the store is already checked to be in scope)."""
    doc = db.session.get(StoreDocument, document_id)
    if doc is None or doc.store_id != store.id or doc.deleted_at is not None:
        raise NotFound(f"Document {document_id} not found")
    return doc


def delete_document(store: Store, doc: StoreDocument, user) -> StoreDocument:
    """Its uploader or store operations delete a document; the history keeps its trace."""
    if not (doc.uploaded_by == user.username or user.has_role(*MANAGERS)):
        raise Forbidden("Only the uploader or store operations delete a document")
    doc.deleted_at, doc.deleted_by = utcnow(), user.username
    add_event(store, "document_deleted", user.username, doc.attachment.filename,
              details={"document_id": doc.id, "kind": doc.kind})
    db.session.flush()
    return doc


def send_document(doc: StoreDocument):
    """The document's content: PDF and images inline, Office files as a download."""
    att = doc.attachment
    path = open_attachment(att, current_app.config["UPLOAD_DIR"])
    response = send_file(path, mimetype=att.content_type, download_name=att.filename,
                         as_attachment=att.content_type not in INLINE_TYPES, max_age=0,
                         conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def serialize(doc: StoreDocument) -> dict:
    att = doc.attachment
    return {"id": doc.id, "kind": doc.kind, "milestone": doc.milestone_code, "note": doc.note,
            "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "uploaded_by": doc.uploaded_by, "created_at": doc.created_at}
