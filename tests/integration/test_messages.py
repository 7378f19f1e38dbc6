"""POST /api/v1/messages/{name} wakes the instance waiting for that message."""

from app.engine.models import ProcessInstance
from app.engine.services import deploy_files
from app.extensions import db

WAITING = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:message id="m1" name="contract_signed"><bpmn:extensionElements>
  <spiffworkflow:messageVariable>signature</spiffworkflow:messageVariable>
</bpmn:extensionElements></bpmn:message>
<bpmn:process id="sign_wait" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:intermediateCatchEvent id="wait_signature">
    <bpmn:messageEventDefinition messageRef="m1"/></bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="keep"><bpmn:script>signed_by = signature['signer']</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait_signature"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait_signature" targetRef="keep"/>
  <bpmn:sequenceFlow id="f3" sourceRef="keep" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_message_wakes_the_instance_with_that_business_key_and_409_when_ambiguous(api):
    deploy_files({"sign_wait.bpmn": WAITING}, "test")
    db.session.commit()
    admin = api("admin")
    first = admin.post("/api/v1/processes/sign_wait/instances",
                       json={"business_key": "C-1"}).json
    second = admin.post("/api/v1/processes/sign_wait/instances",
                        json={"business_key": "C-2"}).json
    assert first["status"] == second["status"] == "running"

    ambiguous = admin.post("/api/v1/messages/contract_signed", json={"payload": {"signer": "x"}})
    assert ambiguous.status_code == 409 and ambiguous.json["code"] == "ambiguous_message"
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"business_key": "C-2", "payload": {"signer": "张三"}})
    assert r.status_code == 200, r.json
    assert r.json["instance_id"] == second["id"]
    done = admin.get(f"/api/v1/instances/{second['id']}").json
    assert done["status"] == "completed" and done["data"]["signed_by"] == "张三"
    assert admin.get(f"/api/v1/instances/{first['id']}").json["status"] == "running"
    events = admin.get(f"/api/v1/audit?action=message.delivered&instance_id={second['id']}").json
    assert len(events) == 1


def test_message_nobody_waits_for_is_404_and_needs_admin(api):
    r = api("admin").post("/api/v1/messages/nothing_waits", json={"payload": {}})
    assert r.status_code == 404 and r.json["code"] == "no_waiting_instance"
    assert api("applicant").post("/api/v1/messages/contract_signed", json={}).status_code == 403
    assert db.session.query(ProcessInstance).count() == 0
