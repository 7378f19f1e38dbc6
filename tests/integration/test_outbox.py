"""The outbox: HTTP gateways (a local fake gateway over real HTTP), retries, the embedded
default, and the embedded e-signature service calling back a waiting instance."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.core.models import User, utcnow
from app.engine.models import ProcessInstance
from app.engine.services import deploy_files
from app.extensions import db
from app.jobs.models import Job
from app.jobs.services import run_due_jobs
from app.notify.models import OutboxMessage
from app.notify.services import queue_message, sign_embedded_contracts
from app.tasks.services import start_instance


class Gateway:
    """A tiny SMS / e-signature gateway on a free port: records requests, can fail or stall."""

    def __init__(self):
        self.requests, self.status, self.delay, self.counter = [], 200, 0.0, 0
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append({"path": request.path, "json": request.get_json(silent=True),
                              "auth": request.headers.get("Authorization"),
                              "key": request.headers.get("Idempotency-Key")})
        time.sleep(self.delay)
        if self.status != 200:
            return Response("gateway unavailable", status=self.status)(environ, start_response)
        self.counter += 1
        return Response(f'{{"id": "gw-{self.counter}"}}',
                        content_type="application/json")(environ, start_response)


@pytest.fixture
def gateway(app):
    gw = Gateway()
    keys = ("SMS_URL", "SMS_TOKEN", "ESIGN_URL", "ESIGN_TOKEN", "NOTIFY_TIMEOUT_SECONDS",
            "JOB_BACKOFF_SECONDS")
    saved = {k: app.config[k] for k in keys}
    app.config.update(SMS_URL=gw.url + "/sms", SMS_TOKEN="s3cret", ESIGN_URL=gw.url,
                      ESIGN_TOKEN="e-token")
    yield gw
    app.config.update(saved)
    gw.server.shutdown()
    gw.server.server_close()


def _make_due(msg: OutboxMessage) -> None:
    """Time travel: the message's delivery job is due now (its backoff has passed)."""
    db.session.execute(update(Job).where(Job.id == msg.job_id).values(due_at=utcnow()))
    db.session.commit()


def test_sms_goes_to_the_http_gateway_with_token_and_idempotency_key(api, gateway):
    msg = queue_message("sms", "13800000101", {"text": "请审批"})
    db.session.commit()
    job = db.session.get(Job, msg.job_id)
    assert job.operation == "notify.deliver" and job.kind == "call" and job.status == "pending"
    assert run_due_jobs("w") == 1
    [req] = gateway.requests
    assert req["path"] == "/sms" and req["json"] == {"to": "13800000101", "text": "请审批"}
    assert req["auth"] == "Bearer s3cret" and req["key"] == f"outbox-{msg.id}"
    [row] = api("admin").get("/api/v1/outbox?status=sent").json
    assert row["external_id"] == "gw-1" and row["attempts"] == 1
    assert run_due_jobs("w") == 0  # sent once


def test_a_failing_gateway_retries_as_a_job_then_is_an_incident_an_admin_retries(app, api, login,
                                                                                  gateway):
    app.config["JOB_BACKOFF_SECONDS"] = 10
    gateway.status = 503
    msg = queue_message("sms", "13800000101", {"text": "x"})
    db.session.commit()
    assert run_due_jobs("w") == 1
    db.session.expire_all()
    job = db.session.get(Job, msg.job_id)
    assert job.status == "pending" and "HTTP 503" in job.last_error
    assert job.due_at > utcnow() + timedelta(seconds=8)  # backing off
    assert run_due_jobs("w") == 0
    admin = api("admin")
    [queued] = admin.get("/api/v1/outbox?status=queued").json
    assert queued["id"] == msg.id and queued["attempts"] == 1 and "HTTP 503" in queued["last_error"]
    for _ in range(2, app.config["JOB_MAX_ATTEMPTS"] + 1):
        _make_due(msg)
        assert run_due_jobs("w") == 1
    assert len(gateway.requests) == app.config["JOB_MAX_ATTEMPTS"]
    [failed] = admin.get("/api/v1/outbox?status=failed").json
    assert failed["id"] == msg.id and "HTTP 503" in failed["last_error"]
    assert failed["attempts"] == app.config["JOB_MAX_ATTEMPTS"]
    [incident] = admin.get("/api/v1/incidents").json
    assert incident["operation"] == "notify.deliver" and incident["job_id"] == msg.job_id
    assert incident["instance_id"] is None
    assert "notify.deliver" in login("admin").get("/admin/incidents").get_data(as_text=True)

    gateway.status = 200
    assert admin.post(f"/api/v1/incidents/{incident['id']}/retry").status_code == 200
    assert admin.post(f"/api/v1/outbox/{msg.id}/retry").status_code == 409  # queued again
    assert run_due_jobs("w") == 1
    db.session.expire_all()
    msg = db.session.get(OutboxMessage, msg.id)
    assert msg.status == "sent" and msg.external_id == "gw-1"
    assert admin.get("/api/v1/incidents").json == []


def test_the_outbox_retry_button_retries_the_delivery_incident(app, api, gateway):
    app.config.update(JOB_MAX_ATTEMPTS=1, WECOM_URL=gateway.url + "/wecom")
    try:
        gateway.status = 503
        msg = queue_message("wecom", "mgr_east", {"text": "x"})
        db.session.commit()
        run_due_jobs("w")
        admin = api("admin")
        [incident] = admin.get("/api/v1/incidents").json
        assert incident["operation"] == "notify.deliver"
        gateway.status = 200
        r = admin.post(f"/api/v1/outbox/{msg.id}/retry")
        assert r.status_code == 200 and r.json["status"] == "queued"
        assert admin.get("/api/v1/incidents?status=retried").json[0]["id"] == incident["id"]
        assert run_due_jobs("w") == 1
    finally:
        app.config.update(JOB_MAX_ATTEMPTS=5, WECOM_URL=None)
    [sent] = admin.get("/api/v1/outbox?status=sent").json
    assert sent["id"] == msg.id and sent["external_id"] == "gw-1"
    assert [r["path"] for r in gateway.requests] == ["/wecom", "/wecom"]


def test_a_stalled_gateway_is_abandoned_at_the_timeout(app, gateway):
    app.config.update(NOTIFY_TIMEOUT_SECONDS=0.3, JOB_BACKOFF_SECONDS=10)
    gateway.delay = 2
    msg = queue_message("sms", "13800000101", {"text": "x"})
    db.session.commit()
    began = time.monotonic()
    assert run_due_jobs("w") == 1
    assert time.monotonic() - began < 1.5
    db.session.expire_all()
    msg = db.session.get(OutboxMessage, msg.id)
    assert msg.delivery_status == "queued" and "Timeout" in msg.delivery_error


def test_without_a_gateway_the_outbox_is_the_destination(api):
    queue_message("wecom", "mgr_east", {"text": "hello"})
    queue_message("sms", "13800000101", {"text": "hi"})
    db.session.commit()
    assert run_due_jobs("w") == 2
    admin = api("admin")
    rows = admin.get("/api/v1/outbox").json
    assert {r["channel"] for r in rows} == {"wecom", "sms"}
    assert all(r["status"] == "sent" and r["external_id"].startswith("local-") for r in rows)
    assert admin.get("/api/v1/outbox?channel=fax").status_code == 422
    assert admin.get("/api/v1/outbox?status=lost").json["errors"]["status"]
    assert api("mgr_east").get("/api/v1/outbox").status_code == 403


def test_outbox_admin_page_filters_by_channel(login):
    queue_message("sms", "13800000101", {"text": "短信内容"})
    queue_message("esign", "applicant", {"contract_id": "C-9", "title": "经销协议"})
    db.session.commit()
    admin = login("admin")
    page = admin.get("/admin/outbox?channel=sms").get_data(as_text=True)
    assert "短信内容" in page and "C-9" not in page
    assert "C-9" in admin.get("/admin/outbox").get_data(as_text=True)
    assert login("mgr_east").get("/admin/outbox").status_code == 403


SIGN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:message id="m1" name="esign_signed"><bpmn:extensionElements>
  <spiffworkflow:messageVariable>signature</spiffworkflow:messageVariable>
</bpmn:extensionElements></bpmn:message>
<bpmn:process id="contract_sign" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:scriptTask id="number"><bpmn:script>contract_id = 'C-' + initiator</bpmn:script></bpmn:scriptTask>
  <bpmn:serviceTask id="send"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="esign.send_contract" resultVariable="sent">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="contract_id" type="str" value="contract_id"/>
        <spiffworkflow:parameter id="signer" type="str" value="initiator"/>
        <spiffworkflow:parameter id="title" type="str" value="'经销协议'"/>
      </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:intermediateCatchEvent id="wait_signature">
    <bpmn:messageEventDefinition messageRef="m1"/></bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="keep"><bpmn:script>signed_by = signature['signer']</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="number"/>
  <bpmn:sequenceFlow id="f1" sourceRef="number" targetRef="send"/>
  <bpmn:sequenceFlow id="f2" sourceRef="send" targetRef="wait_signature"/>
  <bpmn:sequenceFlow id="f3" sourceRef="wait_signature" targetRef="keep"/>
  <bpmn:sequenceFlow id="f4" sourceRef="keep" targetRef="e"/>
</bpmn:process></bpmn:definitions>""".encode()


def _start_signing(username: str) -> int:
    instance = start_instance("contract_sign", User.by_username(username), None)
    db.session.commit()
    return instance.id


def test_embedded_esign_signs_after_the_delay_and_wakes_the_matching_instance(app, api):
    deploy_files({"contract_sign.bpmn": SIGN}, "test")
    db.session.commit()
    first, second = _start_signing("admin"), _start_signing("analyst")
    assert run_due_jobs("w") == 4  # two contracts queued for signature, and sent
    now = utcnow()
    delay = app.config["ESIGN_SIGN_DELAY_SECONDS"]
    assert sign_embedded_contracts(now + timedelta(seconds=delay - 1)) == 0
    assert sign_embedded_contracts(now + timedelta(seconds=delay + 1)) == 2
    db.session.remove()
    for instance_id, signer in ((first, "admin"), (second, "analyst")):
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.status == "completed"
        data = api("admin").get(f"/api/v1/instances/{instance_id}").json["data"]
        assert data["signature"]["contract_id"] == f"C-{signer}" and data["signed_by"] == signer
    events = api("admin").get("/api/v1/audit?action=message.delivered").json
    assert sorted(e["instance_id"] for e in events) == [first, second]
    assert db.session.query(OutboxMessage).filter(
        OutboxMessage.callback_done_at.is_(None)).count() == 0


def test_contract_goes_to_the_esign_service_which_calls_back_itself(api, gateway):
    msg = queue_message("esign", "applicant", {"contract_id": "C-5", "signer": "applicant",
                                                "title": "经销协议"})
    db.session.commit()
    assert run_due_jobs("w") == 1
    [req] = gateway.requests
    assert req["path"] == "/contracts" and req["auth"] == "Bearer e-token"
    assert req["json"]["contract_id"] == "C-5"
    db.session.refresh(msg)
    assert msg.status == "sent" and msg.external_id == "gw-1"
    assert msg.callback_due_at is None  # the real service answers through /messages itself
    assert sign_embedded_contracts(utcnow() + timedelta(days=1)) == 0
