"""Workflow state ⇄ JSON: Decimal and date aware, and slim (the spec is never stored).

The instance row points at its process version; the spec is re-attached from the in-memory
spec cache on load, which halves the stored state and its (de)serialization time.
"""

import contextvars
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import (
    ServiceTaskConverter,
    SpiffBpmnTaskConverter,
)

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


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[PlatformServiceTask] = ServiceTaskConverter
    config[PlatformNoneTask] = SpiffBpmnTaskConverter
    config.pop(BpmnWorkflow, None)
    config[PlatformWorkflow] = SlimWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]),
                      "Decimal")
    registry.register(date, lambda v: {"value": v.isoformat()},
                      lambda d: date.fromisoformat(d["value"]), "date")
    return BpmnWorkflowSerializer(registry)


serializer = _build_serializer()


def dump_workflow(workflow: BpmnWorkflow) -> str:
    return serializer.serialize_json(workflow)


def load_workflow(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    token = _specs_for_load.set((spec, subprocess_specs))
    try:
        return serializer.deserialize_json(state)
    finally:
        _specs_for_load.reset(token)
