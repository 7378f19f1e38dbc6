"""Announcement services: write (admins, marketing), and what each reader is shown.

A dealer's users see published announcements valid today whose regions include the dealer's
region (or name none) and whose dealer types include the dealer's type (or name none); any
other announcement id is 404 for them. Authors see every announcement.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.announcements.models import Announcement, AnnouncementRead
from app.audit.services import record
from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.models import Region
from app.dealers.models import DEALER_TYPES, Dealer
from app.extensions import db

AUTHORS = ("admin", "marketing")
FIELDS = ("title", "body", "valid_from", "valid_to", "regions", "dealer_types")


def is_author(user) -> bool:
    return user.has_role(*AUTHORS)


def _require_author(user) -> None:
    if not is_author(user):
        raise Forbidden("Only administrators and marketing publish announcements")


def validate(data: dict) -> dict:
    """Clean announcement fields; 422 with a message per bad field."""
    errors: dict[str, list[str]] = {}
    title = (data.get("title") or "").strip()
    body = (data.get("body") or "").strip()
    if not title:
        errors["title"] = ["Required"]
    elif len(title) > 200:
        errors["title"] = ["At most 200 characters"]
    if not body:
        errors["body"] = ["Required"]
    elif len(body) > 10000:
        errors["body"] = ["At most 10,000 characters"]
    valid_from, valid_to = data.get("valid_from"), data.get("valid_to")
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is not None and not isinstance(value, date):
            try:
                value = date.fromisoformat(str(value)) if str(value).strip() else None
            except ValueError:
                errors[name] = ["Not a date (YYYY-MM-DD)"]
                value = None
            if name == "valid_from":
                valid_from = value
            else:
                valid_to = value
    if valid_from is None and "valid_from" not in errors:
        errors["valid_from"] = ["Required"]
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = ["Must not be before the start date"]
    regions = sorted(set(data.get("regions") or []))
    known = set(db.session.scalars(select(Region.code)))
    if unknown := [r for r in regions if r not in known]:
        errors["regions"] = [f"Unknown region: {', '.join(map(str, unknown))}"]
    types = sorted(set(data.get("dealer_types") or []))
    if bad := [t for t in types if t not in DEALER_TYPES]:
        errors["dealer_types"] = [f"Unknown dealer type: {', '.join(map(str, bad))} "
                                  f"(one of {', '.join(DEALER_TYPES)})"]
    if errors:
        raise ValidationFailed(errors)
    return {"title": title, "body": body, "valid_from": valid_from, "valid_to": valid_to,
            "regions": regions, "dealer_types": types}


def create(user, data: dict) -> Announcement:
    _require_author(user)
    clean = validate(data)
    item = Announcement(**clean, status="published", created_by=user.username)
    db.session.add(item)
    db.session.flush()
    record(user.username, "announcement.published", target_type="announcement", target_id=item.id,
           details={"title": item.title, "regions": item.regions,
                    "dealer_types": item.dealer_types})
    return item


def update(announcement_id: int, user, data: dict) -> Announcement:
    _require_author(user)
    item = Announcement.get_or_404(announcement_id, "Announcement")
    merged = {name: getattr(item, name) for name in FIELDS} | {
        k: v for k, v in data.items() if k in FIELDS}
    clean = validate(merged)
    for name, value in clean.items():
        setattr(item, name, value)
    item.updated_by = user.username
    record(user.username, "announcement.updated", target_type="announcement", target_id=item.id,
           details={"title": item.title})
    return item


def set_published(announcement_id: int, user, published: bool) -> Announcement:
    _require_author(user)
    item = Announcement.get_or_404(announcement_id, "Announcement")
    status = "published" if published else "unpublished"
    if item.status != status:
        item.status, item.updated_by = status, user.username
        record(user.username, f"announcement.{status}", target_type="announcement",
               target_id=item.id, details={"title": item.title})
    return item


def targets(item: Announcement, dealer: Dealer) -> bool:
    return ((not item.regions or dealer.region in item.regions)
            and (not item.dealer_types or dealer.dealer_type in item.dealer_types))


def _live(today: date):
    return select(Announcement).where(
        Announcement.status == "published", Announcement.valid_from <= today,
        or_(Announcement.valid_to.is_(None), Announcement.valid_to >= today),
    ).order_by(Announcement.valid_from.desc(), Announcement.id.desc())


def visible_to(user, today: date | None = None, limit: int = 200) -> list[Announcement]:
    """What the caller is shown: a dealer's users the live ones targeting their dealer;
    authors every announcement; other staff the live ones."""
    today = today or date.today()
    if is_author(user):
        return list(db.session.scalars(
            select(Announcement).order_by(Announcement.id.desc()).limit(limit)))
    if user.has_role("dealer"):
        dealer = db.session.get(Dealer, user.dealer_id) if user.dealer_id else None
        if dealer is None:
            return []
        return [a for a in db.session.scalars(_live(today)) if targets(a, dealer)][:limit]
    if user.has_role("applicant"):
        return []
    return list(db.session.scalars(_live(today).limit(limit)))


def get_for(announcement_id: int, user) -> Announcement:
    """The announcement when the caller is shown it; 404 otherwise (nothing said about it)."""
    item = db.session.get(Announcement, announcement_id)
    if item is None or (not is_author(user)
                        and item.id not in {a.id for a in visible_to(user)}):
        raise NotFound(f"Announcement {announcement_id} not found")
    return item


def read_ids(user, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return set(db.session.scalars(select(AnnouncementRead.announcement_id).where(
        AnnouncementRead.user_id == user.id, AnnouncementRead.announcement_id.in_(ids))))


def mark_read(announcement_id: int, user) -> Announcement:
    item = get_for(announcement_id, user)
    if item.id not in read_ids(user, [item.id]):
        try:
            with db.session.begin_nested():
                db.session.add(AnnouncementRead(announcement_id=item.id, user_id=user.id))
        except IntegrityError:
            pass  # read twice at once: once is enough
    return item
