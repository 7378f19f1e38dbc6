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
