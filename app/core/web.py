"""HTTP plumbing: one transaction per request, SQLite tuning, errors, JSON."""

import contextvars
import logging
import os
import sqlite3
import threading
import time
import weakref
from decimal import Decimal

import orjson
from flask import Flask, current_app, render_template, request
from flask.json.provider import JSONProvider
from flask.sessions import SecureCookieSessionInterface
from marshmallow import ValidationError
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from app.core.errors import AppError, Conflict
from app.extensions import db

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


def writes(view):
    """Mark a GET view that writes in its own transaction (marks a task opened): it
    starts with BEGIN IMMEDIATE on SQLite, so it waits for another writer instead of failing
    with 'database is locked' when its read snapshot cannot be upgraded. Not for views that
    call out (the ERP) while the transaction is open: they would hold the write lock."""
    view.writes_on_read = True
    return view


def _default(obj):
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    if hasattr(obj, "__html__"):  # lazy translation strings, Markup
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj) -> str:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


class OrjsonProvider(JSONProvider):
    def dumps(self, obj, **kwargs) -> str:
        return dumps(obj)

    def loads(self, s, **kwargs):
        return orjson.loads(s)


class DealerflowFlask(Flask):
    """Flask, without per-request work the product does not need.

    ``ensure_sync`` inspects each hook and view for being a coroutine function on every
    call (seven times per request here); the answer is kept per function.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_checked: dict = {}
        self.session_interface = CookieSessions()

    def ensure_sync(self, func):
        known = self._sync_checked.get(func)
        if known is None:
            known = self._sync_checked[func] = super().ensure_sync(func)
        return known


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie (every bearer-token API
    call) gets its empty session without building the signing serializer, which is
    built once per secret key instead of once per request."""

    def __init__(self):
        self._serializers: dict = {}

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = self._serializers[key] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


# SQLite's own checkpoint runs inside the commit that pushes the WAL past this many pages;
# with a background checkpointer it is only a safety net (the checkpointer keeps it short).
WAL_SAFETY_PAGES = 20000


def tune_sqlite(engine, synchronous: str, checkpoint_seconds: float = 0.0) -> None:
    """WAL, busy timeout, and explicit BEGIN / BEGIN IMMEDIATE (never 'database is locked').

    ``checkpoint_seconds`` > 0 moves WAL checkpoints out of the requests: SQLite would
    otherwise copy the WAL into the database file, and fsync it, inside whichever commit
    crosses its 1,000-page threshold (a few milliseconds, every few approvals). A daemon
    thread per process checkpoints instead (``WalCheckpointer``).
    """
    path = engine.url.database
    background = checkpoint_seconds > 0 and bool(path) and path != ":memory:" \
        and not path.startswith("file:")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        if background:
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_SAFETY_PAGES}")
            WalCheckpointer.ensure(engine, path, checkpoint_seconds)
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # Straight to the DBAPI connection: the statement needs none of the execution
        # machinery (events, compilation, result), which costs more than SQLite's BEGIN.
        conn.connection.dbapi_connection.execute(
            "BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


class WalCheckpointer:
    """A daemon thread that checkpoints a SQLite WAL every few seconds (PASSIVE: it never
    waits for, nor blocks, readers and writers).

    One per database file and process, started by the first connection a process opens (so
    after a fork). It stops when its engine is garbage-collected or disposed of via
    ``stop``.
    """

    _running: dict[tuple[int, str], "WalCheckpointer"] = {}
    _lock = threading.Lock()

    def __init__(self, engine, path: str, interval: float):
        self.path, self.interval = path, interval
        self.engine_ref = weakref.ref(engine)
        self.stopped = threading.Event()
        self.checkpoints = 0
        self.thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint",
                                       daemon=True)

    @classmethod
    def ensure(cls, engine, path: str, interval: float) -> "WalCheckpointer":
        key = (os.getpid(), os.path.abspath(path))
        with cls._lock:
            running = cls._running.get(key)
            if running is None or running.stopped.is_set() or running.engine_ref() is None:
                running = cls._running[key] = cls(engine, path, interval)
                running.thread.start()
            return running

    @classmethod
    def for_path(cls, path: str) -> "WalCheckpointer | None":
        return cls._running.get((os.getpid(), os.path.abspath(path)))

    def stop(self) -> None:
        self.stopped.set()

    def checkpoint(self, conn) -> None:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.checkpoints += 1

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error:
            log.warning("WAL checkpointer: cannot open %s; SQLite checkpoints in commits",
                        self.path)
            return
        try:
            while not self.stopped.wait(self.interval):
                if self.engine_ref() is None:
                    break
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # a locked or vanished file: try again later
                    log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
        finally:
            conn.close()
            self.stopped.set()


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def problem_response(body: dict, status: int):
    from flask import current_app

    return current_app.response_class(dumps(body), status=status,
                                      mimetype="application/problem+json")


def render_error(err: AppError):
    if wants_json():
        return problem_response(err.to_problem(), err.status)
    return render_template("error.html", error=err), err.status


def install(app: Flask) -> None:
    app.json = OrjsonProvider(app)

    @app.before_request
    def _intent():
        request.environ["dealerflow.t0"] = time.perf_counter()
        view = current_app.view_functions.get(request.endpoint)
        write_intent.set(request.method not in SAFE_METHODS
                         or getattr(view, "writes_on_read", False))

    @app.after_request
    def _server_ms(response):
        """X-Server-Ms: the request's time in the application (handler and commit), in ms.

        Registered before ``_commit`` so that it runs after it (Flask runs them in reverse).
        """
        started = request.environ.get("dealerflow.t0")
        if started is not None:
            response.headers["X-Server-Ms"] = f"{(time.perf_counter() - started) * 1000:.3f}"
        return response

    @app.after_request
    def _commit(response):
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except (IntegrityError, OperationalError) as exc:
            db.session.rollback()
            app.logger.warning("commit failed: %s", exc)
            return render_error(Conflict("The change conflicts with another one; try again"))
        return response

    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        db.session.rollback()
        return render_error(err)

    @app.errorhandler(ValidationError)
    def _marshmallow(err: ValidationError):
        from app.core.errors import ValidationFailed

        db.session.rollback()
        messages = err.messages if isinstance(err.messages, dict) else {"_": err.messages}
        return render_error(ValidationFailed(messages))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return render_error(AppError("Internal error; it has been logged", code="internal",
                                     status=500))


def _http_error(err: HTTPException):
    from app.core.errors import ValidationFailed

    db.session.rollback()
    if err.code == 422 and hasattr(err, "data"):
        msgs = err.data.get("messages", {})
        flat = {}
        for location in msgs.values():
            flat.update(location if isinstance(location, dict) else {"_": location})
        return render_error(ValidationFailed(flat or msgs))
    wrapped = AppError(err.description or err.name, code=err.name.lower().replace(" ", "_"),
                       status=err.code)
    return render_error(wrapped)


def install_late(app: Flask) -> None:
    """Register handlers that must win over those extensions (flask-smorest) install."""
    app.register_error_handler(HTTPException, _http_error)
