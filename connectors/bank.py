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
"""

from dataclasses import dataclass
from decimal import Decimal

from connectors.http_json import post_json
from connectors.registry import ConnectorError


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

    def request_payment(self, request: PaymentRequest, idempotency_key: str) -> BankAnswer:
        if request.amount <= 0:
            raise ConnectorError("The simulated bank refuses a payment request of no amount")
        return BankAnswer(f"SIM-{idempotency_key}"[:40], pays_after_seconds=max(0.0, self.pay_after))
