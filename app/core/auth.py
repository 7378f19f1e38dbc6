"""Authentication: session login for pages, bearer tokens for the API, role checks."""

import hashlib
import secrets
from datetime import timedelta
from functools import wraps

from flask import current_app, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import bindparam, select

from app.audit.services import record
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


_TOKEN_USER = (select(ApiToken.expires_at, User).join(User, User.id == ApiToken.user_id)
               .where(ApiToken.token_hash == bindparam("digest")))


def _user_from_bearer(header: str) -> User | None:
    raw = header[7:].strip()
    digest = hashlib.sha256(raw.encode()).hexdigest()
    row = db.session.execute(_TOKEN_USER, {"digest": digest}).first()
    if row is None or row.expires_at < utcnow() or not row.User.active:
        raise Unauthorized("Invalid or expired token", code="bad_token")
    return row.User


def api_user() -> User:
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
