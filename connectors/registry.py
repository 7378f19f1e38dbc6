"""The connector registry: every operation a BPMN service task may name.

An operation has a name (``dealers.archive``, ``erp.create_customer``), a marshmallow schema for
its parameters, and a function ``fn(params: dict, ctx: CallContext) -> dict``. ``internal``
operations write this platform's own database and run inside the job's transaction (so they
apply exactly once); external ones run outside it and must honour ``ctx.idempotency_key``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ConnectorError(Exception):
    """A technical failure (timeout, refused connection, fault): the job retries."""


class BusinessError(Exception):
    """A business rejection (e.g. a BAPI RETURN row of type E): raised as a BPMN error event."""

    def __init__(self, code: str, message: str, payload: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.payload = payload or {}


class ConnectorUnavailable(ConnectorError):
    """The connector cannot run on this installation (e.g. pyrfc missing)."""


@dataclass
class CallContext:
    idempotency_key: str
    instance_id: int
    actor: str = "worker"
    extra: dict = field(default_factory=dict)


@dataclass
class Operation:
    name: str
    fn: Callable[[dict, CallContext], dict]
    schema: Any = None  # marshmallow Schema class for the parameters
    internal: bool = False
    description: str = ""

    def required_params(self) -> set[str]:
        if self.schema is None:
            return set()
        return {n for n, f in self.schema().fields.items() if f.required}

    def known_params(self) -> set[str] | None:
        if self.schema is None:
            return None
        return set(self.schema().fields)

    def load_params(self, params: dict) -> dict:
        if self.schema is None:
            return params
        return self.schema().load(params)


class Registry:
    def __init__(self) -> None:
        self._ops: dict[str, Operation] = {}

    def register(self, name: str, *, schema=None, internal: bool = False, description: str = ""):
        def deco(fn):
            self._ops[name] = Operation(name, fn, schema, internal, description)
            return fn
        return deco

    def get(self, name: str) -> Operation | None:
        return self._ops.get(name)

    def names(self) -> list[str]:
        return sorted(self._ops)


registry = Registry()
