"""Wake idle workers the moment a job is queued: PostgreSQL ``LISTEN``/``NOTIFY``.

A transaction that queues a job due now (a service task reached, an incident retried) calls
``announce()``: on PostgreSQL that issues ``NOTIFY dealerflow_jobs`` in the same transaction, so
the notification is delivered when (and only if) the transaction commits, once per transaction
however many jobs it queued. ``flask worker`` keeps one extra connection that ``LISTEN``s on the
channel (``Listener``) and runs its poll right away instead of waiting for the next
``WORKER_POLL_SECONDS``; the poll stays as the fallback (jobs retried after a backoff, a lost
connection, a notification that arrived while the worker was finishing a round). SQLite has no
notifications: its workers keep polling.
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

CHANNEL = "dealerflow_jobs"
_ANNOUNCED = "dealerflow_jobs_announced"
_NOTIFY = text("SELECT pg_notify(:channel, '')")


def announce() -> None:
    """Tell listening workers, at commit, that a job is due (PostgreSQL; a no-op on SQLite)."""
    session = db.session
    if session.info.get(_ANNOUNCED) or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(_NOTIFY, {"channel": CHANNEL})
    session.info[_ANNOUNCED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    # The notification went out with the commit, or was discarded with the rollback.
    if transaction.parent is None:
        session.info.pop(_ANNOUNCED, None)


def listen_url(url: URL) -> str | None:
    """A libpq connection string for the database at ``url`` (None unless PostgreSQL)."""
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """A daemon thread that calls ``on_wake()`` for every notification on ``CHANNEL``.

    It also calls it right after (re)connecting, so jobs queued while it was not listening are
    not left to the poll. A lost connection is retried every ``retry_seconds``.
    """

    def __init__(self, conninfo: str, on_wake: Callable[[], None], retry_seconds: float = 5.0):
        self.conninfo, self.on_wake, self.retry_seconds = conninfo, on_wake, retry_seconds
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-listener", daemon=True)

    def start(self) -> "Listener":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True,
                                     application_name="dealerflow-worker-listen") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.on_wake()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.on_wake()
            except Exception:  # noqa: BLE001 - keep listening after a lost connection
                self.listening.clear()
                log.warning("job listener: connection lost; retrying in %ss (polling meanwhile)",
                            self.retry_seconds, exc_info=True)
                self._stop.wait(self.retry_seconds)
        self.listening.clear()
