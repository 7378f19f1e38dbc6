"""Authentication: session login for pages, bearer tokens for the API, role checks."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from flask import current_app, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import bindparam, select

from app.audit.services import record
from app.core import sql
from app.core.errors import Forbidden, Unauthorized
from app.core.models import ApiToken, User, utcnow
from app.extensions import db, login_manager


@login_manager.user_loader
def _load_user(user_id: str):
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def authenticate(username: str, password: str) -> User:
    user = User.by_username(username or "")
    if user is None or not user.active or not user.check_password(password or ""):
        raise Unauthorized("Wrong username or password", code="bad_credentials")
    return user


def issue_token(user: User) -> tuple[str, ApiToken]:
    """Create a bearer token; only its SHA-256 is stored."""
    raw = secrets.token_urlsafe(32)
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    token = ApiToken(user_id=user.id, token_hash=hashlib.sha256(raw.encode()).hexdigest(),
                     expires_at=utcnow() + timedelta(seconds=ttl))
    db.session.add(token)
    record(user.username, "auth.token_issued", target_type="user", target_id=user.id)
    return raw, token


@dataclass(frozen=True)
class Principal:
    """A bearer-token caller: the user's identity, roles and scope, read without the ORM.

    Services take it wherever they take a ``User`` (same attributes, read-only).
    """

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    region: str | None
    dealer_id: int | None
    locale: str | None
    active: bool = True

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


_USERS = User.__table__
_TOKEN_USER = sql.prepared(select(ApiToken.__table__.c.expires_at, _USERS.c.id, _USERS.c.username,
                      _USERS.c.display_name, _USERS.c.roles, _USERS.c.region,
                      _USERS.c.dealer_id, _USERS.c.locale, _USERS.c.active)
               .join(_USERS, _USERS.c.id == ApiToken.__table__.c.user_id)
               .where(ApiToken.__table__.c.token_hash == bindparam("digest")))


def _user_from_bearer(header: str) -> Principal:
    raw = header[7:].strip()
    digest = hashlib.sha256(raw.encode()).hexdigest()
    row = sql.execute(_TOKEN_USER, {"digest": digest}).first()
    if row is None or row.expires_at < utcnow() or not row.active:
        raise Unauthorized("Invalid or expired token", code="bad_token")
    return Principal(row.id, row.username, row.display_name or row.username,
                     tuple(r for r in row.roles.split(",") if r), row.region, row.dealer_id,
                     row.locale)


def api_user() -> User | Principal:
    """The caller of an API request: bearer token, or session cookie (+ CSRF on writes)."""
    cached = request.environ.get("dealerflow.api_user")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        user = _user_from_bearer(header)
    elif current_user.is_authenticated:
        user = current_user._get_current_object()
        if request.method not in ("GET", "HEAD", "OPTIONS") and \
                current_app.config.get("WTF_CSRF_ENABLED", True):
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except (CSRFError, Exception) as exc:  # noqa: BLE001 - any CSRF failure is a 403
                raise Forbidden("Missing or invalid CSRF token", code="csrf") from exc
    else:
        raise Unauthorized("Authentication required")
    request.environ["dealerflow.api_user"] = user
    return user


def require_api(*roles: str):
    """Decorate an API view: authenticated caller, optionally with one of ``roles``."""
    def deco(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            user = api_user()
            if roles and not user.has_role(*roles):
                raise Forbidden("Your role may not do this")
            return fn(*args, **kwargs)
        return wrapper
    return deco


def require_page_roles(*roles: str):
    def deco(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                raise Forbidden("Your role may not open this page")
            return fn(*args, **kwargs)
        return wrapper
    return deco
