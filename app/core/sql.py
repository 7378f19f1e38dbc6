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

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import make_transient_to_detached

from app.extensions import db


class _Plan:
    """One statement compiled for one dialect."""

    __slots__ = ("sql", "names", "positional", "defaults", "bind_procs", "row", "result_procs")

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
        self.result_procs = [_result_processor(c.type, dialect) for c in columns]
        if not any(self.result_procs):
            self.result_procs = None

    def values(self, params: dict | None):
        merged = {**self.defaults, **(params or {})}
        for key, proc in self.bind_procs.items():
            if key in merged and merged[key] is not None:
                merged[key] = proc(merged[key])
        if self.positional:
            return tuple(merged[k] for k in self.names)
        return {k: merged[k] for k in self.names}

    def make_row(self, raw):
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
        return [self._plan.make_row(r) for r in self._cursor.fetchall()]

    def first(self):
        if self._plan.row is None:
            return None
        raw = self._cursor.fetchone()
        return None if raw is None else self._plan.make_row(raw)

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
        conn = db.session.connection()
        plan = self.plan(conn.dialect)
        cursor = conn.connection.cursor()
        sent["statements"] += 1
        if isinstance(params, list):
            cursor.executemany(plan.sql, [plan.values(p) for p in params])
        else:
            cursor.execute(plan.sql, plan.values(params))
        return RawResult(plan, cursor)


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
    """
    session = db.session
    existing = session.identity_map.get(session.identity_key(model, values["id"]))
    if existing is not None:
        return existing
    obj = model(**values)
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


PG_NUMERIC_OID = 1700


def _result_processor(type_, dialect):
    """The type's result processor; psycopg's Numeric needs the column's type OID (numeric)."""
    impl = type_.dialect_impl(dialect)
    try:
        return impl.result_processor(dialect, None)
    except TypeError:
        return impl.result_processor(dialect, PG_NUMERIC_OID)
