"""JSON over HTTP with a bearer token and an idempotency key: the transport of the small
gateway adapters (SMS, e-signature, bank).

``post_json`` returns the answer object, which must carry an ``id``; a transport failure, a
non-2xx status, a body that is not JSON or an answer without an id raises ``ConnectorError``
(the job worker retries it, then opens an incident).
"""

import requests

from connectors.registry import ConnectorError


def post_json(url: str, body: dict, *, token: str | None, idempotency_key: str,
              timeout: float) -> dict:
    headers = {"Idempotency-Key": idempotency_key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.post(url, json=body, headers=headers, timeout=timeout)
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
