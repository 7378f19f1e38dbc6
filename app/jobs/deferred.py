"""Inserts that a remote call hands to the worker instead of writing them itself.

The worker runs remote connector calls in a thread pool and keeps every database write on its
own thread, in the transaction that applies the call's result (or records its failure). A
connector adapter that logs each call (the ERP message log) asks ``defer_insert`` first; inside
a worker call the row is queued and written by the worker, anywhere else the adapter writes it
itself as before. One multi-row insert in an existing transaction replaces one transaction per
call, and the pool's threads never compete for SQLite's single writer.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Table, insert

from app.extensions import db

_pending: ContextVar[list | None] = ContextVar("deferred_inserts", default=None)


@contextmanager
def collect() -> Iterator[list[tuple[Table, dict]]]:
    """Queue ``defer_insert`` rows made in this block (this thread) in the yielded list."""
    rows: list[tuple[Table, dict]] = []
    token = _pending.set(rows)
    try:
        yield rows
    finally:
        _pending.reset(token)


def defer_insert(table: Table, values: dict) -> bool:
    """Queue one row for the worker; False when no worker call is collecting (write it now)."""
    rows = _pending.get()
    if rows is None:
        return False
    rows.append((table, values))
    return True


def write(rows: list[tuple[Table, dict]]) -> None:
    """Insert queued rows in the current transaction (one statement per table)."""
    by_table: dict[Table, list[dict]] = {}
    for table, values in rows:
        by_table.setdefault(table, []).append(values)
    connection = db.session.connection()
    for table, values in by_table.items():
        connection.execute(insert(table), values)
