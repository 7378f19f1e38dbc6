"""Prepayment in Debian's chromium with a real `flask worker`: an order beyond the dealer's
credit is blocked → the order page offers to prepay the shortfall → the dealer clicks → the
embedded simulated bank pays a few seconds later (the worker delivers its callback) → the order
goes on to the ERP without finance, and the payment and the ERP number show on the timeline."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.catalog.models import Product
from app.extensions import db
from app.portal.demo import seed_demo_commerce
from tests.browser.conftest import login as _login

pytestmark = pytest.mark.browser


def test_dealer_prepays_a_blocked_order_and_it_reaches_the_erp(
        app, live_server, worker, browser, sim, api):
    base = live_server
    seed_demo_commerce()
    db.session.commit()
    cola = db.session.scalar(select(Product.id).where(Product.material_number == "DF-BV-1001"))
    db.session.rollback()
    saved = app.config["BANK_SIM_PAY_DELAY_SECONDS"]
    app.config["BANK_SIM_PAY_DELAY_SECONDS"] = 2
    try:
        credit = api("dealer_east").get("/api/v1/credit").json
        price = Decimal(api("dealer_east").post("/api/v1/promotions/preview", json={
            "lines": [{"product_id": cola, "quantity": 1}]}).json["lines"][0]["unit_price"])
        cases = int((Decimal(credit["available"]) + Decimal(credit["credit_limit"]) / 5) / price) + 1

        dealer = _login(browser, base, "dealer_east")
        dealer.goto(f"{base}/catalog?q=DF-BV-1001")
        row = dealer.locator("[data-testid=product-row]", has_text="DF-BV-1001")
        row.locator("[data-cart-qty]").fill(str(cases))
        row.locator("[data-add-to-cart]").click()
        dealer.goto(f"{base}/portal/cart")
        dealer.wait_for_function("document.getElementById('cart-net-total').textContent !== '–'")
        dealer.click("#cart-submit")
        dealer.wait_for_url(lambda url: "/portal/orders/" in url)
        number, order_url = dealer.inner_text("#order-number"), dealer.url
        order_id = int(order_url.rstrip("/").rsplit("/", 1)[1])

        cs = _login(browser, base, "cs")
        cs.goto(f"{base}/inbox?scope=group")
        cs.locator("[data-testid=task-row]", has_text=number).locator("a").first.click()
        cs.click("#claim-btn")
        cs.select_option("[name=decision]", "approve")
        cs.click("#submit-task")
        cs.wait_for_url(lambda url: "/inbox" in url)
        cs.context.close()

        # The worker's credit check blocks it: the page offers to prepay the shortfall.
        for _ in range(60):
            dealer.goto(order_url)
            if dealer.locator("#prepay-submit").count():
                break
            dealer.wait_for_timeout(1000)
        assert dealer.get_attribute("#order-status", "data-status") == "credit_blocked"
        detail = api("admin").get(f"/api/v1/orders/{order_id}").json
        checked = [e for e in detail["timeline"] if e["kind"] == "credit_checked"][-1]
        shortfall = min(-Decimal(checked["details"]["available_after"]), Decimal(detail["net_total"]))
        assert f"{shortfall:,.2f}" in dealer.inner_text("#prepay-submit")
        assert [t["bpmn_id"] for t in api("finance").get("/api/v1/tasks?scope=group").json] == [
            "finance_release"]
        dealer.click("#prepay-submit")
        dealer.wait_for_selector("[data-testid=prepayment-status][data-status=requested]")

        # The simulated bank pays; the order goes on to the ERP without finance.
        for _ in range(90):
            dealer.goto(order_url)
            if dealer.get_attribute("[data-testid=step-erp]", "data-done") == "yes":
                break
            dealer.wait_for_timeout(1000)
        detail = api("admin").get(f"/api/v1/orders/{order_id}").json
        kinds = [e["kind"] for e in detail["timeline"]]
        assert "prepayment_received" in kinds and detail["parts"][0]["erp_order_number"], kinds
        assert dealer.get_attribute("[data-testid=prepayment-status]", "data-status") == "paid"
        assert dealer.locator("[data-testid=order-event][data-kind=prepayment_received]").count() == 1
        assert len(dealer.inner_text("[data-testid=erp-number]").strip()) == 10
        assert api("finance").get("/api/v1/tasks?scope=group").json == []
        dealer.context.close()
    finally:
        app.config["BANK_SIM_PAY_DELAY_SECONDS"] = saved
