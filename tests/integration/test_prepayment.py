"""Prepayment (预付款): a credit-blocked dealer prepays the shortfall through the bank connector;
the bank's callback wakes the order, which goes on to the ERP. Bad callbacks change nothing."""

import json
import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.core.models import utcnow
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.jobs.timers import fire_due_timers
from app.payments.models import OrderPayment
from app.payments.services import callback_secret, pay_simulated
from connectors.bank import signed_headers
from tests.integration.test_orders_api import _as_erp_materials, _complete, _order

CALLBACK = "/api/v1/payments/callback"


def _callback(client, body, secret=None, now=None, headers=None):
    """POST a bank callback signed as the bank signs it (or with the given ``headers``)."""
    raw = json.dumps(body).encode()
    signed = signed_headers(secret or callback_secret(), raw, now) if headers is None else headers
    return client.client.post(CALLBACK, data=raw, content_type="application/json",
                              headers={**client.headers, **signed})


def _blocked_order(api, catalogue):
    _as_erp_materials(catalogue)
    dealer = api("dealer_east")
    credit = dealer.get("/api/v1/credit").json
    available, limit = Decimal(credit["available"]), Decimal(credit["credit_limit"])
    cases = int((available + limit / 5) / Decimal("58.00")) + 1  # beyond the 10 % tolerance
    order = _order(dealer, catalogue, cola=cases, tea=5).json
    _complete(api("cs"), "cs_review", decision="approve")
    run_due_jobs("test")
    blocked = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert blocked["status"] == "credit_blocked"
    checked = [e for e in blocked["timeline"] if e["kind"] == "credit_checked"][-1]
    shortfall = min(-Decimal(checked["details"]["available_after"]), Decimal(blocked["net_total"]))
    return dealer, blocked, shortfall


def _finance_tasks(api):
    return [t for t in api("finance").get("/api/v1/tasks?scope=group").json
            if t["bpmn_id"] == "finance_release"]


def test_a_prepayment_releases_the_blocked_order_to_the_erp(api, catalogue, sim):
    dealer, order, shortfall = _blocked_order(api, catalogue)
    assert len(_finance_tasks(api)) == 1
    first = dealer.post(f"/api/v1/orders/{order['id']}/prepayment")
    assert first.status_code == 201, first.json
    assert Decimal(first.json["amount"]) == shortfall and first.json["status"] == "requested"
    assert first.json["bank"] == "simulated"
    again = dealer.post(f"/api/v1/orders/{order['id']}/prepayment")
    assert again.status_code == 200 and again.json["bank_reference"] == first.json["bank_reference"]
    assert api("dealer_south").post(f"/api/v1/orders/{order['id']}/prepayment").status_code == 404
    assert api("dealer_south").get(f"/api/v1/orders/{order['id']}/prepayment").status_code == 404
    assert api("cs").post(f"/api/v1/orders/{order['id']}/prepayment").status_code == 403

    assert pay_simulated() == 0  # the simulated bank has not paid yet
    assert pay_simulated(now=utcnow() + timedelta(minutes=5)) == 1
    run_due_jobs("test")
    paid = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert paid["status"] == "in_erp" and paid["parts"][0]["erp_order_number"]
    kinds = [e["kind"] for e in paid["timeline"]]
    assert kinds.index("prepayment_requested") < kinds.index("prepayment_received") < kinds.index("split")
    assert _finance_tasks(api) == []  # the payment came first: finance's task is withdrawn
    payment = dealer.get(f"/api/v1/orders/{order['id']}/prepayment").json
    assert payment["status"] == "paid" and payment["transaction_id"].startswith("SIMTX")
    told = [n for n in dealer.get("/api/v1/notifications").json["items"]
            if n["kind"] == "prepayment_received"]
    assert len(told) == 1 and order["number"] in told[0]["title"]
    assert told[0]["link"] == f"/portal/orders/{order['id']}"

    duplicate = _callback(api("admin"), {
        "order_number": order["number"], "amount": str(shortfall), "transaction_id": "T-2"})
    assert duplicate.status_code == 200 and duplicate.json["duplicate"] is True
    after = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert [e["kind"] for e in after["timeline"]] == kinds


def test_bad_bank_callbacks_change_nothing(api, catalogue, sim):
    dealer, order, shortfall = _blocked_order(api, catalogue)
    admin = api("admin")
    body = {"order_number": order["number"], "amount": str(shortfall), "transaction_id": "T-1"}
    no_request = _callback(admin, body)
    assert no_request.status_code == 404 and no_request.json["code"] == "no_payment_request"
    dealer.post(f"/api/v1/orders/{order['id']}/prepayment")
    unknown = _callback(admin, body | {"order_number": "SO000"})
    assert unknown.status_code == 404
    wrong = _callback(admin, body | {"amount": str(shortfall - 1)})
    assert wrong.status_code == 422 and "amount" in wrong.json["errors"]
    missing = _callback(admin, {"order_number": order["number"]})
    assert missing.status_code == 422 and {"amount", "transaction_id"} <= set(missing.json["errors"])
    assert _callback(dealer, body).status_code == 403
    still = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert still["status"] == "credit_blocked" and len(_finance_tasks(api)) == 1
    assert db.session.scalar(select(OrderPayment.status)) == "requested"

    ok = _callback(admin, body)
    assert ok.status_code == 200 and ok.json == {
        "order_number": order["number"], "status": "paid", "duplicate": False, "matched": True}
    run_due_jobs("test")
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "in_erp"


def test_finance_deciding_first_leaves_no_prepayment_to_make(api, catalogue, sim):
    dealer, order, shortfall = _blocked_order(api, catalogue)
    assert dealer.post(f"/api/v1/orders/{order['id']}/prepayment").status_code == 201
    _complete(api("finance"), "finance_release", decision="release", comment="放行")
    run_due_jobs("test")
    # The bank pays anyway: the payment is recorded for finance, the order is not woken twice.
    late = _callback(api("admin"), {
        "order_number": order["number"], "amount": str(shortfall), "transaction_id": "T-9"})
    assert late.status_code == 200 and late.json["matched"] is False
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "in_erp" and detail["timeline"][-1]["kind"] == "prepayment_unmatched"


def test_an_order_released_by_nobody_is_cancelled_after_the_timeout(api, catalogue, sim):
    dealer, order, _ = _blocked_order(api, catalogue)
    assert fire_due_timers("w1", now=utcnow() + timedelta(days=6)) == 0
    assert fire_due_timers("w1", now=utcnow() + timedelta(days=8)) == 1
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "cancelled" and detail["timeline"][-1]["kind"] == "credit_block_expired"
    assert _finance_tasks(api) == []
    refused = dealer.post(f"/api/v1/orders/{order['id']}/prepayment")
    assert refused.status_code == 409 and refused.json["code"] == "not_credit_blocked"


class _Bank:
    """A bank's HTTP service on a loopback port: records requests, answers as told."""

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        bank = self
        self.requests, self.status = [], 200

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                bank.requests.append((self.path, dict(self.headers), body))
                answer = json.dumps({"id": f"BANK-{len(bank.requests)}"}).encode()
                self.send_response(bank.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bank"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_real_bank_gets_the_request_over_http_and_calls_back(app, api, catalogue, sim):
    bank = _Bank()
    saved = {k: app.config[k] for k in ("BANK_URL", "BANK_TOKEN")}
    app.config.update(BANK_URL=bank.url, BANK_TOKEN="s3cret")
    try:
        dealer, order, shortfall = _blocked_order(api, catalogue)
        bank.status = 503
        down = dealer.post(f"/api/v1/orders/{order['id']}/prepayment")
        assert down.status_code == 503 and down.json["code"] == "bank_unavailable"
        assert db.session.scalar(select(OrderPayment.id)) is None
        assert "prepayment_requested" not in [
            e["kind"] for e in dealer.get(f"/api/v1/orders/{order['id']}").json["timeline"]]

        bank.status = 201
        r = dealer.post(f"/api/v1/orders/{order['id']}/prepayment")
        assert r.status_code == 201 and r.json["bank"] == "http" and r.json["bank_reference"] == "BANK-2"
        path, headers, body = bank.requests[-1]
        assert path == "/bank/payment-requests" and headers["Authorization"] == "Bearer s3cret"
        assert headers["Idempotency-Key"] == f"prepay-{order['number']}"
        assert body["reference"] == order["number"] and Decimal(body["amount"]) == shortfall
        assert body["callback"].endswith("/api/v1/payments/callback")
        assert pay_simulated(now=utcnow() + timedelta(days=1)) == 0  # only the bank pays it

        ok = _callback(api("admin"), {
            "order_number": order["number"], "amount": str(shortfall), "transaction_id": "BK-1",
            "currency": "CNY"})
        assert ok.status_code == 200 and ok.json["matched"] is True
        run_due_jobs("test")
        assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "in_erp"
    finally:
        app.config.update(saved)
        bank.close()


def test_bank_callbacks_without_a_good_recent_signature_are_401_and_change_nothing(
        app, api, catalogue, sim):
    dealer, order, shortfall = _blocked_order(api, catalogue)
    assert dealer.post(f"/api/v1/orders/{order['id']}/prepayment").status_code == 201
    admin = api("admin")
    body = {"order_number": order["number"], "amount": str(shortfall), "transaction_id": "T-7"}
    raw = json.dumps(body).encode()
    good = signed_headers(callback_secret(), raw)
    tampered = json.dumps(body | {"amount": "1.00"}).encode()
    refused = [
        _callback(admin, body, headers={}),  # unsigned: the token alone is not enough
        _callback(admin, body, secret="not-the-shared-secret"),
        _callback(admin, body, now=time.time() - 3600),  # an old callback replayed
        _callback(admin, body, now=time.time() + 3600),
        _callback(admin, body, headers=good | {"X-Bank-Timestamp": "yesterday"}),
        admin.client.post(CALLBACK, data=tampered, content_type="application/json",
                          headers={**admin.headers, **good}),  # body changed after signing
    ]
    assert [r.status_code for r in refused] == [401] * len(refused), [r.json for r in refused]
    assert {r.json["code"] for r in refused} == {"bad_signature"}
    assert db.session.scalar(select(OrderPayment.status)) == "requested"
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "credit_blocked"

    app.config["BANK_CALLBACK_SECRET"] = "shared-with-the-bank"
    try:
        assert _callback(admin, body, secret=callback_secret() + "x").status_code == 401
        ok = _callback(admin, body, secret="shared-with-the-bank")
        assert ok.status_code == 200 and ok.json["status"] == "paid", ok.json
    finally:
        app.config["BANK_CALLBACK_SECRET"] = None
    run_due_jobs("test")
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "in_erp"


def test_the_simulated_bank_signs_its_callbacks(app, api, catalogue, sim):
    """The embedded bank's callback passes the same signature check as an outside bank's."""
    dealer, order, shortfall = _blocked_order(api, catalogue)
    assert dealer.post(f"/api/v1/orders/{order['id']}/prepayment").status_code == 201
    later = utcnow() + timedelta(days=1)
    app.config["BANK_CALLBACK_WINDOW_SECONDS"] = -1  # every signature is out of its window
    try:
        assert pay_simulated(now=later) == 0
    finally:
        app.config["BANK_CALLBACK_WINDOW_SECONDS"] = 300
    payment = db.session.scalar(select(OrderPayment))
    assert payment.status == "requested" and "replay window" in payment.note
    assert pay_simulated(now=later + timedelta(minutes=2)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(OrderPayment.status)) == "paid"
