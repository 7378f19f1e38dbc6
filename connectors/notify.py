"""HTTP adapters for the SMS gateway and the e-signature service.

Both speak a small JSON-over-HTTP protocol with a bearer token; every call has a timeout and
sends an ``Idempotency-Key`` so a retried message is not delivered twice by a gateway that
honours it. Any transport failure or non-2xx answer raises ``ConnectorError`` (the job worker
retries the delivery, then opens an incident). When no URL is configured the platform keeps
messages in its outbox instead (the embedded default), so these adapters are only used against
a real gateway.

SMS: ``POST {url}`` ``{"to": "+86…", "text": "…"}`` → ``{"id": "…"}``.
E-signature: ``POST {url}/contracts`` ``{"contract_id", "signer", "mobile", "title",
"document", "callback"}`` → ``{"id": "…"}``; the service later calls the platform's
``POST /api/v1/messages/esign_signed`` with ``{"correlation": {"contract_id": …}}``.
"""

from dataclasses import dataclass

from connectors.http_json import post_json


@dataclass(frozen=True)
class Gateway:
    url: str
    token: str | None = None
    timeout: float = 5.0

    def post(self, path: str, body: dict, idempotency_key: str) -> dict:
        return post_json(self.url.rstrip("/") + path, body, token=self.token,
                         idempotency_key=idempotency_key, timeout=self.timeout)


def send_sms(gateway: Gateway, to: str, text: str, idempotency_key: str) -> str:
    """Send one SMS; return the gateway's message id."""
    return str(gateway.post("", {"to": to, "text": text}, idempotency_key)["id"])


def send_contract(gateway: Gateway, contract: dict, idempotency_key: str) -> str:
    """Hand a contract to the e-signature service; return its envelope id."""
    return str(gateway.post("/contracts", contract, idempotency_key)["id"])


def send_wecom(gateway: Gateway, to: str, text: str, idempotency_key: str) -> str:
    """Send one WeCom (企业微信) text message through a relay; return its id."""
    return str(gateway.post("", {"touser": to, "msgtype": "text", "text": {"content": text}},
                            idempotency_key)["id"])
