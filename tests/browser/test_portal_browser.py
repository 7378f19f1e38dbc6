"""A dealer orders through the portal in Debian's chromium: catalogue → cart with promotions →
submit → customer service approves in the inbox → a real `flask worker` process creates the
ERP sales order in the simulator → the ERP order number shows on the dealer's order page."""


import pytest
from sqlalchemy import func, select

from app.catalog.models import Product
from app.extensions import db
from app.orders.models import SalesOrder
from app.portal.demo import seed_demo_commerce
from tests.browser.conftest import login as _login

pytestmark = pytest.mark.browser


def _add(page, base, material, quantity):
    page.goto(f"{base}/catalog?q={material}")
    row = page.locator("[data-testid=product-row]", has_text=material)
    row.locator("[data-cart-qty]").fill(str(quantity))
    row.locator("[data-add-to-cart]").click()


def test_dealer_orders_with_promotions_and_sees_the_erp_number(live_server, worker, browser, sim, api):
    base = live_server
    seed_demo_commerce()
    db.session.commit()
    ids = {p.material_number: p.id for p in db.session.scalars(select(Product))}
    lines = [{"product_id": ids["DF-BV-1001"], "quantity": 50},
             {"product_id": ids["DF-BV-2001"], "quantity": 20}]
    expected = api("dealer_east").post("/api/v1/promotions/preview", json={"lines": lines}).json
    assert expected["discount_total"] != "0.00"

    # 1. The dealer fills the cart from the catalogue and sees the promotions applied.
    dealer = _login(browser, base, "dealer_east")
    _add(dealer, base, "DF-BV-1001", 50)
    _add(dealer, base, "DF-BV-2001", 20)
    dealer.goto(f"{base}/portal/cart")
    dealer.wait_for_function("document.getElementById('cart-net-total').textContent !== '–'")
    assert dealer.locator("[data-testid=cart-line]").count() == 2
    shown = dealer.inner_text("#cart-net-total").replace(",", "")
    assert shown == expected["net_total"]
    assert dealer.inner_text("#cart-discount").replace(",", "") == expected["discount_total"]
    assert dealer.locator("#cart-promotions li").count() == len(expected["promotions"]) >= 1

    # 2. A double click places one order; the dealer lands on it.
    dealer.dblclick("#cart-submit")
    dealer.wait_for_url(lambda url: "/portal/orders/" in url)
    number = dealer.inner_text("#order-number")
    placed = db.session.scalar(select(func.count(SalesOrder.id)))
    db.session.rollback()  # end the read so the server and the worker can write
    assert placed == 1
    assert dealer.get_attribute("[data-testid=step-erp]", "data-done") == "no"

    # 3. Customer service approves it in the inbox.
    cs = _login(browser, base, "cs")
    cs.goto(f"{base}/inbox?scope=group")
    cs.locator("[data-testid=task-row]", has_text=number).locator("a").first.click()
    cs.click("#claim-btn")
    cs.select_option("[name=decision]", "approve")
    cs.fill("[name=comment]", "ok")
    cs.click("#submit-task")
    cs.wait_for_url(lambda url: "/inbox" in url)
    cs.context.close()

    # 4. The worker checks the credit and creates the ERP order; the dealer sees its number.
    order_url = dealer.url
    for _ in range(60):
        dealer.goto(order_url)
        if dealer.get_attribute("[data-testid=step-erp]", "data-done") == "yes":
            break
        dealer.wait_for_timeout(1000)
    erp_number = dealer.inner_text("[data-testid=erp-number]").strip()
    order_id = int(order_url.rstrip("/").rsplit("/", 1)[1])
    detail = api("admin").get(f"/api/v1/orders/{order_id}").json
    assert len(erp_number) == 10, detail["timeline"]
    assert erp_number in dealer.inner_text("[data-testid=step-erp]")
    dealer.context.close()
