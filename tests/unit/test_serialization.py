"""Workflow state round-trips Decimal and date, and stays slim (no spec inside)."""

from datetime import date
from decimal import Decimal

import orjson

from app.engine.parsing import build_specs, parse_bundle
from app.engine.runtime import CompiledProcess, new_workflow, ready_human_tasks
from app.engine.serialization import dump_workflow, load_workflow

BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
<bpmn:process id="p" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="fill"/><bpmn:userTask id="check"/>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
  <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="check"/>
  <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_decimal_and_date_survive_and_state_has_no_spec():
    spec, subs = build_specs(parse_bundle({"p.bpmn": BPMN}), "p")
    workflow = new_workflow(CompiledProcess("p", spec, subs))
    workflow.do_engine_steps()
    [fill] = ready_human_tasks(workflow)
    fill.set_data(limit=Decimal("500000.01"), opened=date(2026, 11, 28), rows=[{"q": Decimal("2")}])
    fill.run()
    workflow.do_engine_steps()

    state = dump_workflow(workflow)
    assert "spec" not in orjson.loads(state)  # the spec is re-attached from the cache
    restored = load_workflow(state, spec, subs)
    [check] = ready_human_tasks(restored)
    assert check.task_spec.bpmn_id == "check"
    assert check.data["limit"] == Decimal("500000.01") and isinstance(check.data["limit"], Decimal)
    assert check.data["opened"] == date(2026, 11, 28)
    assert check.data["rows"][0]["q"] == Decimal("2")


def _workflow_with(data: dict):
    spec, subs = build_specs(parse_bundle({"p.bpmn": BPMN}), "p")
    workflow = new_workflow(CompiledProcess("p", spec, subs))
    workflow.do_engine_steps()
    [fill] = ready_human_tasks(workflow)
    fill.set_data(**data)
    fill.run()
    workflow.do_engine_steps()
    return workflow, spec, subs


def test_fast_encoding_writes_what_spiffworkflow_writes():
    from datetime import datetime, timedelta

    from app.engine.serialization import serializer

    workflow, spec, subs = _workflow_with({
        "limit": Decimal("1.10"), "when": datetime(2026, 11, 28, 9, 30), "day": date(2026, 1, 2),
        "wait": timedelta(hours=3), "tags": {"a"}, "rows": [{"q": Decimal("2"), "n": 1.5}],
        "nested": {"deep": [1, "two", None, True]}, "fn": len})
    fast, standard = dump_workflow(workflow), serializer.serialize_json(workflow)
    assert orjson.loads(fast) == orjson.loads(standard)
    [check] = ready_human_tasks(load_workflow(fast, spec, subs))
    assert check.data["when"] == datetime(2026, 11, 28, 9, 30)
    assert check.data["wait"] == timedelta(hours=3) and check.data["fn"] is None
    assert check.data["rows"][0]["q"] == Decimal("2") and check.data["tags"] == ["a"]


def test_values_orjson_would_write_differently_take_the_standard_encoder():
    """A UUID (orjson: a bare string), NaN (orjson: null), a str subclass, an int key and an
    int beyond 64 bits are written exactly as SpiffWorkflow's own encoder writes them."""
    import enum
    from uuid import UUID

    from app.engine.serialization import serializer

    class Colour(enum.StrEnum):
        RED = "red"

    ident = UUID("12345678-1234-5678-1234-567812345678")
    for value in (ident, float("nan"), Colour.RED, {1: "x"}, 2 ** 70):
        workflow, spec, subs = _workflow_with({"value": value})
        assert dump_workflow(workflow) == serializer.serialize_json(workflow)
    workflow, spec, subs = _workflow_with({"value": ident})
    [check] = ready_human_tasks(load_workflow(dump_workflow(workflow), spec, subs))
    assert check.data["value"] == ident


def test_lean_task_converter_writes_spiffworkflows_task_dictionaries():
    """Every task of a workflow (root, completed, ready, future; with updates and deletions in
    its data) converts to the dictionary SpiffWorkflow's own converter writes."""
    from types import SimpleNamespace

    from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter

    from app.engine.serialization import LeanTaskConverter, serializer

    workflow, _spec, _subs = _workflow_with({"limit": Decimal("3"), "rows": [{"q": 1}]})
    [check] = ready_human_tasks(workflow)
    check.data.pop("limit")
    check.data["rows"] = [{"q": 2}]
    check.internal_data["seen"] = ["x"]
    converter = SimpleNamespace(registry=serializer.registry)  # constructing one registers it
    assert len(workflow.tasks) > 3
    for encoder_mode in (False, True):
        serializer.registry._encoder_mode = encoder_mode
        try:
            for task in workflow.tasks.values():
                assert LeanTaskConverter.to_dict(converter, task) == \
                    TaskConverter.to_dict(converter, task)
        finally:
            serializer.registry._encoder_mode = False
    dumped = orjson.loads(dump_workflow(workflow))["tasks"][str(check.id)]
    assert dumped["delta"] == {"updates": {"rows": [{"q": 2}]}, "deletions": ["limit"]}
