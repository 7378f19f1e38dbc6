"""The ERP over SOAP: a zeep client on the shipped WSDL, with SAP error semantics.

- The WSDL is read from this package (never fetched); the service address is overridden.
- Every call has an ``operation_timeout``; XML parsing is hardened (no DTD, entities or
  external references).
- ``RETURN`` rows of type E/A (they arrive on HTTP 200) raise ``BusinessError`` with code
  ``<ID><NUMBER>`` (SAP's "message no." notation, e.g. ``F2153``: customer blocked).
- Timeouts, refused connections, SOAP faults, non-XML answers and responses that do not match
  the WSDL raise ``ConnectorError`` (technical: the job retries).
- Every call yields an ``Exchange`` (envelopes, status, duration) with secrets redacted, handed
  to the caller's ``on_exchange`` callback for the message log.
"""

import os
import re
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import certifi
import requests
import urllib3
from lxml import etree
from zeep import Client, Settings, Transport
from zeep import exceptions as zeep_exc
from zeep.helpers import serialize_object
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from connectors.registry import BusinessError, ConnectorError

WSDL_PATH = Path(__file__).with_name("sap_functions.wsdl")
BINDING = "{urn:sap-com:document:sap:rfc:functions}ZDEALERFLOW_BINDING"
REDACTED = "***"
_PASSWORD_EL = re.compile(r"(<(?:[\w-]+:)?Password\b[^>]*>)[^<]*(</)", re.IGNORECASE)
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}


@dataclass(frozen=True)
class ErpSettings:
    url: str
    timeout: float = 5.0
    user: str | None = None
    password: str | None = None
    auth: str = "basic"  # "basic" (HTTP Basic) or "wsse" (WS-Security UsernameToken)


@dataclass
class Exchange:
    """One request/response pair, as stored in the ERP message log."""

    function: str
    url: str
    request_xml: str = ""
    request_headers: dict = field(default_factory=dict)
    response_xml: str = ""
    http_status: int | None = None
    duration_ms: float = 0.0
    outcome: str = "ok"  # ok | business_error | technical_error
    error: str | None = None


_current: ContextVar[Exchange | None] = ContextVar("erp_exchange", default=None)


class RecordingTransport(Transport):
    """A zeep transport that copies the raw envelopes into the current Exchange."""

    def post(self, address, message, headers):
        exchange = _current.get()
        if exchange is not None:
            exchange.request_xml = _text(message)
            exchange.request_headers = dict(headers)
        response = self.send(address, message, headers)
        if exchange is not None:
            exchange.http_status = response.status_code
            exchange.response_xml = _text(response.content)
        return response

    def send(self, address, message, headers):
        """POST one envelope (zeep's own transport: a requests session)."""
        return super().post(address, message, headers)


@dataclass
class PooledResponse:
    """What zeep reads of an HTTP response (``requests.Response``'s names)."""

    status_code: int
    content: bytes
    headers: urllib3.HTTPHeaderDict
    encoding: str | None = None


class PooledTransport(RecordingTransport):
    """POSTs envelopes on a urllib3 connection pool instead of a requests session.

    requests' per-call work (settings merge, hooks, cookies, redirect handling, a stat of the
    CA bundle) costs about as much CPU as zeep's serialisation of a small BAPI call; the
    worker makes one call per service task. The pool keeps the connection alive between calls
    when the ERP does. Used when no proxy and no .netrc entry applies to the ERP's address
    (those are requests' to honour). Errors are urllib3's; ``ErpClient`` maps them as it maps
    requests'. No retries (the job retries, with its idempotency key), and a redirect is not
    followed: it is reported ("ERP answered HTTP 308"), so the address gets fixed instead of
    envelopes and credentials being re-sent elsewhere on every call.
    """

    def __init__(self, session: requests.Session, timeout: float,
                 basic_auth: tuple[str, str] | None = None, ca_bundle: str | None = None):
        super().__init__(session=session, timeout=timeout, operation_timeout=timeout)
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=1, cert_reqs="CERT_REQUIRED",
                                         ca_certs=ca_bundle or certifi.where())
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._headers = {"User-Agent": self.session.headers["User-Agent"],
                         "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
        if basic_auth:
            self._headers.update(urllib3.util.make_headers(basic_auth=":".join(basic_auth)))

    def send(self, address, message, headers):
        response = self._pool.urlopen("POST", address, body=message,
                                      headers={**self._headers, **headers},
                                      timeout=self._timeout, retries=False, redirect=False)
        return PooledResponse(response.status, response.data, response.headers)


def _text(data) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")


def redact(exchange: Exchange, password: str | None) -> None:
    """Blank passwords (UsernameToken, the configured one) and auth headers, in place."""
    def clean(text: str) -> str:
        text = _PASSWORD_EL.sub(rf"\g<1>{REDACTED}\g<2>", text)
        return text.replace(password, REDACTED) if password else text
    exchange.request_xml = clean(exchange.request_xml)
    exchange.response_xml = clean(exchange.response_xml)
    exchange.request_headers = {k: REDACTED if k.lower() in _SECRET_HEADERS else clean(str(v))
                                for k, v in exchange.request_headers.items()}
    if exchange.error:
        exchange.error = clean(exchange.error)


def _zeep_settings() -> Settings:
    return Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                    xml_huge_tree=False, raw_response=False)


def _ca_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _session_for(url: str) -> requests.Session:
    """A session whose environment (proxies, CA bundle, .netrc) is read once, not per call.

    requests re-reads the proxy environment on every request of a ``trust_env`` session, which
    costs more than the SOAP serialisation of a small BAPI call; the values cannot change while
    the process runs. The session belongs to one client, and clients are kept per thread.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    session.verify = _ca_bundle() or True
    netrc = requests.utils.get_netrc_auth(url)
    if netrc:
        session.auth = netrc
    session.trust_env = False
    return session


_document: Document | None = None
_document_lock = threading.Lock()


def shipped_wsdl() -> Document:
    """The shipped WSDL, parsed once per process and shared by every client.

    Parsing it (schemas, bindings, messages) costs tens of milliseconds, for each thread's
    client; the parsed document is only read afterwards. It never fetches anything: the WSDL
    is a local file and external references are forbidden.
    """
    global _document
    with _document_lock:
        if _document is None:
            _document = Document(str(WSDL_PATH), Transport(), settings=_zeep_settings())
        return _document


class ErpClient:
    """Calls the BAPIs of the shipped WSDL at ``settings.url``."""

    def __init__(self, settings: ErpSettings):
        self.settings = settings
        wsse = basic = None
        if settings.user and settings.auth == "wsse":
            wsse = UsernameToken(settings.user, settings.password or "")
        elif settings.user:
            basic = (settings.user, settings.password or "")
        session = _session_for(settings.url)
        if session.proxies or session.auth:  # requests honours them; the pool would not
            if basic:
                session.auth = basic
            transport = RecordingTransport(session=session, timeout=settings.timeout,
                                           operation_timeout=settings.timeout)
        else:
            transport = PooledTransport(session, settings.timeout, basic, _ca_bundle())
        self.client = Client(shipped_wsdl(), transport=transport, settings=_zeep_settings(),
                             wsse=wsse)
        self.service = self.client.create_service(BINDING, settings.url)

    def call(self, function: str, on_exchange: Callable[[Exchange], None] | None = None,
             **params) -> dict:
        """Call ``function``; its response as plain dicts, RETURN rows under ``RETURN``."""
        exchange = Exchange(function, self.settings.url)
        token = _current.set(exchange)
        started = time.perf_counter()
        try:
            result = self._invoke(function, params)
            raise_on_error_rows(result["RETURN"])
            return result
        except BusinessError as exc:
            exchange.outcome, exchange.error = "business_error", f"{exc.code}: {exc.message}"
            raise
        except ConnectorError as exc:
            exchange.outcome, exchange.error = "technical_error", str(exc)
            raise
        finally:
            _current.reset(token)
            exchange.duration_ms = (time.perf_counter() - started) * 1000
            redact(exchange, self.settings.password)
            if on_exchange is not None:
                on_exchange(exchange)

    def _invoke(self, function: str, params: dict) -> dict:
        try:
            raw = getattr(self.service, function)(**to_soap(params))
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            # urllib3's refused connection is a ConnectTimeoutError subclass
            if isinstance(exc, urllib3.exceptions.NewConnectionError):
                raise ConnectorError(f"ERP unreachable at {self.settings.url}: "
                                     f"{type(exc).__name__}") from None
            raise ConnectorError(f"ERP {function} timed out after {self.settings.timeout} s "
                                 f"({self.settings.url})") from None
        except (requests.ConnectionError, urllib3.exceptions.ProtocolError,
                urllib3.exceptions.SSLError) as exc:
            raise ConnectorError(f"ERP unreachable at {self.settings.url}: "
                                 f"{type(exc).__name__}") from None
        except zeep_exc.Fault as exc:
            raise ConnectorError(f"SOAP fault from ERP ({exc.code}): {exc.message}") from None
        except zeep_exc.TransportError as exc:
            body = _text(exc.content)[:200]
            raise ConnectorError(f"ERP answered HTTP {exc.status_code}: {body}") from None
        except (zeep_exc.Error, etree.XMLSyntaxError, requests.RequestException,
                urllib3.exceptions.HTTPError) as exc:
            raise ConnectorError(f"ERP call {function} failed: {type(exc).__name__}: "
                                 f"{exc}") from None
        except (ValueError, ArithmeticError, TypeError) as exc:
            # A response that parses but does not fit the WSDL's types (e.g. "lots" as a
            # CURR amount): zeep raises the plain Python conversion error.
            raise ConnectorError(f"ERP call {function} answered a value that does not fit the "
                                 f"WSDL: {type(exc).__name__}") from None
        return from_soap(dict(serialize_object(raw, dict) or {}))


def to_soap(params: dict) -> dict:
    """RFC-shaped parameters (tables as lists of rows) as zeep wants them (``{"item": rows}``)."""
    return {name: {"item": value} if isinstance(value, list) else value
            for name, value in params.items()}


def from_soap(result: dict) -> dict:
    """A zeep response in the RFC shape: every ``<item>`` table a list of plain dicts."""
    plain = {}
    for name, value in result.items():
        if isinstance(value, dict) and set(value) == {"item"}:
            value = [dict(row) for row in value["item"] or []]
        plain[name] = value
    plain["RETURN"] = list(plain.get("RETURN") or [])
    return plain


def raise_on_error_rows(rows: list[dict]) -> None:
    """E/A rows of a BAPIRET2 table → BusinessError (shared by the SOAP and RFC transports)."""
    errors = [r for r in rows if (r.get("TYPE") or "").upper() in ("E", "A")]
    if not errors:
        return
    first = errors[0]
    code = f"{first.get('ID') or ''}{first.get('NUMBER') or ''}" or "ERP"
    message = "; ".join(r.get("MESSAGE") or "" for r in errors)
    raise BusinessError(code, message, {"return": [_plain(r) for r in errors]})


def _plain(row: dict) -> dict:
    return {k: v for k, v in row.items() if v not in (None, "")}


_local = threading.local()


def client_for(settings: ErpSettings) -> ErpClient:
    """A cached client per thread and settings (zeep clients and sessions stay per thread)."""
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    if settings not in cache:
        cache[settings] = ErpClient(settings)
    return cache[settings]
