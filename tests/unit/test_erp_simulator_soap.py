"""The ERP simulator's SOAP endpoint: replies written as text match lxml's, and the request
path outside Flask keeps the endpoint's answers (auth, faults, other methods)."""

import base64
from decimal import Decimal

import pytest
from lxml import etree

from connectors.erp.simulator import SOAP_PATH, create_simulator
from connectors.erp.simulator_soap import RFC_NS, _response_tree, response

CREDIT_STATUS = (b"<?xml version='1.0' encoding='utf-8'?>\n"
                 b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
                 b'<soap-env:Body><ns0:BAPI_CREDIT_ACCOUNT_GET_STATUS xmlns:ns0="' + RFC_NS.encode()
                 + b'"><CUSTOMER>10001</CUSTOMER><CREDITCONTROLAREA>1000</CREDITCONTROLAREA>'
                 b"</ns0:BAPI_CREDIT_ACCOUNT_GET_STATUS></soap-env:Body></soap-env:Envelope>")


@pytest.mark.parametrize("values", [
    {"CUSTOMERNO": "0000100001", "EMPTY": "", "ABSENT": None, "AMOUNT": Decimal("1.50"),
     "COUNT": 3, "RETURN": [{"TYPE": "S", "MESSAGE": "a & b < c > d \"e\" 'f'"}, {}]},
    {"STRUCT": {"NAME": "上海东方食品贸易有限公司", "CITY": ""}, "NO_ROWS": [], "NO_FIELDS": {}},
    {"TEXT": "two\nlines\tand a tab", "CR": "windows\r\nline"},
    {"ONLY_NONE": {"A": None}, "ROWS_OF_NONE": [{"A": None}]}, {},
])
def test_reply_written_as_text_is_byte_for_byte_what_lxml_writes(values):
    assert response("BAPI_X", values) == _response_tree("BAPI_X", values)
    root = etree.fromstring(response("BAPI_X", values))
    assert root[0][0].tag == f"{{{RFC_NS}}}BAPI_XResponse"


def test_reply_with_a_character_xml_cannot_carry_is_refused():
    with pytest.raises(ValueError):
        response("BAPI_X", {"TEXT": "bell\x07"})


@pytest.fixture()
def client(tmp_path):
    return create_simulator({"database": str(tmp_path / "sim.db"),
                             "users": {"sapuser": "s3cret"}, "auth": "basic"}).test_client()


def _basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "text/xml; charset=utf-8"}


def test_credit_status_answers_with_basic_auth_and_refuses_a_wrong_password(client):
    ok = client.post(SOAP_PATH, data=CREDIT_STATUS, headers=_basic("sapuser", "s3cret"))
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert int(ok.headers["Content-Length"]) == len(ok.data)
    assert b"<CREDIT_LIMIT>800000.00</CREDIT_LIMIT>" in ok.data
    refused = client.post(SOAP_PATH, data=CREDIT_STATUS, headers=_basic("sapuser", "wrong"))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="SAP NetWeaver"'


def test_malformed_envelope_is_a_client_fault_and_get_is_not_allowed(client):
    bad = client.post(SOAP_PATH, data=b"<not-closed", headers=_basic("sapuser", "s3cret"))
    assert bad.status_code == 500
    assert b"<faultcode>soap-env:Client</faultcode>" in bad.data
    assert client.get(SOAP_PATH).status_code == 405


def test_down_simulator_answers_503(client):
    client.post("/sim/admin/faults", json={"down": True})
    down = client.post(SOAP_PATH, data=CREDIT_STATUS, headers=_basic("sapuser", "s3cret"))
    assert down.status_code == 503
    assert down.data == b"Service Unavailable: ERP is down"
