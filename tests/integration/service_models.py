"""A process of one service task (start → service task → end), for job and worker tests."""


def one_service_task(process_id: str, operation: str, result_variable: str = "result") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:serviceTask id="call"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="{result_variable}">
      <spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
  <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
</bpmn:process></bpmn:definitions>""".encode()
