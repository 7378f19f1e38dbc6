"""Workflow state ⇄ JSON: Decimal and date aware, and slim (the spec is never stored).

The instance row points at its process version; the spec is re-attached from the in-memory
spec cache on load, which halves the stored state and its (de)serialization time.
"""

import contextvars
import math
from datetime import date
from decimal import Decimal
from enum import Enum
from types import ModuleType
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import (
    ServiceTaskConverter,
    SpiffBpmnTaskConverter,
)
from SpiffWorkflow.task import Task

from app.engine.specs import PlatformNoneTask, PlatformServiceTask, PlatformWorkflow

_specs_for_load: contextvars.ContextVar = contextvars.ContextVar("dealerflow_specs")


class SlimWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = _specs_for_load.get()
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class LeanTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, written for speed: the same dictionary (every state
    save writes one per task), without looking the parent up twice or calling helpers per
    task. Reading it back is SpiffWorkflow's own ``from_dict``."""

    def to_dict(self, task):
        parent_id = task._parent
        parent = task.workflow.tasks.get(parent_id) if parent_id is not None else None
        if parent is None:
            data, delta = task.data, {}
        else:
            before, after = parent.data, task.data
            data = {}
            delta = {"updates": {k: v for k, v in after.items()
                                 if k not in before or v != before[k]},
                     "deletions": [k for k in before if k not in after]}
        return {"id": str(task.id), "parent": str(parent_id) if parent is not None else None,
                "children": [str(child) for child in task._children],
                "last_state_change": task.last_state_change, "state": task._state,
                "task_spec": task.task_spec.name, "triggered": task.triggered,
                "internal_data": self.registry.convert(task.internal_data),
                "data": data, "delta": delta}


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[PlatformServiceTask] = ServiceTaskConverter
    config[PlatformNoneTask] = SpiffBpmnTaskConverter
    config.pop(BpmnWorkflow, None)
    config[PlatformWorkflow] = SlimWorkflowConverter
    config[Task] = LeanTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]),
                      "Decimal")
    registry.register(date, lambda v: {"value": v.isoformat()},
                      lambda d: date.fromisoformat(d["value"]), "date")
    return BpmnWorkflowSerializer(registry)


serializer = _build_serializer()


class _Unusual(Exception):
    """A value the fast encoder leaves to the standard one (same output either way)."""


_TYPENAMES = serializer.registry.typenames
_TO_DICT = serializer.registry.convert_to_dict
_FAST_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                 | orjson.OPT_PASSTHROUGH_SUBCLASS)


def _default(value):
    """SpiffWorkflow's encoder ``default`` for what orjson does not write natively."""
    typename = _TYPENAMES.get(type(value))
    if typename is not None:
        return _TO_DICT[typename](value)
    if isinstance(value, str | int | float | dict | list | tuple):
        raise _Unusual  # a subclass: the standard encoder writes it its own way
    if callable(value) or isinstance(value, ModuleType):
        return None
    if isinstance(value, set):
        return list(value)
    raise _Unusual


def _screen(value) -> None:
    """Raise ``_Unusual`` for what orjson would write differently from the standard encoder
    without calling ``_default``: UUIDs (a string, not a typed dict), enum members (their
    value) and NaN or infinities (null)."""
    kind = type(value)
    if kind is dict:
        for item in value.values():
            if type(item) not in _SIMPLE:
                _screen(item)
    elif kind is list or kind is tuple or kind is set:
        for item in value:
            if type(item) not in _SIMPLE:
                _screen(item)
    elif kind is float:
        if not math.isfinite(value):
            raise _Unusual
    elif kind is UUID or isinstance(value, Enum):
        raise _Unusual


_SIMPLE = frozenset((str, int, bool, type(None)))


def _screen_workflow(dct: dict) -> None:
    """Screen the parts of a workflow dictionary that hold process data (the rest is
    strings, numbers and ids written by SpiffWorkflow's converters)."""
    _screen(dct.get("data"))
    _screen(dct.get("correlations"))
    _screen(dct.get("bpmn_events"))
    for task in dct["tasks"].values():
        _screen(task["data"])
        _screen(task["delta"])
        _screen(task["internal_data"])
    for sub in (dct.get("subprocesses") or {}).values():
        _screen_workflow(sub)


def dump_workflow(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON (what ``serializer.serialize_json`` writes, faster).

    The dictionary is SpiffWorkflow's own (``to_dict`` in encoder mode, as
    ``serialize_json`` builds it); only the encoding differs: orjson with SpiffWorkflow's
    ``default`` instead of ``json.dumps``. Values the two could write differently send the
    state through the standard encoder instead.
    """
    registry = serializer.registry
    registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    dct[serializer.VERSION_KEY] = serializer.VERSION
    try:
        _screen_workflow(dct)
        return orjson.dumps(dct, default=_default, option=_FAST_OPTIONS).decode()
    except (_Unusual, orjson.JSONEncodeError):  # also: an int beyond 64 bits, odd keys
        return serializer.serialize_json(workflow)


def load_workflow(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    token = _specs_for_load.set((spec, subprocess_specs))
    try:
        return serializer.deserialize_json(state)
    finally:
        _specs_for_load.reset(token)
