"""User and region administration."""

from app.audit.services import record
from app.core.errors import Conflict, ValidationFailed
from app.core.models import Region, User
from app.core.roles import ROLES
from app.extensions import db


def create_user(username: str, password: str, roles: list[str], *, region=None, dealer_id=None,
                display_name: str = "", actor: str = "system", locale=None) -> User:
    """Create a user with a hashed password; 422 on unknown roles or regions."""
    errors = {}
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        errors["roles"] = [f"Unknown role(s): {', '.join(unknown)}"]
    if region and db.session.get(Region, region) is None:
        errors["region"] = [f"Unknown region: {region}"]
    if not password or len(password) < 4:
        errors["password"] = ["Password must have at least 4 characters"]
    if errors:
        raise ValidationFailed(errors)
    if User.by_username(username):
        raise Conflict(f"User {username} already exists")
    user = User(username=username, display_name=display_name or username, region=region,
                dealer_id=dealer_id, locale=locale)
    user.roles = roles
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record(actor, "user.created", target_type="user", target_id=user.id,
           details={"username": username, "roles": roles, "region": region})
    return user


_REGIONS = None


def region_choices(locale: str) -> list[tuple[str, str]]:
    """(code, label in the locale) for every region, by code."""
    global _REGIONS
    if _REGIONS is None:
        from sqlalchemy import select

        from app.core import sql

        table = Region.__table__
        _REGIONS = sql.prepared(select(table.c.code, table.c.name_zh, table.c.name_en)
                                .order_by(table.c.code))
    zh = locale.startswith("zh")
    return [(r.code, r.name_zh if zh else r.name_en) for r in _REGIONS.run().all()]


def set_locale(user: User, locale: str) -> None:
    if locale not in ("zh_CN", "en"):
        raise ValidationFailed({"locale": ["Must be zh_CN or en"]})
    user.locale = locale
