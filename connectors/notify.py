"""HTTP adapters for the SMS gateway and the e-signature service.

Both speak a small JSON-over-HTTP protocol with a bearer token; every call has a timeout and
sends an ``Idempotency-Key`` so a retried message is not delivered twice by a gateway that
honours it. Any transport failure or non-2xx answer raises ``ConnectorError`` (the outbox
retries it). When no URL is configured the platform keeps messages in its outbox instead
(the embedded default), so these adapters are only used against a real gateway.

SMS: ``POST {url}`` ``{"to": "+86…", "text": "…"}`` → ``{"id": "…"}``.
E-signature: ``POST {url}/contracts`` ``{"contract_id", "signer", "mobile", "title",
"document", "callback"}`` → ``{"id": "…"}``; the service later calls the platform's
``POST /api/v1/messages/esign_signed`` with ``{"correlation": {"contract_id": …}}``.
"""

from dataclasses import dataclass

import requests

from connectors.registry import ConnectorError


@dataclass(frozen=True)
class Gateway:
    url: str
    token: str | None = None
    timeout: float = 5.0

    def post(self, path: str, body: dict, idempotency_key: str) -> dict:
        headers = {"Idempotency-Key": idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = requests.post(self.url.rstrip("/") + path, json=body, headers=headers,
                                     timeout=self.timeout)
        except requests.RequestException as exc:
            raise ConnectorError(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise ConnectorError(f"HTTP {response.status_code}: {response.text[:300]}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise ConnectorError(f"Not a JSON answer: {response.text[:200]}") from exc
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ConnectorError(f"Answer without an id: {str(answer)[:200]}")
        return answer


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
