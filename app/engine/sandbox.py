"""Sandboxed script environment for BPMN scripts and conditions.

Replaces SpiffWorkflow's ``TaskDataEnvironment`` (plain ``eval``/``exec``
with full builtins) by RestrictedPython. Script tasks and gateway conditions
see the task data as variables, exactly as with ``TaskDataEnvironment``;
``execute`` writes assigned variables back into the task data and then strips
everything that is not data (builtins, helpers, guards, functions, modules).

Helpers available to every script and condition:

- ``Decimal``    -- ``decimal.Decimal``; use it for money (``Decimal('9.99')``).
- ``date``       -- ``datetime.date``.
- ``datetime``   -- ``datetime.datetime``.
- ``timedelta``  -- ``datetime.timedelta``.
- ``now()``      -- current UTC time as a naive ``datetime``.
- ``today()``    -- current UTC date as a ``date``.

Extra helpers: ``SandboxEnvironment(helpers={...})``. Helper names are
reserved: task data using one makes a script task fail fast (SpiffWorkflow's
``check_for_overwrite`` rule); conditions let the data value win.

Builtins: RestrictedPython's ``safe_builtins`` (minus ``setattr``/``delattr``
and ``BaseException``-only classes) plus ``_EXTRA_BUILTINS`` (min, max, sum,
len, round, abs, sorted, any, all, enumerate, range, zip, dict, list, set,
tuple, str, int, float, bool, isinstance, map, filter, reversed).

Compile-time rules (``check_script``/``check_expression`` at deploy time,
and again before every run; each error reads ``Line N: ...``):

- no ``import`` / ``from ... import``, no ``class`` definitions;
- no names or attributes starting with ``_`` (a lone ``_`` is allowed);
- no ``FORBIDDEN_NAMES`` (``open``, ``eval``, ``getattr``, ``type``, ...),
  read or assigned -- a data field named e.g. ``type`` is unusable;
- no ``.format()``/``.format_map()`` (use f-strings), no ``.mro``;
  ``print(...)`` is allowed but its output is discarded;
- ``x += 1`` works on names only: ``d['k'] += 1`` is rejected by
  RestrictedPython (write ``d['k'] = d['k'] + 1``).

Run time is bounded: ``_tick_()`` is injected into every loop body,
comprehension, function and lambda and raises ``ScriptTimeout`` once the
per-call deadline (``timeout_seconds``) or iteration budget
(``max_iterations``) is used up. A single long C-level operation
(``10 ** 10 ** 9``, ``sum(range(10 ** 12))``) is not interrupted.
Compiled code is cached by source text (``COMPILE_CACHE_SIZE`` entries).
"""

from __future__ import annotations

import ast
import functools
import importlib
import keyword
import operator
import time
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from RestrictedPython import (
    PrintCollector,
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    safe_builtins,
)
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import copy_locations
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

__all__ = [
    "DEFAULT_HELPERS", "FORBIDDEN_NAMES", "SandboxEnvironment", "ScriptRejected",
    "ScriptTimeout", "check_expression", "check_script",
]

# Must stay '<string>': SpiffWorkflow finds the failing line via this name.
SCRIPT_FILENAME = "<string>"
TICK_NAME = "_tick_"
COMPILE_CACHE_SIZE = 2048

FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "globals", "locals",
    "vars", "input", "breakpoint", "exit", "quit", "getattr", "setattr",
    "delattr", "type", "object", "super", "memoryview", "help", "dir",
    "classmethod", "staticmethod", "property",
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
})

# ``mro`` would hand out BaseException/object (e.g. ``Exception.mro()``).
_DENIED_ATTRIBUTES = frozenset({"mro"})
# str.format() bypasses _getattr_; safer_getattr blocks it, we fail earlier.
_FORMAT_ATTRIBUTES = frozenset({"format", "format_map"})

_EXTRA_BUILTINS = (
    min, max, sum, len, round, abs, sorted, any, all, enumerate, range, zip, dict,
    list, set, tuple, str, int, float, bool, isinstance, map, filter, reversed,
)
_DROPPED_BUILTINS = frozenset({
    "setattr", "delattr", "_getattr_", "__build_class__",
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
})

_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})

_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
    "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
    "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
    "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "@=": operator.imatmul,
}


class ScriptRejected(Exception):  # noqa: N818 - name is part of the API
    """A script or expression failed the sandbox's compile-time checks."""

    def __init__(self, message: str, errors: Sequence[str] | None = None):
        super().__init__(message)
        self.errors = list(errors) if errors else [message]


class ServiceCallRefused(RuntimeError):
    """A service call reached the script environment; only the job worker may call out."""


class ScriptTimeout(Exception):  # noqa: N818 - name is part of the API
    """A script or expression exceeded its time or iteration budget."""


def now() -> datetime:
    """Current UTC time as a naive datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Current UTC date."""
    return datetime.now(UTC).date()


DEFAULT_HELPERS: Mapping[str, Any] = types.MappingProxyType({
    "Decimal": Decimal, "date": date, "datetime": datetime,
    "timedelta": timedelta, "now": now, "today": today,
})


# --- Compile-time policy ---

def _tick_call(anchor: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(TICK_NAME, ast.Load()), args=[], keywords=[])
    copy_locations(call.func, anchor)
    copy_locations(call, anchor)
    return call


def _tick_stmt(anchor: ast.AST) -> ast.Expr:
    stmt = ast.Expr(_tick_call(anchor))
    copy_locations(stmt, anchor)
    return stmt


def _rejecting(message: str) -> Callable[[Any, ast.AST], ast.AST]:
    def visit(self: RestrictingNodeTransformer, node: ast.AST) -> ast.AST:
        self.error(node, message)
        return node

    return visit


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython policy: no imports/classes, forbidden names, ticks."""

    def check_name(self, node, name, allow_magic_methods=False):
        super().check_name(node, name, allow_magic_methods)
        if name in FORBIDDEN_NAMES:
            self.error(node, f'"{name}" is not allowed in scripts.')

    def visit_Attribute(self, node):  # noqa: N802 - ast visitor API
        if node.attr in _DENIED_ATTRIBUTES:
            self.error(node, f'"{node.attr}" is not accessible in scripts.')
        elif node.attr in _FORMAT_ATTRIBUTES:
            self.error(node, f'"{node.attr}()" is not allowed; use an f-string.')
        return super().visit_Attribute(node)

    visit_Import = _rejecting("import statements are not allowed.")  # noqa: N815
    visit_ImportFrom = visit_Import  # noqa: N815
    visit_ClassDef = _rejecting("class definitions are not allowed.")  # noqa: N815

    def visit_For(self, node):  # noqa: N802 - ast visitor API
        node = super().visit_For(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_While(self, node):  # noqa: N802 - ast visitor API
        node = super().visit_While(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_FunctionDef(self, node):  # noqa: N802 - ast visitor API
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_Lambda(self, node):  # noqa: N802 - ast visitor API
        node = super().visit_Lambda(node)
        body = ast.BoolOp(op=ast.And(), values=[_tick_call(node.body), node.body])
        copy_locations(body, node.body)
        node.body = body
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        # comprehension nodes carry no position; anchor on the iterable.
        node.ifs.insert(0, _tick_call(node.iter))
        return node


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def _compile(source: str, mode: str) -> tuple[types.CodeType | None, tuple[str, ...]]:
    """Compile restricted code; cached by (source, mode), errors included."""
    if mode == "eval":  # BPMN editors often wrap conditions in whitespace
        source = source.strip()
        if not source:
            return None, ("Line 1: expression is empty.",)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, filename=SCRIPT_FILENAME, policy=SandboxPolicy)
    return result.code, tuple(result.errors)


def _compiled(source: str, mode: str) -> types.CodeType:
    code, errors = _compile(source, mode)
    if errors:
        kind = "Expression" if mode == "eval" else "Script"
        raise ScriptRejected(f"{kind} rejected: " + "; ".join(errors), errors)
    return code


def check_script(source: str) -> list[str]:
    """Deploy-time check of a script task body; empty list when fine."""
    return list(_compile(source, "exec")[1])


def check_expression(source: str) -> list[str]:
    """Deploy-time check of a condition/expression; empty list when fine."""
    return list(_compile(source, "eval")[1])


# --- Run-time guards ---

def _guarded_getattr(obj: Any, name: str) -> Any:
    """``safer_getattr`` that also raises AttributeError for missing names."""
    if name in _DENIED_ATTRIBUTES:
        raise AttributeError(f'"{name}" is not accessible in scripts.')
    return safer_getattr_raise(obj, name)


def _inplace_var(op: str, target: Any, value: Any) -> Any:
    if op not in _INPLACE_OPERATORS:
        raise ValueError(f"Unsupported in-place operator {op!r}")
    return _INPLACE_OPERATORS[op](target, value)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _internal_import(name, globals_=None, locals_=None, fromlist=(), level=0):
    """``__import__`` for C code only: datetime.strftime/strptime import
    ``time``/``_strptime`` through the caller's builtins. Scripts cannot
    reach this (``import`` and ``_`` names are rejected at compile time)."""
    if level == 0 and name in _INTERNAL_IMPORTS:
        return importlib.import_module(name)
    raise ImportError(f"import of {name!r} is not allowed in scripts")


def _build_builtins() -> dict[str, Any]:
    builtins = {k: v for k, v in safe_builtins.items() if k not in _DROPPED_BUILTINS}
    builtins.update({func.__name__: func for func in _EXTRA_BUILTINS})
    builtins["__import__"] = _internal_import
    return builtins


def _build_guards() -> dict[str, Any]:
    return {
        "__builtins__": _build_builtins(),
        "_getattr_": _guarded_getattr,
        "_getitem_": operator.getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplace_var,
        "_apply_": _apply,
        "_print_": PrintCollector,
    }


_GUARDS = types.MappingProxyType(_build_guards())
# Added to a script's namespace (``_print`` by print support); stripped after.
RUNTIME_NAMES = frozenset(_GUARDS) | {TICK_NAME, "_print"}


def _make_ticker(timeout_seconds: float, max_iterations: int) -> Callable[[], bool]:
    """Fresh per-call guard; once exhausted it keeps raising."""
    deadline = time.monotonic() + timeout_seconds
    count = 0

    def tick() -> bool:
        nonlocal count
        count += 1
        if count > max_iterations:
            raise ScriptTimeout(f"Script exceeded {max_iterations} iterations")
        if time.monotonic() > deadline:
            raise ScriptTimeout(f"Script exceeded its {timeout_seconds}s time limit")
        return True

    return tick


def _validate_helpers(helpers: Mapping[str, Any]) -> dict[str, Any]:
    for name in helpers:
        if (not name.isidentifier() or keyword.iskeyword(name)
                or name.startswith("_") or name in FORBIDDEN_NAMES):
            raise ValueError(f"Invalid helper name {name!r}")
    return dict(helpers)


# --- Environment ---

class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Drop-in replacement for SpiffWorkflow's TaskDataEnvironment.

    Thread-safe: the instance is read-only after construction and every
    call gets its own namespace and tick guard.
    """

    def __init__(
        self,
        helpers: Mapping[str, Any] | None = None,
        timeout_seconds: float = 1.0,
        max_iterations: int = 1_000_000,
    ):
        super().__init__({**DEFAULT_HELPERS, **_validate_helpers(helpers or {})})
        self.timeout_seconds = timeout_seconds
        self.max_iterations = max_iterations

    def evaluate(self, expression, context, external_context=None):
        code = _compiled(expression, "eval")
        scope = {**self.globals, **(external_context or {}), **context}
        self._install_runtime(scope)
        return eval(code, scope)  # noqa: S307 - RestrictedPython code object

    def execute(self, script, context, external_context=None):
        external = external_context or {}
        self.check_for_overwrite(context, external)
        code = _compiled(script, "exec")
        context.update(self.globals)
        context.update(external)
        self._install_runtime(context)
        try:
            exec(code, context)  # noqa: S102 - RestrictedPython code object
        finally:
            self._remove_globals_and_functions_from_context(context, external)
        return True

    def call_service(self, context, **kwargs):
        """Refuse: service tasks become jobs and run through the connector registry."""
        raise ServiceCallRefused(
            "Service tasks are not run by the script sandbox; "
            "they are dispatched by the connector layer."
        )

    def _install_runtime(self, namespace: dict[str, Any]) -> None:
        namespace.update(_GUARDS)
        namespace[TICK_NAME] = _make_ticker(self.timeout_seconds, self.max_iterations)

    def _remove_globals_and_functions_from_context(
        self, context, external_context=None
    ):
        """Strip builtins, guards, helpers, functions and modules after exec."""
        external = external_context or {}
        for key in list(context):
            value = context[key]
            if (key in RUNTIME_NAMES or key in self.globals or key in external
                    or callable(value) or isinstance(value, types.ModuleType)):
                context.pop(key)

    def check_for_overwrite(self, context, external_context):
        """Fail fast when task data shadows a helper or a sandbox name."""
        reserved = set(self.globals) | set(external_context) | RUNTIME_NAMES
        clashes = reserved.intersection(context)
        if clashes:
            raise ValueError(
                "You have task data that overwrites a predefined function(s). "
                "Please change the following variable or field name(s) to "
                f"something else: {sorted(clashes)}"
            )
