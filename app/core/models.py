"""Shared model base plus users, tokens and regions."""

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.errors import NotFound
from app.extensions import db


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Model(db.Model):
    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    @classmethod
    def get_or_404(cls, ident, what: str | None = None):
        obj = db.session.get(cls, ident) if ident is not None else None
        if obj is None:
            raise NotFound(f"{what or cls.__name__} {ident} not found")
        return obj


class Region(db.Model):
    __tablename__ = "region"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(50))

    def label(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class User(UserMixin, Model):
    __tablename__ = "user_account"
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    roles_csv: Mapped[str] = mapped_column("roles", String(255), default="", nullable=False)
    region: Mapped[str | None] = mapped_column(ForeignKey("region.code"), nullable=True)
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id"), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(10), nullable=True)
    email: Mapped[str | None] = mapped_column(String(120), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_csv.split(",") if r]

    @roles.setter
    def roles(self, values) -> None:
        self.roles_csv = ",".join(sorted(set(values)))

    def has_role(self, *roles: str) -> bool:
        mine = self.roles
        return any(r in mine for r in roles)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @classmethod
    def by_username(cls, username: str) -> "User | None":
        return db.session.scalar(select(cls).where(cls.username == username))


class ApiToken(Model):
    __tablename__ = "api_token"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


def schema_objects_of(dialect_name: str):
    """An Alembic ``include_object`` hook leaving out what is built only on another database.

    Alembic ignores ``Index(...).ddl_if(dialect=...)``: without this, comparing a PostgreSQL-
    only index with a SQLite schema would report it missing.
    """
    def include(obj, name, type_, reflected, compare_to) -> bool:
        only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
        return only is None or dialect_name in ((only,) if isinstance(only, str) else only)

    return include
