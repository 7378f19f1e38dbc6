"""The RFC transport's mapping, with a fake pyrfc module behind pyrfc's interface.

No SAP system exists here, so ``pyrfc`` is replaced by a module object with the same names
(Connection, RFCError, CommunicationError, ABAPApplicationError) that records what it is called
with and answers what a BAPI would.
"""

import datetime as dt
import sys
import types
from decimal import Decimal

import pytest

from app.erp.models import ErpMessage
from app.extensions import db
from connectors.erp import rfc
from connectors.registry import BusinessError, CallContext, ConnectorError, ConnectorUnavailable, registry


class RFCError(Exception):
    def __init__(self, message="", key=None):
        super().__init__(message)
        self.message, self.key = message, key


class CommunicationError(RFCError):
    pass


class ABAPApplicationError(RFCError):
    pass


def fake_pyrfc(answers: dict):
    """A pyrfc stand-in: ``answers[function]`` is a dict, an exception, or a callable."""
    log = {"calls": [], "opened": [], "closed": 0}

    class Connection:
        def __init__(self, **params):
            log["opened"].append(params)

        def call(self, function, **params):
            log["calls"].append((function, params))
            answer = answers.get(function, {})
            if isinstance(answer, Exception):
                raise answer
            return answer(params) if callable(answer) else answer

        def close(self):
            log["closed"] += 1

    module = types.ModuleType("pyrfc")
    module.Connection, module.RFCError = Connection, RFCError
    module.CommunicationError, module.ABAPApplicationError = CommunicationError, ABAPApplicationError
    return module, log


SETTINGS = rfc.settings_from({"ashost": "10.0.0.5", "sysnr": "00", "client": "100",
                              "passwd": "not-kept"}, "RFC_USER", "Secret-RFC-1")
OK = {"TYPE": "S", "ID": "V1", "NUMBER": "311", "MESSAGE": "Standard Order 12 has been saved"}


def test_settings_keep_the_password_out_of_the_connection_key():
    assert ("passwd", "not-kept") not in SETTINGS.connection
    assert SETTINGS.params() == {"ashost": "10.0.0.5", "client": "100", "sysnr": "00",
                                 "user": "RFC_USER", "passwd": "Secret-RFC-1"}
    assert SETTINGS.url == "rfc://10.0.0.5/00/100"


def test_parameters_and_results_have_the_soap_shape_and_writes_are_committed():
    module, log = fake_pyrfc({"BAPI_SALESORDER_CREATEFROMDAT2": {
        "SALESDOCUMENT": "0000500000", "RETURN": [OK | {"MESSAGE_V1": "   "}]}})
    client = rfc.RfcClient(SETTINGS, module)
    result = client.call("BAPI_SALESORDER_CREATEFROMDAT2",
                         ORDER_HEADER_IN={"DOC_TYPE": "TA", "REQ_DATE_H": "2026-12-01",
                                          "PRICE_LIST": None},
                         ORDER_ITEMS_IN=[{"MATERIAL": "DF-BV-1001", "TARGET_QTY": Decimal("5")}],
                         TESTRUN=None)
    assert result["SALESDOCUMENT"] == "0000500000"
    assert result["RETURN"] == [OK | {"MESSAGE_V1": None}]
    (function, params), commit = log["calls"]
    assert params == {"ORDER_HEADER_IN": {"DOC_TYPE": "TA", "REQ_DATE_H": "20261201"},
                      "ORDER_ITEMS_IN": [{"MATERIAL": "DF-BV-1001",
                                          "TARGET_QTY": Decimal("5")}]}
    assert commit == ("BAPI_TRANSACTION_COMMIT", {"WAIT": "X"})
    assert log["opened"] == [SETTINGS.params()]


def test_error_rows_are_a_business_error_and_a_write_is_rolled_back():
    module, log = fake_pyrfc({"ZDF_CREDIT_LIMIT_SET": {"RETURN": [
        {"TYPE": "E", "ID": "F2", "NUMBER": "153", "MESSAGE": "Customer 0000010001 is blocked"}]}})
    with pytest.raises(BusinessError) as info:
        rfc.RfcClient(SETTINGS, module).call("ZDF_CREDIT_LIMIT_SET", CUSTOMER="0000010001")
    assert info.value.code == "F2153" and "blocked" in info.value.message
    assert [c[0] for c in log["calls"]] == ["ZDF_CREDIT_LIMIT_SET", "BAPI_TRANSACTION_ROLLBACK"]


def test_a_return_structure_and_dates_are_normalised_and_reads_do_not_commit():
    module, log = fake_pyrfc({"BAPI_SALESORDER_GETSTATUS": {
        "STATUSINFO": [{"DOC_NUMBER": "0000500000", "DOC_DATE": dt.date(2026, 11, 28),
                        "GI_DATE": "", "NET_VALUE": Decimal("10.00")}],
        "RETURN": {"TYPE": "", "ID": "", "NUMBER": "000", "MESSAGE": ""}}})
    result = rfc.RfcClient(SETTINGS, module).call("BAPI_SALESORDER_GETSTATUS",
                                                   SALESDOCUMENT="0000500000")
    assert result["STATUSINFO"] == [{"DOC_NUMBER": "0000500000", "DOC_DATE": "2026-11-28",
                                     "GI_DATE": None, "NET_VALUE": Decimal("10.00")}]
    assert result["RETURN"] == [{"TYPE": None, "ID": None, "NUMBER": "000", "MESSAGE": None}]
    assert [c[0] for c in log["calls"]] == ["BAPI_SALESORDER_GETSTATUS"]


def test_communication_error_is_technical_and_the_connection_is_reopened():
    module, log = fake_pyrfc({"BAPI_SALESORDER_GETSTATUS": CommunicationError(
        "partner '10.0.0.5:3300' not reached")})
    client = rfc.RfcClient(SETTINGS, module)
    with pytest.raises(ConnectorError, match="CommunicationError.*not reached"):
        client.call("BAPI_SALESORDER_GETSTATUS", SALESDOCUMENT="1")
    assert log["closed"] == 1
    with pytest.raises(ConnectorError):
        client.call("BAPI_SALESORDER_GETSTATUS", SALESDOCUMENT="1")
    assert len(log["opened"]) == 2


def test_abap_exception_is_a_business_error_with_its_key():
    module, _ = fake_pyrfc({"BAPI_AR_ACC_GETOPENITEMS": ABAPApplicationError(
        "Customer not found", key="CUSTOMER_NOT_FOUND")})
    with pytest.raises(BusinessError) as info:
        rfc.RfcClient(SETTINGS, module).call("BAPI_AR_ACC_GETOPENITEMS", CUSTOMER="1")
    assert info.value.code == "CUSTOMER_NOT_FOUND"


def test_exchange_is_logged_without_the_password():
    module, _ = fake_pyrfc({"BAPI_CUSTOMER_CREATEFROMDATA1": lambda p: {
        "CUSTOMERNO": "0000100000", "RETURN": [{"TYPE": "S", "MESSAGE": f"echo {p['NAME']}"}]}})
    seen = []
    rfc.RfcClient(SETTINGS, module).call("BAPI_CUSTOMER_CREATEFROMDATA1", on_exchange=seen.append,
                                         NAME="Secret-RFC-1 Trading")
    [exchange] = seen
    assert exchange.url == "rfc://10.0.0.5/00/100" and exchange.outcome == "ok"
    assert "Secret-RFC-1" not in exchange.request_xml + exchange.response_xml
    assert "*** Trading" in exchange.request_xml and "0000100000" in exchange.response_xml


def test_without_pyrfc_every_call_is_unavailable_with_install_guidance(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrfc", None)  # import pyrfc → ImportError
    with pytest.raises(ConnectorUnavailable) as info:
        rfc.RfcClient(SETTINGS).call("BAPI_SALESORDER_GETSTATUS", SALESDOCUMENT="1")
    assert "SAP NW RFC SDK" in str(info.value) and "pip install pyrfc" in str(info.value)


def test_operations_run_unchanged_over_rfc(app, monkeypatch):
    module, log = fake_pyrfc({"ZDF_MATERIALS_GET": {
        "MATERIALS": [{"MATERIAL": "DF-BV-1001", "MATL_DESC": "清爽可乐", "PROD_HIER": "BEVCSD",
                       "MATL_GROUP": "BEV01", "BASE_UOM": "CS", "EAN_UPC": ""}],
        "HIERARCHY": [{"PROD_HIER": "BEV", "LEVEL_NO": "001", "DESCRIPTION": "饮料"},
                      {"PROD_HIER": "BEVCSD", "LEVEL_NO": "002", "DESCRIPTION": "碳酸饮料"}],
        "SALES_AREAS": [{"MATERIAL": "DF-BV-1001", "SALES_ORG": "1000", "DISTR_CHAN": "10",
                         "DELIV_PLANT": "1100"}],
        "PLANTS": [], "RETURN": []}})
    monkeypatch.setitem(sys.modules, "pyrfc", module)
    monkeypatch.setattr(rfc, "_local", types.SimpleNamespace())
    monkeypatch.setitem(app.config, "ERP_TRANSPORT", "rfc")
    monkeypatch.setitem(app.config, "ERP_RFC_CONNECTION", {"ashost": "sap.example"})
    op = registry.get("erp.get_materials")
    result = op.fn(op.load_params({"sales_org": "1000"}),
                   CallContext(idempotency_key="7:m", instance_id=7))
    assert result["materials"][0]["sales_areas"] == [
        {"sales_org": "1000", "distr_chan": "10", "delivering_plant": "1100"}]
    assert result["materials"][0]["ean"] is None
    assert result["categories"][1] == {"code": "BEVCSD", "level": 2, "description": "碳酸饮料",
                                       "parent": "BEV"}
    assert log["calls"] == [("ZDF_MATERIALS_GET", {"SALES_ORG": "1000", "LANGUAGE": "1"})]
    [logged] = db.session.query(ErpMessage).all()
    assert logged.url == "rfc://sap.example//" and logged.operation == "erp.get_materials"
