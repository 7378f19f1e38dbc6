"""Core statements on the hot paths: built once, run on the session's connection.

Building a statement per call and sending it through the ORM session costs several times
what SQLite needs to run it; a prepared statement with bound values runs in tens of µs and
stays in the request's transaction.

``prepared(stmt)`` goes one step further for the statements every request runs (bearer
token, audit append, task and instance updates): the Core statement is compiled once per
dialect into its SQL string, and each call sends that string with the bound values straight
to the DBAPI cursor of the session's connection — the same transaction, no per-call
compilation or result machinery. Bound and result values go through the column types'
processors, so the statements behave the same on SQLite and PostgreSQL.
"""

from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Table, bindparam, event, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from app.extensions import db

_UNSET = object()


class _Plan:
    """One statement compiled for one dialect."""

    __slots__ = ("sql", "names", "positional", "defaults", "bind_procs", "row", "result_procs",
                 "_dialect", "_result_types")

    def __init__(self, stmt, dialect):
        compiled = stmt.compile(dialect=dialect)
        required = [k for k, b in compiled.binds.items() if b.required]
        state = compiled.construct_expanded_state({k: None for k in required})
        if any(getattr(compiled.binds.get(k), "expanding", False) for k in required):
            raise ValueError("prepared statements take no expanding (IN list) parameters")
        self.sql = state.statement
        self.positional = bool(compiled.positional)
        self.names = list(state.positiontup) if self.positional else list(state.parameters)
        self.defaults = {k: v for k, v in state.parameters.items() if k not in required}
        procs = {}
        for key, bind in compiled.binds.items():
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                procs[key] = proc
        self.bind_procs = procs
        columns = list(getattr(stmt, "exported_columns", None) or [])
        self.row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
        self._dialect = dialect
        self._result_types = [c.type.dialect_impl(dialect) for c in columns]
        self.result_procs = _UNSET  # from the first result's cursor.description (type codes)

    def values(self, params: dict | None):
        merged = {**self.defaults, **(params or {})}
        for key, proc in self.bind_procs.items():
            if key in merged and merged[key] is not None:
                merged[key] = proc(merged[key])
        if self.positional:
            return tuple([merged[k] for k in self.names])
        return {k: merged[k] for k in self.names}

    def _procs_for(self, cursor):
        """The columns' result processors; some drivers (psycopg) need the column type codes."""
        codes = [d[1] for d in cursor.description] if cursor.description else \
            [None] * len(self._result_types)
        procs = [t.result_processor(self._dialect, code)
                 for t, code in zip(self._result_types, codes, strict=True)]
        self.result_procs = procs if any(procs) else None
        return self.result_procs

    def make_row(self, raw, cursor=None):
        if self.result_procs is _UNSET:
            self._procs_for(cursor)
        if self.result_procs is not None:
            raw = [p(v) if p is not None else v for p, v in zip(self.result_procs, raw, strict=True)]
        return self.row._make(raw)


class RawResult:
    """The few things callers read from a result: rows, scalars, the row count."""

    __slots__ = ("_plan", "_cursor", "rowcount")

    def __init__(self, plan: _Plan, cursor):
        self._plan, self._cursor, self.rowcount = plan, cursor, cursor.rowcount

    def all(self) -> list:
        if self._plan.row is None:
            return []
        return [self._plan.make_row(r, self._cursor) for r in self._cursor.fetchall()]

    def first(self):
        if self._plan.row is None:
            return None
        raw = self._cursor.fetchone()
        return None if raw is None else self._plan.make_row(raw, self._cursor)

    def scalar(self):
        row = self.first()
        return None if row is None else row[0]

    def scalar_one(self):
        row = self.first()
        if row is None:
            raise LookupError("statement returned no row")
        return row[0]

    def scalars(self) -> list:
        return [r[0] for r in self.all()]

    def mappings(self) -> list[dict]:
        return [r._asdict() for r in self.all()]


# Statements sent by ``Prepared.run`` (they bypass SQLAlchemy's cursor events); the
# profiling bench adds this to the events it counts.
sent = {"statements": 0}


class Prepared:
    """A Core statement compiled once per dialect, run on the session's DBAPI cursor."""

    def __init__(self, stmt):
        self.stmt = stmt
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self.stmt, dialect)
        return plan

    def run(self, params=None) -> RawResult:
        dialect, dbapi_conn = _connection()
        plan = self.plan(dialect)
        cursor = dbapi_conn.cursor()
        sent["statements"] += 1
        if isinstance(params, list):
            cursor.executemany(plan.sql, [plan.values(p) for p in params])
        else:
            cursor.execute(plan.sql, plan.values(params))
        return RawResult(plan, cursor)


_RAW = "dealerflow.raw_connection"


def _connection():
    """(dialect, DBAPI connection) of the session's transaction, looked up once per transaction.

    ``Session.connection()`` walks the session's transaction machinery on every call; the
    hot paths run a dozen statements per request, so the pair is kept in ``session.info``
    until the transaction ends (commit, rollback or close forget it).
    """
    session = db.session()
    cached = session.info.get(_RAW)
    if cached is None:
        conn = session.connection()
        cached = session.info[_RAW] = (conn.dialect, conn.connection.dbapi_connection)
    return cached


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session, _transaction) -> None:
    session.info.pop(_RAW, None)


def prepared(stmt) -> Prepared:
    return Prepared(stmt)


def execute(stmt, params=None):
    """Run a Core statement in the current transaction, bypassing the ORM layer."""
    if isinstance(stmt, Prepared):
        return stmt.run(params)
    return db.session.connection().execute(stmt, params)


def adopt(model, values: dict):
    """The ORM object of a row read with a prepared statement, persistent in the session.

    ``values`` holds every mapped column. No SQL is run; an object already in the session's
    identity map wins (as with ``Session.get``). The identity map holds objects weakly: keep
    a reference for as long as later ``Session.get`` calls should find this one.

    The object is built as the ORM's own loader builds one (a new instance whose attribute
    dictionary is filled in one go), not through the constructor, which would run an
    attribute event per column.
    """
    session = db.session()
    existing = session.identity_map.get(session.identity_key(model, values["id"]))
    if existing is not None:
        return existing
    obj = sa_inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def guarded_update(table: Table, where: tuple[str, ...], fields: tuple[str, ...]) -> Prepared:
    """``UPDATE table SET fields WHERE where`` with bound values ``w_<col>`` / ``s_<col>``.

    A ``where`` column given as ``col IS NULL`` is matched literally.
    """
    conditions = []
    for name in where:
        if name.endswith(" IS NULL"):
            conditions.append(table.c[name[:-8]].is_(None))
        else:
            conditions.append(table.c[name] == bindparam(f"w_{name}"))
    return prepared(update(table).where(*conditions)
                    .values({f: bindparam(f"s_{f}") for f in fields}))


def bind(prefix: str, values: dict) -> dict:
    return {f"{prefix}_{k}": v for k, v in values.items()}


@contextmanager
def holding(var: ContextVar) -> Iterator[list]:
    """Set ``var`` to a new list for the block (this thread) and yield it.

    A writer that finds a list in its ``var`` appends its row there instead of writing it;
    the caller then writes the held rows in one statement, in the same transaction (the
    worker applies a batch of job results so). Rows of a block that raises are dropped with
    the list, like the writes the caller rolls back.
    """
    held: list = []
    token = var.set(held)
    try:
        yield held
    finally:
        var.reset(token)
