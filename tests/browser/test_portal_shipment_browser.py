"""A dealer order that needs shipment approval, in Debian's chromium: the cart shows a bad
quantity as a readable message, the dealer orders iced tea at its 特价 special price with the
满减 promotion → customer service approves → the sales director approves the shipment (the
special-price part is order type ZSP) → a real `flask worker` creates one ERP sales order per
part → the ERP numbers appear on the dealer's timeline."""

import time

import pytest
from sqlalchemy import select

from app.catalog.models import Product
from app.extensions import db
from app.portal.demo import seed_demo_commerce
from tests.browser.conftest import login as _login

pytestmark = pytest.mark.browser


def _add(page, base, material, quantity):
    page.goto(f"{base}/catalog?q={material}")
    row = page.locator("[data-testid=product-row]", has_text=material)
    row.locator("[data-cart-qty]").fill(str(quantity))
    row.locator("[data-add-to-cart]").click()


def _approve(browser, base, user, number):
    page = _login(browser, base, user)
    page.goto(f"{base}/inbox?scope=group")
    page.locator("[data-testid=task-row]", has_text=number).locator("a").first.click()
    page.click("#claim-btn")
    page.select_option("[name=decision]", "approve")
    page.fill("[name=comment]", "ok")
    page.click("#submit-task")
    page.wait_for_url(lambda url: "/inbox" in url)
    page.context.close()


def _wait_for_task(api, user, number, bpmn_id):
    client = api(user)
    for _ in range(60):
        tasks = [t for t in client.get("/api/v1/tasks?scope=group").json
                 if t["bpmn_id"] == bpmn_id and number in (t.get("title") or "")]
        if tasks:
            return tasks[0]
        time.sleep(0.5)
    raise AssertionError(f"no {bpmn_id} task for {number}")


def test_special_price_order_goes_through_shipment_approval_to_the_erp(
        live_server, worker, browser, sim, api):
    base = live_server
    seed_demo_commerce()
    chips = db.session.scalar(select(Product).where(Product.material_number == "DF-SN-1001"))
    chips.order_multiple = 5
    db.session.commit()

    # 1. A quantity that is not a whole order multiple reads as a sentence, not JSON.
    dealer = _login(browser, base, "dealer_east")
    _add(dealer, base, "DF-SN-1001", 7)
    dealer.goto(f"{base}/portal/cart")
    dealer.wait_for_selector("[data-testid=cart-errors] li")
    message = dealer.inner_text("[data-testid=cart-errors]")
    assert "Line 1" in message and "Quantity" in message and "multiple of 5" in message
    assert "{" not in message and '"' not in message
    dealer.locator("[data-testid=cart-line]").locator("button.link").click()

    # 2. Cola (满减) and iced tea at the special price: the tea makes a ZSP part.
    _add(dealer, base, "DF-BV-1001", 50)
    _add(dealer, base, "DF-BV-3001", 10)
    dealer.goto(f"{base}/portal/cart")
    dealer.wait_for_function("document.getElementById('cart-net-total').textContent !== '–'")
    assert dealer.locator("[data-testid=cart-errors] li").count() == 0
    assert dealer.locator("[data-testid=cart-line]").count() == 2
    ids = {p.material_number: p.id for p in db.session.scalars(select(Product))}
    expected = api("dealer_east").post("/api/v1/promotions/preview", json={"lines": [
        {"product_id": ids["DF-BV-1001"], "quantity": 50},
        {"product_id": ids["DF-BV-3001"], "quantity": 10}]}).json
    db.session.rollback()
    assert {"DEMO-MJ", "DEMO-TJ"} <= {p["code"] for p in expected["promotions"]}
    assert dealer.locator("#cart-promotions li").count() == len(expected["promotions"])
    assert dealer.inner_text("#cart-net-total").replace(",", "") == expected["net_total"]
    dealer.click("#cart-submit")
    dealer.wait_for_url(lambda url: "/portal/orders/" in url)
    number = dealer.inner_text("#order-number")
    order_url = dealer.url
    db.session.rollback()

    # 3. Customer service approves; after the credit check and the split the sales director
    #    gets the shipment approval (nothing reaches the ERP before).
    _approve(browser, base, "cs", number)
    _wait_for_task(api, "director", number, "shipment_approval")
    order_id = int(order_url.rstrip("/").rsplit("/", 1)[1])
    detail = api("admin").get(f"/api/v1/orders/{order_id}").json
    assert sorted(p["order_type"] for p in detail["parts"]) == ["ZOR", "ZSP"]
    assert not any(p["erp_order_number"] for p in detail["parts"])
    _approve(browser, base, "director", number)

    # 4. The worker creates both ERP orders; the dealer sees the numbers on the timeline.
    for _ in range(60):
        dealer.goto(order_url)
        if dealer.get_attribute("[data-testid=step-erp]", "data-done") == "yes":
            break
        dealer.wait_for_timeout(1000)
    numbers = [n.strip() for n in dealer.locator("[data-testid=erp-number]").all_inner_texts()]
    detail = api("admin").get(f"/api/v1/orders/{order_id}").json
    assert len(numbers) == 2 and all(len(n) == 10 for n in numbers), detail["timeline"]
    step = dealer.inner_text("[data-testid=step-erp]")
    assert all(n in step for n in numbers)
    assert dealer.locator("[data-testid=order-event][data-kind=erp_orders]").count() == 1
    assert dealer.inner_text("#order-status") == "In the ERP"
    dealer.context.close()
