"""``bank.create_payment_request``: the bank connector behind the registry's interface.

The adapter comes from the settings: ``BANK_URL`` set → ``connectors.bank.HttpBank``, else the
embedded ``SimulatedBank`` that pays ``BANK_SIM_PAY_DELAY_SECONDS`` later.
"""

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields

from connectors.bank import HttpBank, PaymentRequest, SimulatedBank
from connectors.registry import CallContext, registry


def bank():
    cfg = current_app.config
    if cfg.get("BANK_URL"):
        return HttpBank(cfg["BANK_URL"], cfg.get("BANK_TOKEN"), float(cfg["BANK_TIMEOUT_SECONDS"]))
    return SimulatedBank(float(cfg["BANK_SIM_PAY_DELAY_SECONDS"]))


class PaymentRequestParams(Schema):
    class Meta:
        unknown = EXCLUDE

    order_number = fields.String(required=True)
    amount = fields.Decimal(required=True)
    currency = fields.String(load_default="CNY")
    payer = fields.String(required=True)
    callback = fields.String(load_default=None, allow_none=True)


@registry.register(
    "bank.create_payment_request",
    schema=PaymentRequestParams,
    description="Ask the bank to collect a dealer's prepayment (callback: POST /api/v1/payments/callback)",
)
def create_payment_request(params: dict, ctx: CallContext) -> dict:
    adapter = bank()
    answer = adapter.request_payment(
        PaymentRequest(params["order_number"], params["amount"], params["currency"], params["payer"],
                       params.get("callback")),
        ctx.idempotency_key,
    )
    return {"bank": adapter.name, "bank_reference": answer.bank_reference,
            "pays_after_seconds": answer.pays_after_seconds}
