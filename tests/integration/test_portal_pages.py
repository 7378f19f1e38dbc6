"""Dealer portal pages, and the commerce demo data they are shown with in `make run`."""

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.catalog.models import DealerSalesArea, Product, ProductPrice
from app.extensions import db
from app.orders.models import SalesOrder
from app.portal.demo import seed_demo_commerce
from app.promotions.models import GiftStock, Promotion


def _counts() -> dict:
    return {model.__name__: db.session.scalar(select(func.count(model.id)))
            for model in (Product, ProductPrice, DealerSalesArea, Promotion, GiftStock, AuditEvent)}


def _ids() -> dict[str, int]:
    return {p.material_number: p.id for p in db.session.scalars(select(Product))}


def _order(api, lines, **extra):
    body = {"lines": lines, "submit_key": uuid.uuid4().hex} | extra
    r = api.post("/api/v1/orders", json=body)
    assert r.status_code == 201, r.json
    return r.json


def test_commerce_seed_builds_the_simulator_catalogue_once():
    assert seed_demo_commerce() == {"products": 10, "promotions": 3}
    db.session.commit()
    first = _counts()
    assert seed_demo_commerce() == {"products": 0, "promotions": 0}
    db.session.commit()
    assert _counts() == first
    promotions = {p.code: p for p in db.session.scalars(select(Promotion))}
    assert {c: (p.kind, p.status, p.decided_by) for c, p in promotions.items()} == {
        "DEMO-MJ": ("full_reduction", "active", "director"),
        "DEMO-MZ": ("gift", "active", "director"),
        "DEMO-TJ": ("special_price", "active", "director"),
    }
    [stock] = db.session.scalars(select(GiftStock)).all()
    assert stock.quantity == 200 and stock.product_id == _ids()["DF-BV-2001"]
    assert all(p.on_shelf for p in db.session.scalars(select(Product)))


def test_seeded_prices_and_promotions_price_a_dealer_cart(api):
    seed_demo_commerce()
    db.session.commit()
    ids = _ids()
    east, south = api("dealer_east"), api("dealer_south")
    # Cola: base 48.00, east's price list 01 is 3 % lower; tea at the 特价 40.00.
    r = east.post("/api/v1/promotions/preview", json={"lines": [
        {"product_id": ids["DF-BV-1001"], "quantity": 50},
        {"product_id": ids["DF-BV-3001"], "quantity": 10},
        {"product_id": ids["DF-SN-1001"], "quantity": 20}]})
    assert r.status_code == 200, r.json
    prices = {ln["material_number"]: Decimal(ln["unit_price"]) for ln in r.json["lines"]}
    assert prices["DF-BV-1001"] == Decimal("46.56") and prices["DF-SN-1001"] == Decimal("85.36")
    assert {p["code"] for p in r.json["promotions"]} == {"DEMO-MJ", "DEMO-MZ", "DEMO-TJ"}
    assert [(g["material_number"], g["quantity"]) for g in r.json["gifts"]] == [("DF-BV-2001", 2)]
    # South China pays the base price and cannot order personal care (not sold in org 2000).
    r = south.post("/api/v1/promotions/preview",
                   json={"lines": [{"product_id": ids["DF-BV-1001"], "quantity": 1}]})
    assert Decimal(r.json["lines"][0]["unit_price"]) == Decimal("48.00")
    page = south.get("/api/v1/catalog/products?q=DF-PC").json
    assert page["total"] == 0


def test_dashboard_shows_credit_open_orders_and_live_promotions(login, api):
    seed_demo_commerce()
    db.session.commit()
    ids = _ids()
    order = _order(api("dealer_east"), [{"product_id": ids["DF-BV-1001"], "quantity": 10}])
    page = login("dealer_east").get("/portal")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert order["number"] in html and "冰红茶特价40元" in html
    assert "465.60" in html  # the open order counts against the available credit
    south = login("dealer_south").get("/portal").get_data(as_text=True)
    assert order["number"] not in south
    assert login("cs").get("/portal").status_code == 403
    assert login("dealer_east").get("/portal/cart").status_code == 200


def test_order_pages_are_scoped_to_the_dealer(login, api):
    seed_demo_commerce()
    db.session.commit()
    ids = _ids()
    order = _order(api("dealer_east"), [{"product_id": ids["DF-BV-3001"], "quantity": 10}])
    east = login("dealer_east")
    listing = east.get("/portal/orders").get_data(as_text=True)
    assert order["number"] in listing
    detail = east.get(f"/portal/orders/{order['id']}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert 'data-testid="step-submitted" data-done="yes"' in html
    assert 'data-testid="step-erp" data-done="no"' in html
    assert "400.00" in html  # 10 cases of tea at the special price
    south = login("dealer_south")
    assert south.get(f"/portal/orders/{order['id']}").status_code == 404
    assert order["number"] not in south.get("/portal/orders").get_data(as_text=True)
    assert order["number"] in login("cs").get("/portal/orders").get_data(as_text=True)
    assert login("cs").get(f"/portal/orders/{order['id']}").status_code == 200
    assert login("applicant").get("/portal/orders").status_code == 403


def test_the_catalogue_offers_add_to_cart_to_dealers_only(login):
    seed_demo_commerce()
    db.session.commit()
    dealer = login("dealer_east").get("/catalog").get_data(as_text=True)
    assert dealer.count("data-add-to-cart") == 10 and "portal.js" in dealer
    assert "data-add-to-cart" not in login("cs").get("/catalog").get_data(as_text=True)


def test_portal_writes_need_the_csrf_token(app, login):
    seed_demo_commerce()
    db.session.commit()
    ids = _ids()
    east = login("dealer_east")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        html = east.get("/portal/cart").get_data(as_text=True)
        token = html.split('name="csrf-token" content="')[1].split('"')[0]
        body = {"lines": [{"product_id": ids["DF-BV-1001"], "quantity": 1}], "submit_key": "cart-csrf-0001"}
        refused = east.post("/api/v1/orders", json=body)
        assert refused.status_code == 403 and refused.json["code"] == "csrf"
        assert db.session.scalar(select(func.count(SalesOrder.id))) == 0
        preview = east.post("/api/v1/promotions/preview", json={"lines": body["lines"]},
                            headers={"X-CSRFToken": token})
        assert preview.status_code == 200
        placed = east.post("/api/v1/orders", json=body | {"expected_net_total": preview.json["net_total"]},
                           headers={"X-CSRFToken": token})
        assert placed.status_code == 201, placed.json
        again = east.post("/api/v1/orders", json=body | {"expected_net_total": preview.json["net_total"]},
                          headers={"X-CSRFToken": token})
        assert again.status_code == 200 and again.json["id"] == placed.json["id"]
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
