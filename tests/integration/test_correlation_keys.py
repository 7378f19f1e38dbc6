"""BPMN correlation keys: messagePath on the payload, dataPath on the waiting instance's data."""

from sqlalchemy import select

from app.engine.models import MessageSubscription
from app.engine.parsing import ModelProblems
from app.engine.services import check_files, deploy_files
from app.extensions import db

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:collaboration id="collab">
  <bpmn:participant id="p" processRef="corr_keys"/>
  <bpmn:correlationKey id="ck_contract" name="contract">
    <bpmn:correlationPropertyRef>contract_no</bpmn:correlationPropertyRef>
    <bpmn:correlationPropertyRef>dealer_code</bpmn:correlationPropertyRef>
  </bpmn:correlationKey>
</bpmn:collaboration>
<bpmn:correlationProperty id="contract_no" name="Contract number">
  <bpmn:correlationPropertyRetrievalExpression messageRef="m_signed">
    <bpmn:messagePath>{contract_path}</bpmn:messagePath>
  </bpmn:correlationPropertyRetrievalExpression>
</bpmn:correlationProperty>
<bpmn:correlationProperty id="dealer_code" name="Dealer">
  <bpmn:correlationPropertyRetrievalExpression messageRef="m_signed">
    <bpmn:messagePath>dealer</bpmn:messagePath>
  </bpmn:correlationPropertyRetrievalExpression>
</bpmn:correlationProperty>
<bpmn:message id="m_signed" name="contract_signed"><bpmn:extensionElements>
  <spiffworkflow:messageVariable>signature</spiffworkflow:messageVariable>
</bpmn:extensionElements></bpmn:message>
<bpmn:process id="corr_keys" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Initiator"><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="fill" name="填写 Fill in"/>
  <bpmn:intermediateCatchEvent id="wait_signature">
    <bpmn:messageEventDefinition messageRef="m_signed"/></bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="keep"><bpmn:script>signed_by = signature['signer']</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
  <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="wait_signature"/>
  <bpmn:sequenceFlow id="f3" sourceRef="wait_signature" targetRef="keep"/>
  <bpmn:sequenceFlow id="f4" sourceRef="keep" targetRef="e"/>
  <bpmn:correlationSubscription id="sub" correlationKeyRef="ck_contract">
    <bpmn:correlationPropertyBinding id="b1" correlationPropertyRef="contract_no">
      <bpmn:dataPath>{data_path}</bpmn:dataPath>
    </bpmn:correlationPropertyBinding>
    <bpmn:correlationPropertyBinding id="b2" correlationPropertyRef="dealer_code">
      <bpmn:dataPath>dealer</bpmn:dataPath>
    </bpmn:correlationPropertyBinding>
  </bpmn:correlationSubscription>
</bpmn:process></bpmn:definitions>"""


def _model(contract_path="contract['number']", data_path="'C-' + str(seq)") -> bytes:
    return MODEL.format(contract_path=contract_path, data_path=data_path).encode()


def _start(client, **data):
    r = client.post("/api/v1/processes/corr_keys/instances", json={"data": data})
    assert r.status_code == 201 and r.json["status"] == "running", r.json
    return r.json["id"]


def _deploy():
    deploy_files({"corr_keys.bpmn": _model()}, "test")
    db.session.commit()


def test_a_payload_finds_the_instance_whose_data_computes_the_same_key(api):
    _deploy()
    admin = api("admin")
    a = _start(admin, seq=1, dealer="D1")
    b = _start(admin, seq=2, dealer="D1")
    c = _start(admin, seq=2, dealer="D2")
    stored = db.session.scalars(select(MessageSubscription)
                                .order_by(MessageSubscription.instance_id)).all()
    assert [(s.instance_id, s.message, s.correlation_key) for s in stored] == [
        (a, "contract_signed", "contract"), (b, "contract_signed", "contract"),
        (c, "contract_signed", "contract")]

    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"contract": {"number": "C-2"}, "dealer": "D1",
                                     "signer": "王五"}})
    assert r.status_code == 200, r.json
    assert r.json["instance_id"] == b
    done = admin.get(f"/api/v1/instances/{b}").json
    assert done["status"] == "completed" and done["data"]["signed_by"] == "王五"
    assert {admin.get(f"/api/v1/instances/{i}").json["status"] for i in (a, c)} == {"running"}
    [event] = admin.get(f"/api/v1/audit?action=message.delivered&instance_id={b}").json
    assert event["details"]["correlation"] == {"contract": {"contract_no": "C-2",
                                                            "dealer_code": "D1"}}
    # The completed instance no longer listens.
    assert db.session.scalar(select(MessageSubscription.id)
                             .where(MessageSubscription.instance_id == b)) is None

    # The same key again: nobody waits for it any more.
    again = admin.post("/api/v1/messages/contract_signed",
                       json={"payload": {"contract": {"number": "C-2"}, "dealer": "D1",
                                         "signer": "x"}})
    assert again.status_code == 404 and again.json["code"] == "no_waiting_instance"
    # Half a key (right contract, other dealer) matches nobody.
    assert admin.post("/api/v1/messages/contract_signed",
                      json={"payload": {"contract": {"number": "C-1"}, "dealer": "D2",
                                        "signer": "x"}}).status_code == 404
    assert admin.get(f"/api/v1/instances/{a}").json["status"] == "running"


def test_two_instances_with_the_same_key_are_409_and_nothing_changes(api):
    _deploy()
    admin = api("admin")
    a, b = _start(admin, seq=5, dealer="D1"), _start(admin, seq=5, dealer="D1")
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"contract": {"number": "C-5"}, "dealer": "D1",
                                     "signer": "x"}})
    assert r.status_code == 409 and r.json["code"] == "ambiguous_message"
    assert {admin.get(f"/api/v1/instances/{i}").json["status"] for i in (a, b)} == {"running"}
    # An explicit instance id still picks one of them (the payload agrees with its key).
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"instance_id": a, "payload": {"contract": {"number": "C-5"},
                                                       "dealer": "D1", "signer": "x"}})
    assert r.status_code == 200 and r.json["instance_id"] == a


def test_explicit_correlation_keeps_working_and_a_payload_without_the_key_is_422(api):
    _deploy()
    admin = api("admin")
    a = _start(admin, seq=7, dealer="D7", contract_id="K-7")
    missing = admin.post("/api/v1/messages/contract_signed",
                         json={"payload": {"signer": "x"}})
    assert missing.status_code == 422 and "contract_no" in str(missing.json["errors"]["payload"])
    # Explicit correlation on the instance's data (a correlation property counts too).
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"correlation": {"contract_no": "C-7"},
                         "payload": {"contract": {"number": "C-7"}, "dealer": "D7",
                                     "signer": "y"}})
    assert r.status_code == 200 and r.json["instance_id"] == a
    assert admin.get(f"/api/v1/instances/{a}").json["data"]["signed_by"] == "y"


def test_a_correlation_expression_that_does_not_compile_is_a_located_deploy_error(api):
    for broken in ({"contract_path": "contract[['number'"}, {"data_path": "'C-' + "}):
        try:
            check_files({"corr_keys.bpmn": _model(**broken)})
        except ModelProblems as exc:
            [p] = [p for p in exc.problems if "does not compile" in p["message"]]
        else:
            raise AssertionError("a broken correlation expression deployed")
        assert p["file"] == "corr_keys.bpmn" and p["line"]
        assert p["element"] in ("contract_no",)
    r = api("analyst").post("/api/v1/processes/deploy", data={
        "files": [(__import__("io").BytesIO(_model(data_path="'C-' + ")), "corr_keys.bpmn")]},
        content_type="multipart/form-data")
    assert r.status_code == 422
    assert any("dataPath does not compile" in p["message"] for p in r.json["problems"]), r.json


SPIFF_STYLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:collaboration id="collab">
  <bpmn:participant id="p" processRef="pay_wait"/>
  <bpmn:correlationKey id="ck" name="payment">
    <bpmn:correlationPropertyRef>order_no</bpmn:correlationPropertyRef>
  </bpmn:correlationKey>
</bpmn:collaboration>
<bpmn:correlationProperty id="order_no" name="Order number">
  <bpmn:correlationPropertyRetrievalExpression messageRef="m_paid">
    <bpmn:formalExpression>order_number</bpmn:formalExpression>
  </bpmn:correlationPropertyRetrievalExpression>
</bpmn:correlationProperty>
<bpmn:message id="m_paid" name="payment_received"/>
<bpmn:process id="pay_wait" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Initiator"><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="fill" name="填写 Fill in"/>
  <bpmn:intermediateCatchEvent id="wait_payment">
    <bpmn:messageEventDefinition messageRef="m_paid"><bpmn:extensionElements>
      <spiffworkflow:processVariableCorrelation>
        <spiffworkflow:propertyId>order_no</spiffworkflow:propertyId>
        <spiffworkflow:expression>order['no']</spiffworkflow:expression>
      </spiffworkflow:processVariableCorrelation>
    </bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="fill"/>
  <bpmn:sequenceFlow id="f1" sourceRef="fill" targetRef="wait_payment"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait_payment" targetRef="e"/>
</bpmn:process></bpmn:definitions>""".encode()


def test_spiffworkflow_process_variable_correlations_work_the_same_way(api):
    deploy_files({"pay_wait.bpmn": SPIFF_STYLE}, "test")
    db.session.commit()
    admin = api("admin")
    ids = []
    for no in ("SO1", "SO2"):
        r = admin.post("/api/v1/processes/pay_wait/instances", json={"data": {"order": {"no": no}}})
        assert r.status_code == 201, r.json
        ids.append(r.json["id"])
    r = admin.post("/api/v1/messages/payment_received",
                   json={"payload": {"order_number": "SO2", "amount": 10}})
    assert r.status_code == 200 and r.json["instance_id"] == ids[1]
    assert admin.get(f"/api/v1/instances/{ids[1]}").json["status"] == "completed"
    assert admin.get(f"/api/v1/instances/{ids[0]}").json["status"] == "running"
    assert admin.post("/api/v1/messages/payment_received",
                      json={"payload": {"order_number": "SO3"}}).status_code == 404


def test_an_unkeyed_process_waiting_for_the_same_message_is_still_reached(api):
    from test_message_correlation import CORR

    _deploy()
    deploy_files({"corr_wait.bpmn": CORR}, "test")
    db.session.commit()
    admin = api("admin")
    keyed = _start(admin, seq=3, dealer="D3")
    r = admin.post("/api/v1/processes/corr_wait/instances", json={"data": {"contract_id": "U-1"}})
    plain = r.json["id"]
    # Explicit correlation on the unkeyed instance's data: its own model reads no payload key.
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"signer": "p"}, "correlation": {"contract_id": "U-1"}})
    assert r.status_code == 200 and r.json["instance_id"] == plain
    # A payload with the key finds the keyed one.
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"contract": {"number": "C-3"}, "dealer": "D3",
                                     "signer": "k"}})
    assert r.status_code == 200 and r.json["instance_id"] == keyed


def _drop_keys(*instance_ids):
    db.session.execute(MessageSubscription.__table__.delete().where(
        MessageSubscription.instance_id.in_(instance_ids)))
    db.session.commit()


def _stored_keys():
    db.session.expire_all()
    return sorted((s.instance_id, s.correlation_key, s.value_digest)
                  for s in db.session.scalars(select(MessageSubscription)))


def test_reindex_stores_the_keys_of_instances_waiting_without_them(app, api):
    _deploy()
    admin = api("admin")
    a = _start(admin, seq=11, dealer="D1")
    b = _start(admin, seq=12, dealer="D1")
    before = _stored_keys()
    _drop_keys(b)  # as if b had started waiting before keys were stored
    payload = {"contract": {"number": "C-12"}, "dealer": "D1", "signer": "赵六"}
    lost = admin.post("/api/v1/messages/contract_signed", json={"payload": payload})
    assert lost.status_code == 404 and lost.json["code"] == "no_waiting_instance"

    runner = app.test_cli_runner()
    first = runner.invoke(args=["messages", "reindex"])
    assert first.exit_code == 0, first.output
    assert "2 waiting instances checked, 1 reindexed" in first.output
    assert _stored_keys() == before
    again = runner.invoke(args=["messages", "reindex"])  # idempotent: nothing to rewrite
    assert "2 waiting instances checked, 0 reindexed" in again.output
    assert _stored_keys() == before

    r = admin.post("/api/v1/messages/contract_signed", json={"payload": payload})
    assert r.status_code == 200 and r.json["instance_id"] == b
    assert admin.get(f"/api/v1/instances/{b}").json["data"]["signed_by"] == "赵六"
    assert admin.get(f"/api/v1/instances/{a}").json["status"] == "running"


def test_deploy_stores_missing_keys_of_waiting_instances(app, api, tmp_path):
    _deploy()
    admin = api("admin")
    a = _start(admin, seq=21, dealer="D2")
    before = _stored_keys()
    _drop_keys(a)
    (tmp_path / "corr_keys.bpmn").write_bytes(_model())
    result = app.test_cli_runner().invoke(args=["processes", "deploy", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "corr_keys v1 unchanged" in result.output
    assert "correlation keys stored for 1 waiting instances" in result.output
    assert _stored_keys() == before
    r = admin.post("/api/v1/messages/contract_signed",
                   json={"payload": {"contract": {"number": "C-21"}, "dealer": "D2",
                                     "signer": "x"}})
    assert r.status_code == 200 and r.json["instance_id"] == a
