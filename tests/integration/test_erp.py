"""The ERP over SOAP: the real zeep client against the simulator over HTTP (werkzeug thread)."""

import re
import socket
import sqlite3
import time
from decimal import Decimal

import orjson
import pytest
import requests

from app.core.models import User
from app.engine.services import deploy_files, load_workflow_of
from app.erp.models import ErpMessage
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.tasks.services import start_instance
from connectors.erp.simulator import SOAP_PATH
from connectors.erp.simulator_store import DEMO_CUSTOMERS, SimulatorStore
from connectors.erp.soap import ErpSettings, client_for
from connectors.registry import BusinessError, CallContext, ConnectorError, registry

CUSTOMER = {"name": "杭州西湖食品有限公司", "city": "杭州", "street": "文三路 1 号",
            "postal_code": "310000", "phone": "13912345678", "region": "33",
            "sales_org": "1000", "distr_chan": "10", "division": "00"}


def call(op_name: str, key: str = "7:task-a", **params) -> dict:
    db.session.commit()  # like the worker: no transaction open across the remote call
    op = registry.get(op_name)
    return op.fn(op.load_params(params), CallContext(idempotency_key=key, instance_id=7))


def messages() -> list[ErpMessage]:
    db.session.expire_all()
    return db.session.query(ErpMessage).order_by(ErpMessage.id).all()


def test_create_customer_numbers_and_dedupes_on_idempotency_key(sim):
    first = call("erp.create_customer", key="7:create", **CUSTOMER)
    assert re.fullmatch(r"\d{10}", first["customer_number"])
    assert first["customer_number"] == "0000100000"
    again = call("erp.create_customer", key="7:create", **CUSTOMER)
    assert again == first
    assert sim.store.count_customers() == len(DEMO_CUSTOMERS) + 1
    other = call("erp.create_customer", key="8:create", **CUSTOMER)
    assert other["customer_number"] == "0000100001"
    assert sim.store.customer("0000100000")["name1"] == CUSTOMER["name"]


def test_long_name_fills_name_2_and_a_too_long_city_is_a_business_error(sim):
    created = call("erp.create_customer", key="7:long", **(CUSTOMER | {"name": "宁" * 50}))
    assert sim.store.customer(created["customer_number"])["name1"] == "宁" * 35
    with pytest.raises(BusinessError) as info:
        call("erp.create_customer", **(CUSTOMER | {"city": "X" * 36}))
    assert info.value.code == "ZDF002"
    assert "PI_COMPANYDATA-CITY is longer than 35 characters" in info.value.message
    assert info.value.payload["return"][0]["FIELD"] == "CITY"
    assert sim.store.count_customers() == len(DEMO_CUSTOMERS) + 1
    assert messages()[-1].outcome == "business_error"


def test_credit_status_of_a_seeded_dealer_adds_up(sim):
    status = call("erp.get_credit_status", customer_number="10001")
    figures = {k: Decimal(v) for k, v in status.items()
               if k not in ("customer_number", "credit_control_area", "currency")}
    assert figures["credit_limit"] == Decimal("800000.00") and status["currency"] == "CNY"
    exposure = sum(figures[k] for k in ("open_orders", "open_deliveries", "open_billing",
                                        "receivables"))
    assert figures["total_exposure"] == exposure > 0
    assert figures["available"] == figures["credit_limit"] - exposure


def test_blocked_customer_is_a_business_error_f2_153(sim):
    assert sim.faults(blocked_customers=["10001"])["blocked_customers"] == ["0000010001"]
    with pytest.raises(BusinessError) as info:
        call("erp.get_credit_status", customer_number="0000010001")
    assert info.value.code == "F2153" and "blocked" in info.value.message


def test_new_customer_has_credit_limit_zero(sim):
    number = call("erp.create_customer", **CUSTOMER)["customer_number"]
    status = call("erp.get_credit_status", customer_number=number)
    assert Decimal(status["credit_limit"]) == 0 and Decimal(status["available"]) == 0


def test_erp_down_is_a_technical_error(sim):
    sim.faults(down=True)
    with pytest.raises(ConnectorError, match="HTTP 503"):
        call("erp.get_credit_status", customer_number="0000010001")
    last = messages()[-1]
    assert last.outcome == "technical_error" and last.http_status == 503
    assert "Service Unavailable" in last.response_xml


def test_soap_fault_is_a_technical_error(sim):
    sim.faults(fault_rate=1)
    with pytest.raises(ConnectorError, match="SOAP fault.*Injected fault"):
        call("erp.get_credit_status", customer_number="0000010001")


def test_slow_erp_times_out_quickly(app, sim):
    app.config["ERP_TIMEOUT_SECONDS"] = 0.5
    sim.faults(slow_ms=2500)
    started = time.perf_counter()
    with pytest.raises(ConnectorError, match="timed out after 0.5 s"):
        call("erp.get_credit_status", customer_number="0000010001")
    assert time.perf_counter() - started < 3


def test_refused_connection_is_a_technical_error(app, sim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.config["ERP_URL"] = f"http://127.0.0.1:{port}{SOAP_PATH}"
    with pytest.raises(ConnectorError, match="unreachable"):
        call("erp.get_credit_status", customer_number="0000010001")


def test_doctype_is_refused_with_a_fault_and_no_entity_expansion(sim):
    body = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY boom "EXPANDED-ENTITY">]>'
            '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
            '<soap-env:Body><n0:BAPI_CREDIT_ACCOUNT_GET_STATUS '
            'xmlns:n0="urn:sap-com:document:sap:rfc:functions"><CUSTOMER>&boom;</CUSTOMER>'
            '<CREDITCONTROLAREA>1000</CREDITCONTROLAREA></n0:BAPI_CREDIT_ACCOUNT_GET_STATUS>'
            '</soap-env:Body></soap-env:Envelope>')
    r = requests.post(sim.base + SOAP_PATH, data=body.encode(), timeout=5,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    assert r.status_code == 500 and b"Fault" in r.content
    assert b"DTD not allowed" in r.content and b"EXPANDED-ENTITY" not in r.content


def test_wsdl_is_served_with_this_servers_address(sim):
    r = requests.get(sim.base + "/sap/bc/srt/wsdl?wsdl", timeout=5)
    assert r.status_code == 200
    assert f'location="{sim.base}{SOAP_PATH}"'.encode() in r.content


@pytest.mark.parametrize("auth", ["basic", "wsse"])
def test_envelope_log_keeps_both_envelopes_without_the_password(app, sim, auth):
    password = "S3cret-Pa55-word"
    sim.app.config["ERP_SIM_USERS"] = {"rfc_dealerflow": password}
    app.config.update(ERP_USER="rfc_dealerflow", ERP_PASSWORD=password, ERP_AUTH=auth)
    call("erp.get_credit_status", key="9:credit", customer_number="0000010001")
    [logged] = messages()
    assert logged.outcome == "ok" and logged.http_status == 200 and logged.instance_id == 7
    assert logged.idempotency_key == "9:credit" and logged.operation == "erp.get_credit_status"
    assert "BAPI_CREDIT_ACCOUNT_GET_STATUS>" in logged.request_xml
    assert "<CREDIT_LIMIT>800000.00</CREDIT_LIMIT>" in logged.response_xml
    for text in (logged.request_xml, logged.response_xml, logged.request_headers, logged.error):
        assert password not in (text or "")
    if auth == "wsse":
        assert "UsernameToken" in logged.request_xml and "***" in logged.request_xml
    assert "Authorization" not in orjson.loads(logged.request_headers)
    app.config["ERP_PASSWORD"] = "wrong"
    with pytest.raises(ConnectorError, match="HTTP 401"):
        call("erp.get_credit_status", customer_number="0000010001")


def available(customer: str, **area) -> Decimal:
    return Decimal(call("erp.get_credit_status", customer_number=customer, **area)["available"])


def test_set_credit_limit_is_read_back_with_the_new_available_amount(sim):
    before = available("10001")
    result = call("erp.set_credit_limit", customer_number="10001", credit_limit="1000000.5",
                  risk_category="B")
    assert result == {"customer_number": "10001", "credit_limit": "1000000.50"}
    status = call("erp.get_credit_status", customer_number="10001")
    assert Decimal(status["credit_limit"]) == Decimal("1000000.50")
    assert available("10001") == before + Decimal("200000.50")
    account = sim.store.credit_account("0000010001", "1000")
    assert account["risk_category"] == "B" and account["currency"] == "CNY"
    call("erp.set_credit_limit", key="7:lower", customer_number="10001", credit_limit=0)
    assert sim.store.credit_account("0000010001", "1000")["risk_category"] == "B"  # kept
    assert available("10001") == before - Decimal("800000")


def test_set_credit_limit_in_a_new_area_opens_the_account(sim):
    call("erp.set_credit_limit", customer_number="10002", credit_limit="50000",
         credit_control_area="2000")
    assert available("10002", credit_control_area="2000") == Decimal("50000")
    with pytest.raises(BusinessError) as info:
        call("erp.set_credit_limit", key="7:usd", customer_number="10002", credit_limit="1",
             credit_control_area="2000", currency="USD")
    assert info.value.code == "ZDF024" and "kept in CNY" in info.value.message


def test_set_credit_limit_of_an_unknown_customer_is_a_business_error(sim):
    with pytest.raises(BusinessError) as info:
        call("erp.set_credit_limit", customer_number="4711", credit_limit="1000")
    assert info.value.code == "ZDF021"
    assert info.value.message == "Customer 0000004711 does not exist"
    assert sim.store.credit_account("0000004711", "1000") is None
    assert messages()[-1].outcome == "business_error"


def test_negative_credit_limit_is_a_business_error_before_any_call(sim):
    with pytest.raises(BusinessError) as info:
        call("erp.set_credit_limit", customer_number="10001", credit_limit="-1")
    assert info.value.code == "ZDF022" and messages() == []


@pytest.mark.parametrize(("limit", "code"), [("-0.01", "ZDF022"), ("1.005", "ZDF023"),
                                             ("10000000000000", "ZDF023"), ("abc", "ZDF004")])
def test_the_erp_itself_rejects_limits_outside_curr_15_2(app, sim, limit, code):
    client = client_for(ErpSettings(url=app.config["ERP_URL"]))
    with pytest.raises(BusinessError) as info:
        client.call("ZDF_CREDIT_LIMIT_SET", CUSTOMER="0000010001", CREDITCONTROLAREA="1000",
                    CREDIT_LIMIT=limit, CURRENCY="CNY")
    assert info.value.code == code
    assert sim.store.credit_account("0000010001", "1000")["credit_limit"] == Decimal("800000")


def test_set_credit_limit_of_a_blocked_customer_is_f2_153(sim):
    sim.faults(blocked_customers=["10001"])
    with pytest.raises(BusinessError) as info:
        call("erp.set_credit_limit", customer_number="10001", credit_limit="1")
    assert info.value.code == "F2153"


def test_set_credit_limit_exchange_is_in_the_envelope_log(sim):
    call("erp.set_credit_limit", key="9:limit", customer_number="10001", credit_limit="500000")
    [logged] = messages()
    assert logged.operation == "erp.set_credit_limit" and logged.function == "ZDF_CREDIT_LIMIT_SET"
    assert logged.outcome == "ok" and logged.idempotency_key == "9:limit"
    assert "<CUSTOMER>0000010001</CUSTOMER>" in logged.request_xml
    assert "<CREDIT_LIMIT>500000</CREDIT_LIMIT>" in logged.request_xml
    assert "<IDEMPOTENCY_KEY>9:limit</IDEMPOTENCY_KEY>" in logged.request_xml
    assert "ZDF_CREDIT_LIMIT_SETResponse" in logged.response_xml
    assert "<CREDIT_LIMIT>500000.00</CREDIT_LIMIT>" in logged.response_xml


def test_set_credit_limit_retry_with_the_same_key_is_harmless(sim):
    first = call("erp.set_credit_limit", key="7:limit", customer_number="10001",
                 credit_limit="900000")
    assert call("erp.set_credit_limit", key="7:limit", customer_number="10001",
                credit_limit="900000") == first
    assert "already set for this idempotency key" in messages()[-1].response_xml
    call("erp.set_credit_limit", key="8:limit", customer_number="10001", credit_limit="700000")
    late = call("erp.set_credit_limit", key="7:limit", customer_number="10001",
                credit_limit="900000")
    assert late == first  # a late retry does not overwrite the newer limit
    assert sim.store.credit_account("0000010001", "1000")["credit_limit"] == Decimal("700000")
    with pytest.raises(BusinessError) as info:
        call("erp.set_credit_limit", key="7:limit", customer_number="10001", credit_limit="1")
    assert info.value.code == "ZDF025"


def test_simulator_database_without_risk_category_is_upgraded(tmp_path):
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE knkk (kunnr TEXT NOT NULL, kkber TEXT NOT NULL, klimk TEXT"
                     " NOT NULL, open_orders TEXT NOT NULL, open_deliveries TEXT NOT NULL,"
                     " open_billing TEXT NOT NULL, receivables TEXT NOT NULL, currency TEXT"
                     " NOT NULL, PRIMARY KEY (kunnr, kkber))")
    conn.close()
    store = SimulatorStore(path)
    assert store.set_credit_limit("0000010001", "1000", Decimal("5"), "CNY", "A", None) == (
        "set", "5.00")
    assert store.credit_account("0000010001", "1000")["risk_category"] == "A"


SERVICE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="erp_svc" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:serviceTask id="create"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="erp.create_customer" resultVariable="erp">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="name" type="str" value="'上海东方食品贸易有限公司'"/>
        <spiffworkflow:parameter id="city" type="str" value="'上海'"/>
        <spiffworkflow:parameter id="sales_org" type="str" value="'1000'"/>
        <spiffworkflow:parameter id="distr_chan" type="str" value="'10'"/>
        <spiffworkflow:parameter id="division" type="str" value="'00'"/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="create"/>
  <bpmn:sequenceFlow id="f2" sourceRef="create" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_service_task_creates_the_customer_through_the_worker(sim):
    deploy_files({"erp_svc.bpmn": SERVICE.encode()}, "test")
    instance = start_instance("erp_svc", User.by_username("admin"), None)
    db.session.commit()
    assert instance.status == "running"
    assert run_due_jobs("w") == 1
    db.session.expire_all()
    instance = db.session.get(type(instance), instance.id)
    assert instance.status == "completed"
    assert load_workflow_of(instance).data["erp"] == {"customer_number": "0000100000"}
    [logged] = messages()
    assert logged.instance_id == instance.id and logged.idempotency_key.startswith(f"{instance.id}:")
    assert sim.store.customer("0000100000")["idempotency_key"] == logged.idempotency_key


@pytest.mark.parametrize("kind", ["doctype", "entities", "truncated", "wrong_type"])
def test_hostile_responses_are_technical_errors_with_a_readable_reason(sim, kind):
    sim.faults(hostile=kind)
    with pytest.raises(ConnectorError) as info:
        call("erp.get_credit_status", customer_number="10001")
    message = str(info.value)
    assert message and "passwd" not in message and "root:" not in message
    assert "aaaaaaaaaa" * 10 not in message
    assert messages()[-1].outcome == "technical_error"
