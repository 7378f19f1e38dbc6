"""The bank connector: payment requests for dealer prepayments (预付款).

One interface, two adapters:

- ``HttpBank`` speaks JSON over HTTP with a bearer token: ``POST {url}/payment-requests``
  ``{"reference", "amount", "currency", "payer", "callback"}`` with an ``Idempotency-Key``
  header → ``{"id": "…"}``. When the dealer has paid, the bank calls the ``callback`` address
  (the platform's ``POST /api/v1/payments/callback``) with ``{"order_number", "amount",
  "transaction_id"}``.
- ``SimulatedBank`` is the embedded default: it accepts every request at once and answers
  when it will have been paid (``pay_after`` seconds later); the platform's worker then makes
  the same callback in process.

Transport failures and non-2xx answers raise ``ConnectorError``.

Callbacks are signed: the bank sends ``X-Bank-Timestamp`` (Unix seconds) and
``X-Bank-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared callback secret of
``"<timestamp>." + raw body``. The platform recomputes it (constant-time compare) and refuses a
callback whose timestamp lies outside its replay window. The simulated bank signs its
callbacks the same way (``SimulatedBank.signed_callback``).
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from decimal import Decimal

from connectors.http_json import post_json
from connectors.registry import ConnectorError

SIGNATURE_HEADER = "X-Bank-Signature"
TIMESTAMP_HEADER = "X-Bank-Timestamp"


def callback_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` of ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict:
    """The headers a bank sends with a callback ``body`` signed at ``now``."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: callback_signature(secret, timestamp, body)}


def signature_problem(secret: str, body: bytes, headers, window_seconds: float,
                      now: float | None = None) -> str | None:
    """Why a callback's signature is refused (``None``: it is good)."""
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        return f"Missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header"
    if not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} is not a Unix time"
    if abs((time.time() if now is None else now) - int(timestamp)) > window_seconds:
        return "The callback's timestamp is outside the replay window"
    if not hmac.compare_digest(signature.encode(),
                               callback_signature(secret, timestamp, body).encode()):
        return "Bad callback signature"
    return None


@dataclass(frozen=True)
class PaymentRequest:
    reference: str  # the platform's order number: the correlation key of the callback
    amount: Decimal
    currency: str
    payer: str
    callback: str | None = None


@dataclass(frozen=True)
class BankAnswer:
    bank_reference: str
    pays_after_seconds: float | None = None  # the simulated bank only


@dataclass(frozen=True)
class HttpBank:
    url: str
    token: str | None = None
    timeout: float = 5.0
    name: str = "http"

    def request_payment(self, request: PaymentRequest, idempotency_key: str) -> BankAnswer:
        body = {"reference": request.reference, "amount": str(request.amount),
                "currency": request.currency, "payer": request.payer, "callback": request.callback}
        answer = post_json(self.url.rstrip("/") + "/payment-requests", body, token=self.token,
                           idempotency_key=idempotency_key, timeout=self.timeout)
        return BankAnswer(str(answer["id"]))


@dataclass(frozen=True)
class SimulatedBank:
    pay_after: float = 10.0
    name: str = "simulated"

    @staticmethod
    def signed_callback(secret: str, order_number: str, amount: Decimal,
                        transaction_id: str) -> tuple[bytes, dict]:
        """The simulated bank's callback: the raw JSON body and its signature headers."""
        body = json.dumps({"order_number": order_number, "amount": str(amount),
                           "transaction_id": transaction_id}).encode()
        return body, {"Content-Type": "application/json", **signed_headers(secret, body)}

    def request_payment(self, request: PaymentRequest, idempotency_key: str) -> BankAnswer:
        if request.amount <= 0:
            raise ConnectorError("The simulated bank refuses a payment request of no amount")
        return BankAnswer(f"SIM-{idempotency_key}"[:40], pays_after_seconds=max(0.0, self.pay_after))
