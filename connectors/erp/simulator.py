"""The ERP simulator: a real SOAP 1.1 service on the shipped WSDL, with its own database.

``create_simulator(config)`` returns a Flask app. Config keys (all optional):

- ``database``: path of the simulator's SQLite file (default ``erp-sim.db`` in the cwd);
- ``faults``: initial fault injection, as accepted by ``POST /sim/admin/faults``;
- ``users``: ``{user: password}``; when set, every SOAP call needs HTTP Basic auth or a
  WS-Security UsernameToken matching one of them (else HTTP 401);
- ``auth``: ``"basic"`` or ``"wsse"`` to accept only that kind of credentials (default: either);
- ``clock``: initial clock settings, as accepted by ``POST /sim/admin/clock``.

The clock (``GET``/``POST /sim/admin/clock``, JSON): ``advance_seconds`` moves simulator time
forward, ``offset_seconds`` sets it, ``lead_times`` changes how long orders take to be delivered,
goods-issued, billed and paid (see simulator_clock). Documents catch up on the next call.

Fault injection (``GET``/``POST /sim/admin/faults``, JSON): ``latency_ms`` (added to every call),
``slow_ms`` (extra delay, to outlast client timeouts), ``fault_rate`` (0..1, share of calls
answered with a SOAP Fault), ``down`` (503 with a plain-text body), ``blocked_customers``
(KUNNRs whose credit status answers RETURN E F2/153) and ``hostile`` (answer every call with a
DOCTYPE/XXE, entity-expansion, truncated or wrongly typed envelope). The admin endpoint has no auth: the
simulator is a development and test tool and binds to 127.0.0.1.
"""

import hmac
import secrets
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.datastructures import Authorization
from werkzeug.wsgi import get_input_stream

from connectors.erp.simulator_bapis import dispatch
from connectors.erp.simulator_clock import SimClock
from connectors.erp.simulator_sales_bapis import HANDLERS as SALES_HANDLERS
from connectors.erp.simulator_soap import SoapFault, fault, parse_request, response, username_token
from connectors.erp.simulator_store import SimulatorStore

WSDL_PATH = Path(__file__).with_name("sap_functions.wsdl")
SOAP_PATH = "/sap/bc/srt/rfc/sap/zdealerflow"
DEFAULT_ADDRESS = "http://127.0.0.1:8070" + SOAP_PATH
XML = "text/xml; charset=utf-8"
# Hostile answers (HTTP 200) a client must survive: fault setting ``hostile``.
HOSTILE = {
    "doctype": (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
                b"<soap-env:Body>&xxe;</soap-env:Body></soap-env:Envelope>"),
    "entities": (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                 b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                 b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
                 b"<soap-env:Body>&b;</soap-env:Body></soap-env:Envelope>"),
    "truncated": (b'<?xml version="1.0"?><soap-env:Envelope '
                  b'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Bo'),
    "wrong_type": (b'<?xml version="1.0"?><soap-env:Envelope '
                   b'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>'
                   b'<n0:BAPI_CREDIT_ACCOUNT_GET_STATUSResponse '
                   b'xmlns:n0="urn:sap-com:document:sap:rfc:functions">'
                   b"<CREDIT_LIMIT>lots</CREDIT_LIMIT></n0:BAPI_CREDIT_ACCOUNT_GET_STATUSResponse>"
                   b"</soap-env:Body></soap-env:Envelope>"),
}


class Faults:
    """The current fault-injection settings, shared by the request threads."""

    DEFAULTS = {"latency_ms": 0, "slow_ms": 0, "fault_rate": 0.0, "down": False,
                "blocked_customers": [], "hostile": None}

    def __init__(self, initial: dict | None = None):
        self._lock = threading.Lock()
        self._values = dict(self.DEFAULTS)
        self.update(initial or {})

    def update(self, changes: dict) -> dict:
        unknown = set(changes) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"Unknown fault settings: {', '.join(sorted(unknown))}")
        clean = {k: self._coerce(k, v) for k, v in changes.items()}
        with self._lock:
            self._values.update(clean)
            return self.snapshot_unlocked()

    @staticmethod
    def _coerce(key: str, value):
        if key == "blocked_customers":
            return [str(v).zfill(10) if str(v).isdigit() else str(v) for v in value or []]
        if key == "down":
            return bool(value)
        if key == "hostile":
            if value not in (None, *HOSTILE):
                raise ValueError(f"hostile must be one of {', '.join(HOSTILE)} or null")
            return value
        if key == "fault_rate":
            rate = float(value)
            if not 0 <= rate <= 1:
                raise ValueError("fault_rate must be between 0 and 1")
            return rate
        return max(0, int(value))

    def snapshot_unlocked(self) -> dict:
        return dict(self._values, blocked_customers=list(self._values["blocked_customers"]))

    def snapshot(self) -> dict:
        with self._lock:
            return self.snapshot_unlocked()

    def blocked_customers(self) -> set[str]:
        return set(self.snapshot()["blocked_customers"])


def _wsdl_for(base_url: str) -> bytes:
    """The shipped WSDL with soap:address pointing at this server."""
    text = WSDL_PATH.read_text(encoding="utf-8")
    return text.replace(DEFAULT_ADDRESS, base_url.rstrip("/") + SOAP_PATH).encode()


def _authorised(users: dict | None, environ: dict, header, kind: str | None = None) -> bool:
    if not users:
        return True
    creds = None
    if kind != "wsse":
        auth = Authorization.from_header(environ.get("HTTP_AUTHORIZATION"))
        if auth is not None and auth.type == "basic":
            creds = (auth.username, auth.password)
    if kind != "basic":
        creds = creds or username_token(header)
    if creds is None or creds[0] not in users:
        return False
    return hmac.compare_digest(str(users[creds[0]]).encode(), (creds[1] or "").encode())


_UNAUTHORISED = ("401 UNAUTHORIZED", "text/plain; charset=utf-8", b"Unauthorized",
                 [("WWW-Authenticate", 'Basic realm="SAP NetWeaver"')])
_DOWN = ("503 SERVICE UNAVAILABLE", "text/plain; charset=utf-8",
         b"Service Unavailable: ERP is down", [])


def _soap_call(app: Flask, environ: dict) -> tuple[str, str, bytes, list]:
    """(status, content type, body, extra headers) of one SOAP call."""
    faults: Faults = app.extensions["erp_sim_faults"]
    settings = faults.snapshot()
    delay = settings["latency_ms"] + settings["slow_ms"]
    if delay:
        time.sleep(delay / 1000)
    if settings["down"]:
        return _DOWN
    if settings["hostile"]:
        return "200 OK", XML, HOSTILE[settings["hostile"]], []
    try:
        function, call, header = parse_request(get_input_stream(environ).read())
        if not _authorised(app.config["ERP_SIM_USERS"], environ, header,
                           app.config["ERP_SIM_AUTH"]):
            return _UNAUTHORISED
        if settings["fault_rate"] and secrets.randbelow(10**6) < settings["fault_rate"] * 10**6:
            raise SoapFault("Server", "Injected fault (simulator fault_rate)")
        store = app.extensions["erp_sim_store"]
        handler = SALES_HANDLERS.get(function)
        values = (handler(store, faults, call) if handler
                  else dispatch(function, store, faults, call))
    except SoapFault as exc:
        return "500 INTERNAL SERVER ERROR", XML, fault(exc.code, exc.message), []
    except Exception as exc:  # noqa: BLE001 - like an ABAP short dump: a fault, never a crash
        app.logger.exception("ERP simulator: %s failed", locals().get("function", "?"))
        return ("500 INTERNAL SERVER ERROR", XML,
                fault("Server", f"Runtime error in the function module: {type(exc).__name__}"),
                [])
    return "200 OK", XML, response(function, values), []


class _SoapEndpoint:
    """WSGI middleware answering ``POST SOAP_PATH`` itself; anything else goes to Flask.

    The SOAP endpoint is the simulator's hot path (every ERP call of every worker): it needs
    the request body and, with users configured, the Authorization header — no request
    context, routing, session or response object, which cost more than the call itself.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != SOAP_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        status, content_type, body, extra = _soap_call(self.app, environ)
        start_response(status, [("Content-Type", content_type),
                                ("Content-Length", str(len(body))), *extra])
        return [body]


def _admin_faults(faults: Faults):
    if request.method == "GET":
        return jsonify(faults.snapshot())
    try:
        return jsonify(faults.update(request.get_json(force=True) or {}))
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400


def create_simulator(config: dict | None = None) -> Flask:
    """The simulator as a Flask app (serve it with werkzeug or any WSGI server)."""
    config = config or {}
    app = Flask("erp_simulator")
    app.config["ERP_SIM_USERS"] = config.get("users")
    app.config["ERP_SIM_AUTH"] = config.get("auth")
    clock = SimClock()
    clock.update(config.get("clock") or {})
    app.extensions["erp_sim_clock"] = clock
    app.extensions["erp_sim_store"] = SimulatorStore(config.get("database") or "erp-sim.db",
                                                     clock)
    faults = Faults(config.get("faults"))
    app.extensions["erp_sim_faults"] = faults

    @app.get("/sap/bc/srt/wsdl")
    def wsdl():
        return Response(_wsdl_for(request.host_url), content_type=XML)

    @app.post(SOAP_PATH)
    def soap():  # reached only past the middleware (e.g. a wrapped wsgi_app): same answer
        status, content_type, body, extra = _soap_call(app, request.environ)
        return Response(body, int(status.split()[0]), headers=extra, content_type=content_type)

    @app.route("/sim/admin/faults", methods=["GET", "POST"])
    def admin_faults():
        return _admin_faults(faults)

    @app.route("/sim/admin/clock", methods=["GET", "POST"])
    def admin_clock():
        if request.method == "GET":
            return jsonify(clock.snapshot())
        try:
            return jsonify(clock.update(request.get_json(force=True) or {}))
        except (TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400

    app.wsgi_app = _SoapEndpoint(app, app.wsgi_app)
    return app
