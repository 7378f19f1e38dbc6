"""The ERP over RFC: the same function modules as the SOAP client, called through pyrfc.

pyrfc needs SAP's NW RFC SDK, which cannot be redistributed; it is therefore optional and
imported at call time. Without it every call raises ``ConnectorUnavailable`` (a technical
error: the service task ends in an incident whose text says how to install it), and the app
still starts.

Parameters and results have the shape the SOAP client uses (tables as lists of dicts, RETURN
as BAPIRET2 rows), so the ``erp.*`` operations do not know which transport ran:

- RETURN rows of type E/A → ``BusinessError`` (the same mapping as SOAP);
- ``ABAPApplicationError`` (an exception the function module raises) → ``BusinessError`` with
  the exception key as code;
- communication, logon and runtime errors → ``ConnectorError`` (the job retries).

Function modules that write are followed by BAPI_TRANSACTION_COMMIT (WAIT = X) when they
succeed and by BAPI_TRANSACTION_ROLLBACK when they answer an error, on the same connection.
"""

import contextlib
import datetime as dt
import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import orjson

from connectors.erp.soap import REDACTED, Exchange, raise_on_error_rows
from connectors.registry import BusinessError, ConnectorError, ConnectorUnavailable

INSTALL_GUIDANCE = (
    "The RFC transport needs pyrfc, which is not installed. Download the SAP NW RFC SDK "
    "(SAP Support Portal, S-user required), unpack it, set SAPNWRFC_HOME to its directory, "
    "then `pip install pyrfc` in this environment and restart the worker. Or set "
    "DEALERFLOW_ERP_TRANSPORT=soap to call the ERP over SOAP.")
WRITING = {"BAPI_CUSTOMER_CREATEFROMDATA1", "BAPI_SALESORDER_CREATEFROMDAT2",
           "ZDF_CREDIT_LIMIT_SET", "ZDF_PRICE_CONDITIONS_SET"}
_SECRET_KEYS = {"passwd", "password", "snc_myname", "x509cert"}


@dataclass(frozen=True)
class RfcSettings:
    """Connection parameters as pyrfc.Connection takes them (ashost, sysnr, client, …)."""

    connection: tuple  # sorted (key, value) pairs, hashable for the client cache
    user: str | None = None
    password: str | None = None

    def params(self) -> dict:
        params = dict(self.connection)
        if self.user:
            params["user"] = self.user
        if self.password:
            params["passwd"] = self.password
        return params

    @property
    def url(self) -> str:
        c = dict(self.connection)
        where = c.get("ashost") or c.get("mshost") or c.get("dest") or "?"
        return f"rfc://{where}/{c.get('sysnr', '')}/{c.get('client', '')}"


def load_pyrfc():
    """The pyrfc module, or ConnectorUnavailable with install guidance."""
    try:
        return importlib.import_module("pyrfc")
    except ImportError:
        raise ConnectorUnavailable(INSTALL_GUIDANCE) from None


def to_rfc(value):
    """SOAP-shaped values as pyrfc takes them: dates YYYYMMDD, Decimals kept, None dropped."""
    if isinstance(value, dict):
        return {k: to_rfc(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_rfc(v) for v in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value.replace("-", "")  # DATS
    return value


def from_rfc(value):
    """pyrfc results in the SOAP client's shape: dates as YYYY-MM-DD, blanks as None."""
    if isinstance(value, dict):
        return {k: from_rfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_rfc(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        value = value.rstrip()
        return value or None
    return value


def _json(data) -> str:
    def default(obj):
        if isinstance(obj, Decimal | dt.date):
            return str(obj)
        raise TypeError
    return orjson.dumps(data, default=default).decode()


class RfcClient:
    """Calls function modules over one pyrfc connection (opened on first use)."""

    def __init__(self, settings: RfcSettings, pyrfc_module=None):
        self.settings = settings
        self._pyrfc = pyrfc_module
        self._conn = None

    def _connection(self):
        if self._conn is None:
            self._conn = self._pyrfc.Connection(**self.settings.params())
        return self._conn

    def call(self, function: str, on_exchange: Callable[[Exchange], None] | None = None,
             **params) -> dict:
        exchange = Exchange(function, self.settings.url)
        clean = to_rfc(params)
        exchange.request_xml = _json({function: clean})
        started = time.perf_counter()
        try:
            result = self._invoke(function, clean)
            exchange.response_xml = _json(result)
            raise_on_error_rows(result["RETURN"])
            return result
        except BusinessError as exc:
            exchange.outcome, exchange.error = "business_error", f"{exc.code}: {exc.message}"
            raise
        except ConnectorError as exc:
            exchange.outcome, exchange.error = "technical_error", str(exc)
            raise
        finally:
            exchange.duration_ms = (time.perf_counter() - started) * 1000
            if self.settings.password:
                for name in ("request_xml", "response_xml", "error"):
                    text = getattr(exchange, name)
                    if text:
                        setattr(exchange, name, text.replace(self.settings.password, REDACTED))
            if on_exchange is not None:
                on_exchange(exchange)

    def _invoke(self, function: str, params: dict) -> dict:
        pyrfc = self._pyrfc = self._pyrfc or load_pyrfc()
        try:
            conn = self._connection()
            raw = conn.call(function, **params)
            result = from_rfc(dict(raw))
            rows = result.get("RETURN") or []
            result["RETURN"] = [rows] if isinstance(rows, dict) else list(rows)
            if function in WRITING:
                failed = any((r.get("TYPE") or "").upper() in ("E", "A")
                             for r in result["RETURN"])
                if failed:
                    conn.call("BAPI_TRANSACTION_ROLLBACK")
                else:
                    conn.call("BAPI_TRANSACTION_COMMIT", WAIT="X")
            return result
        except pyrfc.ABAPApplicationError as exc:
            key = getattr(exc, "key", None) or "ABAP"
            raise BusinessError(key, f"{function} raised {key}: {getattr(exc, 'message', exc)}",
                                {"function": function}) from None
        except pyrfc.RFCError as exc:
            self._drop()
            raise ConnectorError(f"RFC call {function} failed ({type(exc).__name__}): "
                                 f"{getattr(exc, 'message', exc)}") from None

    def _drop(self) -> None:
        """Forget a connection after a technical error (the next call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                conn.close()


def settings_from(connection: dict, user: str | None, password: str | None) -> RfcSettings:
    """RfcSettings from a config dict; secrets in the dict are not kept in ``connection``."""
    params = {str(k): str(v) for k, v in (connection or {}).items()
              if str(k).lower() not in _SECRET_KEYS}
    return RfcSettings(tuple(sorted(params.items())), user, password)


_local = threading.local()


def client_for(settings: RfcSettings) -> RfcClient:
    """A cached client per thread and settings (pyrfc connections are not thread-safe)."""
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    if settings not in cache:
        cache[settings] = RfcClient(settings)
    return cache[settings]
