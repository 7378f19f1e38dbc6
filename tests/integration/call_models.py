"""A small parent process whose call activity calls a child process, both laid out for bpmn-js."""

from app.engine.layout import layout_bpmn
from app.engine.services import deploy_files
from app.extensions import db

PARENT, CHILD = "call_parent", "call_child"
_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="{key}_defs" targetNamespace="http://dealerflow.local/bpmn/tests">"""
PARENT_XML = _HEAD.format(key=PARENT) + """
  <bpmn:process id="call_parent" name="Parent" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="run_child" name="Child checks" calledElement="call_child">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:userTask id="wrap_up" name="Wrap up" camunda:candidateGroups="finance">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="run_child" />
    <bpmn:sequenceFlow id="f2" sourceRef="run_child" targetRef="wrap_up" />
    <bpmn:sequenceFlow id="f3" sourceRef="wrap_up" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
CHILD_XML = _HEAD.format(key=CHILD) + """
  <bpmn:process id="call_child" name="Child" isExecutable="true">
    <bpmn:startEvent id="child_start"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="child_review" name="Child review" camunda:candidateGroups="finance">
      <bpmn:incoming>c1</bpmn:incoming><bpmn:outgoing>c2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="child_end"><bpmn:incoming>c2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="child_start" targetRef="child_review" />
    <bpmn:sequenceFlow id="c2" sourceRef="child_review" targetRef="child_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_call_models() -> None:
    """Deploy the parent and the child process (version 1 of each)."""
    deploy_files({f"{PARENT}.bpmn": layout_bpmn(PARENT_XML.encode()),
                  f"{CHILD}.bpmn": layout_bpmn(CHILD_XML.encode())}, "test")
    db.session.commit()
