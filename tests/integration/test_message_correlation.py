"""POST /api/v1/messages/{name} with correlation keys picks the one matching instance."""

from app.core.models import User
from app.engine.services import deploy_files
from app.extensions import db

CORR = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:message id="m1" name="contract_signed"><bpmn:extensionElements>
  <spiffworkflow:messageVariable>signature</spiffworkflow:messageVariable>
</bpmn:extensionElements></bpmn:message>
<bpmn:process id="corr_wait" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Initiator"><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="fill" name="填写 Fill in"/>
  <bpmn:intermediateCatchEvent id="wait_signature">
    <bpmn:messageEventDefinition messageRef="m1"/></bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="keep"><bpmn:script>signed_by = signature['signer']</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
  <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="wait_signature"/>
  <bpmn:sequenceFlow id="f3" sourceRef="wait_signature" targetRef="keep"/>
  <bpmn:sequenceFlow id="f4" sourceRef="keep" targetRef="e"/>
</bpmn:process></bpmn:definitions>""".encode()


def _start(client, **data):
    r = client.post("/api/v1/processes/corr_wait/instances", json={"data": data})
    assert r.status_code == 201 and r.json["status"] == "running", r.json
    return r.json["id"]


def test_correlation_keys_select_the_instance_whose_data_matches(api):
    deploy_files({"corr_wait.bpmn": CORR}, "test")
    db.session.commit()
    admin = api("admin")
    c1 = _start(admin, contract_id="C-1", dealer="D1")
    c2 = _start(admin, contract_id="C-2", dealer="D1")

    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"signer": "王五"}, "correlation": {"contract_id": "C-2"}})
    assert r.status_code == 200, r.json
    assert r.json == {"message": "contract_signed", "instance_id": c2}
    done = admin.get(f"/api/v1/instances/{c2}").json
    assert done["status"] == "completed" and done["data"]["signed_by"] == "王五"
    assert admin.get(f"/api/v1/instances/{c1}").json["status"] == "running"
    [event] = admin.get(f"/api/v1/audit?action=message.delivered&instance_id={c2}").json
    assert event["details"]["correlation"] == {"contract_id": "C-2"}
    assert event["details"]["message"] == "contract_signed"

    # C-2 no longer waits: 404; a key that matches nobody: 404.
    again = admin.post("/api/v1/messages/contract_signed",
                       json={"payload": {}, "correlation": {"contract_id": "C-2"}})
    assert again.status_code == 404 and again.json["code"] == "no_waiting_instance"
    assert admin.post("/api/v1/messages/contract_signed",
                      json={"correlation": {"contract_id": "C-404"}}).status_code == 404


def test_correlation_matching_several_instances_is_409_and_changes_nothing(api):
    deploy_files({"corr_wait.bpmn": CORR}, "test")
    db.session.commit()
    admin = api("admin")
    a, b = _start(admin, contract_id="C-1", dealer="D1"), _start(admin, contract_id="C-2",
                                                                   dealer="D1")
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"signer": "x"}, "correlation": {"dealer": "D1"}})
    assert r.status_code == 409 and r.json["code"] == "ambiguous_message"
    assert {admin.get(f"/api/v1/instances/{i}").json["status"] for i in (a, b)} == {"running"}
    both = admin.post("/api/v1/messages/contract_signed",
                      json={"payload": {"signer": "x"},
                            "correlation": {"dealer": "D1", "contract_id": "C-1"}})
    assert both.status_code == 200 and both.json["instance_id"] == a
    bad = admin.post("/api/v1/messages/contract_signed", json={"correlation": "C-1"})
    assert bad.status_code == 422


def test_an_integration_account_may_post_messages_other_roles_may_not(api):
    deploy_files({"corr_wait.bpmn": CORR}, "test")
    user = User(username="esign_service", display_name="E-sign", password_hash="")
    user.set_password("demo")
    user.roles = ["integration"]
    db.session.add(user)
    db.session.commit()
    instance_id = _start(api("admin"), contract_id="C-7")
    assert api("mgr_east").post("/api/v1/messages/contract_signed",
                                json={"correlation": {"contract_id": "C-7"}}).status_code == 403
    r = api("esign_service").post("/api/v1/messages/contract_signed",
                                  json={"payload": {"signer": "s"},
                                        "correlation": {"contract_id": "C-7"}})
    assert r.status_code == 200 and r.json["instance_id"] == instance_id
    [event] = api("admin").get("/api/v1/audit?action=message.delivered").json
    assert event["actor"] == "esign_service"


def test_correlation_values_match_exactly_including_non_ascii_and_numbers(api):
    deploy_files({"corr_wait.bpmn": CORR}, "test")
    db.session.commit()
    admin = api("admin")
    c1 = _start(admin, contract_id="C-1", dealer="杭州西湖", seq=7)
    c10 = _start(admin, contract_id="C-10", dealer="杭州", seq=70)
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"signer": "a"}, "correlation": {"contract_id": "C-1"}})
    assert r.status_code == 200 and r.json["instance_id"] == c1
    assert admin.post("/api/v1/messages/contract_signed",
                      json={"payload": {"signer": "b"},
                            "correlation": {"dealer": "杭州西湖"}}).status_code == 404
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"signer": "b"}, "correlation": {"dealer": "杭州", "seq": 70}})
    assert r.status_code == 200 and r.json["instance_id"] == c10
