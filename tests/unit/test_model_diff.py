"""What an edited diagram changes against the deployed one: semantics, not layout or prefixes."""

import pytest

from app.engine.parsing import ModelProblems
from app.modeler.services import diff_models

BASE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" camunda:formKey="review_form">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end">
      <bpmn:conditionExpression>approved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="pl" bpmnElement="p">
    <bpmndi:BPMNShape id="review_di" bpmnElement="review">
      <dc:Bounds x="100" y="80" width="100" height="80" />
    </bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""


def _diff(new: str, old: str | None = BASE) -> dict:
    return diff_models(old.encode() if old is not None else None, new.encode(), "p.bpmn")


def _ids(result: dict) -> dict:
    return {kind: [row["id"] for row in rows] for kind, rows in result.items()}


def test_layout_prefixes_and_attribute_order_are_no_change():
    moved = BASE.replace('x="100" y="80"', 'x="420" y="260"')
    renamed_prefix = moved.replace("bpmn:", "semantic:").replace("xmlns:bpmn=", "xmlns:semantic=")
    reordered = renamed_prefix.replace('name="Review" camunda:formKey="review_form"',
                                       'camunda:formKey="review_form"  name="Review"')
    assert _ids(_diff(reordered)) == {"added": [], "removed": [], "changed": []}


def test_names_attributes_and_nested_settings_count_as_changes():
    result = _diff(BASE.replace('name="Review"', 'name="Manager review"')
                   .replace(">approved<", ">approved and amount &lt; 1000<"))
    assert _ids(result) == {"added": [], "removed": [], "changed": ["f2", "review"]}
    assert result["changed"][1] == {"id": "review", "type": "userTask", "name": "Manager review"}
    assert _ids(_diff(BASE.replace("review_form", "other_form")))["changed"] == ["review"]


def test_added_and_removed_elements_are_listed_with_their_type():
    new = BASE.replace('<bpmn:endEvent id="end">', '<bpmn:endEvent id="finish" name="Done">') \
        .replace('targetRef="end"', 'targetRef="finish"')
    result = _diff(new)
    assert result["added"] == [{"id": "finish", "type": "endEvent", "name": "Done"}]
    assert result["removed"] == [{"id": "end", "type": "endEvent", "name": ""}]
    assert _ids(result)["changed"] == ["f2"]  # its target moved; the task's own lists do not count


def test_a_first_version_is_all_added_and_bad_xml_is_a_located_problem():
    assert _ids(_diff(BASE, old=None))["added"] == ["end", "f1", "f2", "p", "review", "start"]
    with pytest.raises(ModelProblems) as exc:
        _diff("<bpmn:definitions")
    assert exc.value.problems[0]["file"] == "p.bpmn"
    with pytest.raises(ModelProblems):
        _diff('<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')
