"""Transport selection (SOAP / RFC), ERP errors caught in BPMN, and simulator auth modes."""

import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from app.core.models import User
from app.engine.models import ProcessInstance
from app.engine.services import deploy_files, load_workflow_of
from app.extensions import db
from app.jobs.models import Incident
from app.jobs.services import run_due_jobs
from app.tasks.services import start_instance
from connectors.erp.simulator import SOAP_PATH, create_simulator
from connectors.erp.simulator_store import DEMO_CUSTOMERS
from connectors.registry import CallContext, ConnectorError, registry

MODEL = (Path(__file__).parent / "bpmn" / "erp_order_errors.bpmn").read_text(encoding="utf-8")


def _approve(client, task_id, **data):
    client.post(f"/api/v1/tasks/{task_id}/claim")
    r = client.post(f"/api/v1/tasks/{task_id}/complete",
                    json={"data": {"decision": "approve", "comment": "ok"} | data})
    assert r.status_code == 200, r.json


def test_rfc_without_pyrfc_is_an_incident_with_guidance_then_soap_completes(
        app, api, login, admission_data, sim, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrfc", None)  # pyrfc is not installed here
    applicant, mgr, fin, admin = api("applicant"), api("mgr_east"), api("finance"), api("admin")
    instance_id = applicant.post("/api/v1/processes/dealer_admission/instances",
                                 json={"data": admission_data(level="C")}).json["id"]
    [task] = mgr.get("/api/v1/tasks?scope=group").json
    _approve(mgr, task["id"])
    [task] = fin.get("/api/v1/tasks?scope=group").json
    _approve(fin, task["id"], approved_credit_limit="100000", payment_terms="net30")

    monkeypatch.setitem(app.config, "ERP_TRANSPORT", "rfc")
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 2)
    run_due_jobs("w1", limit=100)
    db.session.expire_all()
    [incident] = admin.get("/api/v1/incidents").json
    assert incident["operation"] == "erp.create_customer"
    assert "SAP NW RFC SDK" in incident["error"] and "pip install pyrfc" in incident["error"]
    assert "DEALERFLOW_ERP_TRANSPORT=soap" in incident["error"]
    assert sim.store.count_customers() == len(DEMO_CUSTOMERS)
    User.by_username("admin").locale = "zh_CN"
    db.session.commit()
    page = login("admin").get("/admin/incidents").get_data(as_text=True)
    assert "连接器不可用：RFC 传输需要 pyrfc" in page  # the guidance, in the admin's language

    monkeypatch.setitem(app.config, "ERP_TRANSPORT", "soap")
    assert admin.post(f"/api/v1/incidents/{incident['id']}/retry").status_code == 200
    run_due_jobs("w1", limit=100)
    db.session.expire_all()
    done = admin.get(f"/api/v1/instances/{instance_id}").json
    assert done["status"] == "completed" and done["outcome"] == "approved"
    assert done["data"]["erp_customer_number"] == "0000100000"
    assert {i.status for i in db.session.query(Incident)} == {"retried"}


def test_unknown_transport_is_a_technical_error(app, sim, monkeypatch):
    monkeypatch.setitem(app.config, "ERP_TRANSPORT", "carrier-pigeon")
    op = registry.get("erp.get_materials")
    with pytest.raises(ConnectorError, match="Unknown ERP_TRANSPORT"):
        op.fn(op.load_params({}), CallContext(idempotency_key="1:x", instance_id=1))


def _run_order_model(setup: str) -> tuple[ProcessInstance, dict]:
    model = MODEL.replace("customer = '10001'\npo = 'PO-BPMN'\nmaterial = 'DF-BV-1001'", setup)
    deploy_files({"erp_order_errors.bpmn": model.encode()}, "test")
    instance = start_instance("erp_order_errors", User.by_username("admin"), None)
    db.session.commit()
    run_due_jobs("w", limit=10)
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, instance.id)
    return instance, load_workflow_of(instance).data


def test_service_task_creates_the_order(sim):
    instance, data = _run_order_model("customer = '10001'\npo = 'PO-BPMN-1'\n"
                                      "material = 'DF-BV-1001'")
    assert instance.status == "completed" and data["outcome"] == "ordered"
    assert data["order"]["sales_document"] == "0000500000"
    assert data["order"]["purchase_order_number"] == "PO-BPMN-1"
    assert sim.store.count_orders() == 1


@pytest.mark.parametrize(("setup", "outcome", "code"), [
    ("customer = '10001'\npo = 'PO-BPMN-2'\nmaterial = 'NO-SUCH-SKU'", "unknown_material",
     "ZDF040"),
    ("customer = '10002'\npo = 'PO-BPMN-3'\nmaterial = 'DF-BV-1001'", "blocked", "F2153"),
])
def test_erp_business_errors_are_caught_by_boundary_error_events(sim, setup, outcome, code):
    sim.faults(blocked_customers=["10002"])
    instance, data = _run_order_model(setup)
    assert instance.status == "completed" and data["outcome"] == outcome
    assert sim.store.count_orders() == 0
    assert db.session.query(Incident).count() == 0


def test_uncaught_business_error_is_an_incident_naming_the_code(sim):
    instance, _ = _run_order_model("customer = '10001'\npo = 'P' * 36\nmaterial = 'DF-BV-1001'")
    [incident] = db.session.query(Incident).all()
    assert "ZDF002" in incident.error and "PURCH_NO_C is longer than 35" in incident.error
    assert instance.status == "running"


@pytest.fixture
def wsse_only_sim(app, tmp_path):
    simulator = create_simulator({"database": str(tmp_path / "sim.db"),
                                  "users": {"rfc_dealerflow": "Pa55-wsse"}, "auth": "wsse"})
    saved = {k: app.config[k] for k in ("ERP_URL", "ERP_USER", "ERP_PASSWORD", "ERP_AUTH")}
    with _serve(simulator) as server:
        app.config["ERP_URL"] = f"http://127.0.0.1:{server.server_port}{SOAP_PATH}"
        try:
            yield
        finally:
            app.config.update(saved)


def _materials() -> dict:
    db.session.commit()
    op = registry.get("erp.get_materials")
    return op.fn(op.load_params({}), CallContext(idempotency_key="1:m", instance_id=1))


def test_simulator_requiring_wsse_accepts_a_username_token_and_refuses_basic(
        app, wsse_only_sim):
    app.config.update(ERP_USER="rfc_dealerflow", ERP_PASSWORD="Pa55-wsse", ERP_AUTH="wsse")
    assert len(_materials()["materials"]) == 10
    app.config["ERP_AUTH"] = "basic"
    with pytest.raises(ConnectorError, match="HTTP 401"):
        _materials()
    app.config.update(ERP_AUTH="wsse", ERP_PASSWORD="wrong")
    with pytest.raises(ConnectorError, match="HTTP 401"):
        _materials()


def test_flask_erp_call_prints_the_result_as_json(app, sim):
    import orjson

    runner = app.test_cli_runner()
    result = runner.invoke(args=["erp", "call", "erp.get_materials", "--params",
                                 '{"category": "BEVTEA", "language": "en"}'])
    assert result.exit_code == 0, result.output
    [tea] = orjson.loads(result.output)["materials"]
    assert tea["material"] == "DF-BV-3001" and tea["description"].startswith("Iced black tea")
    failed = runner.invoke(args=["erp", "call", "erp.get_sales_order_status", "--params",
                                 '{"sales_document": "42"}'])
    assert failed.exit_code == 2 and "ZDF055" in failed.output
    bad = runner.invoke(args=["erp", "call", "erp.get_statement", "--params", "{}"])
    assert bad.exit_code != 0 and "customer_number" in bad.output
    unknown = runner.invoke(args=["erp", "call", "dealers.archive"])
    assert unknown.exit_code != 0 and "erp.get_materials" in unknown.output


@contextmanager
def _running(server):
    """Serve ``server`` (a socketserver with a ``server_port``) on a thread for the block."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _serve(wsgi_app):
    """A threaded werkzeug server for ``wsgi_app`` (it closes every connection)."""
    return _running(make_server("127.0.0.1", 0, wsgi_app, threaded=True))


def _credit(customer="0000010001") -> dict:
    db.session.commit()
    op = registry.get("erp.get_credit_status")
    return op.fn(op.load_params({"customer_number": customer}),
                 CallContext(idempotency_key="k", instance_id=1))


def _keep_alive_front(simulator, peers: list, tls=None):
    """An HTTP/1.1 server that keeps connections open (as SAP's ICM does) in front of the
    simulator, running for a ``with`` block; it notes each request's client port. ``tls``: an
    ``ssl.SSLContext`` (HTTPS)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's name
            peers.append(self.client_address[1])
            body = self.rfile.read(int(self.headers["Content-Length"]))
            r = Client(simulator).post(self.path, data=body, headers=dict(self.headers))
            self.send_response(r.status_code)
            self.send_header("Content-Type", r.headers["Content-Type"])
            self.send_header("Content-Length", str(len(r.data)))
            self.end_headers()
            self.wfile.write(r.data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    return _running(server)


def test_calls_reuse_the_connection_when_the_erp_keeps_it_open(app, tmp_path):
    peers = []
    simulator = create_simulator({"database": str(tmp_path / "sim.db")})
    with _keep_alive_front(simulator, peers) as server:
        app.config["ERP_URL"] = f"http://127.0.0.1:{server.server_port}{SOAP_PATH}"
        figures = [_credit() for _ in range(3)]
    assert len(peers) == 3 and len(set(peers)) == 1  # one TCP connection for three calls
    assert figures[0] == figures[2] and figures[0]["customer_number"] == "0000010001"


def test_a_proxy_from_the_environment_is_used(app, sim, monkeypatch):
    seen = []

    def proxy(environ, start_response):
        seen.append(environ.get("REQUEST_URI") or environ.get("RAW_URI"))
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"proxy refuses"]

    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _serve(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(ConnectorError, match="HTTP 502: proxy refuses"):
            _credit()
    assert seen == [app.config["ERP_URL"]]  # the absolute URL, as a proxy receives it


def test_incident_list_shows_the_connector_error_in_the_admins_language(
        app, api, login, admission_data, sim, monkeypatch):
    mgr, fin = api("mgr_east"), api("finance")
    api("applicant").post("/api/v1/processes/dealer_admission/instances",
                          json={"data": admission_data(level="C")})
    [task] = mgr.get("/api/v1/tasks?scope=group").json
    _approve(mgr, task["id"])
    [task] = fin.get("/api/v1/tasks?scope=group").json
    _approve(fin, task["id"], approved_credit_limit="100000", payment_terms="net30")
    sim.faults(down=True)
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 1)
    run_due_jobs("w1", limit=100)
    [incident] = db.session.query(Incident).all()
    english = incident.error.splitlines()[0]
    assert english.startswith("ConnectorError: ERP answered HTTP 503")

    def summary(page: str) -> str:
        return page.split("<summary>", 1)[1].split("</summary>", 1)[0]

    admin = User.by_username("admin")
    admin.locale = "zh_CN"
    db.session.commit()
    page = login("admin").get("/admin/incidents").get_data(as_text=True)
    assert summary(page).startswith("连接器错误：ERP 返回 HTTP 503：")
    assert english in page  # the stored text, unchanged, under the summary
    admin.locale = "en"
    db.session.commit()
    page = login("admin").get("/admin/incidents").get_data(as_text=True)
    assert summary(page).startswith("ConnectorError: ERP answered HTTP 503") and "连接器" not in page


def test_https_erp_certificate_is_verified_against_the_configured_bundle(
        app, tmp_path, monkeypatch):
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    simulator = create_simulator({"database": str(tmp_path / "sim.db")})
    with _keep_alive_front(simulator, [], tls=context) as server:
        port = server.server_port
        # A certificate from a CA nobody trusts here: refused, before any envelope is sent.
        app.config["ERP_URL"] = f"https://127.0.0.1:{port}{SOAP_PATH}"
        with pytest.raises(ConnectorError, match="unreachable"):
            _credit()
        # The same server once its CA is the configured bundle (read when a client is made).
        bundle = tmp_path / "erp-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        app.config["ERP_URL"] = f"https://localhost:{port}{SOAP_PATH}"
        assert _credit()["customer_number"] == "0000010001"


def test_a_redirecting_erp_address_is_reported_not_followed(app):
    calls = []

    def moved(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("308 Permanent Redirect", [("Location", "http://elsewhere.invalid/soap"),
                                                  ("Content-Type", "text/plain")])
        return [b"moved"]

    with _serve(moved) as server:
        app.config["ERP_URL"] = f"http://127.0.0.1:{server.server_port}{SOAP_PATH}"
        with pytest.raises(ConnectorError, match="ERP answered HTTP 308: moved"):
            _credit()
    assert calls == [SOAP_PATH]  # one POST; the envelope went nowhere else
