"""One price everywhere: K004 (amount off a material) and K007 (a dealer's percent off) records
of applied price changes price the catalogue, the cart preview, the order and the ERP order alike."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.catalog.models import Product
from app.dealers.models import Dealer
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.orders.models import SalesOrder

TODAY = date.today()


def _erp_materials(catalogue):
    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.get(Product, catalogue["FG-TEA-500"]).material_number = "DF-BV-3001"
    db.session.commit()


def _task(client, bpmn_id):
    tasks = [
        t
        for t in client.get("/api/v1/tasks?scope=group").json + client.get("/api/v1/tasks?scope=mine").json
        if t["bpmn_id"] == bpmn_id
    ]
    if not tasks:
        return None
    if tasks[0].get("assignee") is None:
        assert client.post(f"/api/v1/tasks/{tasks[0]['id']}/claim").status_code == 200
    return tasks[0]


def _complete(client, bpmn_id, **data):
    task = _task(client, bpmn_id)
    assert task is not None, f"no {bpmn_id} task"
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    run_due_jobs("test")


def _apply_change(api, lines):
    r = api("cs").post(
        "/api/v1/price-changes",
        json={"reason": "经销商折扣 dealer discounts", "submit_key": uuid.uuid4().hex, "lines": lines},
    )
    assert r.status_code == 201, r.json
    _complete(api("director"), "director_review", decision="approve", comment="同意")
    assert api("cs").get(f"/api/v1/price-changes/{r.json['id']}").json["status"] == "applied"


def _dealers():
    east = db.session.scalar(select(Dealer).where(Dealer.code == "DE000001"))
    south = db.session.scalar(select(Dealer).where(Dealer.code == "DS000001"))
    return east, south


def _catalogue_prices(dealer) -> dict[str, dict]:
    r = dealer.get("/api/v1/catalog/products?per_page=100")
    assert r.status_code == 200, r.json
    return {p["material_number"]: p for p in r.json["items"]}


def _erp_status(number):
    from app.erp.sales import SalesOrderStatusParams, get_sales_order_status
    from connectors.registry import CallContext

    params = SalesOrderStatusParams().load({"sales_document": number})
    return get_sales_order_status(params, CallContext(idempotency_key="t", instance_id=0, actor="t"))


def test_k004_and_k007_give_one_price_in_catalogue_cart_order_and_erp(api, catalogue, sim):
    _erp_materials(catalogue)
    east, south = _dealers()
    tea, cola = catalogue["FG-TEA-500"], catalogue["FG-COLA-330"]
    _apply_change(
        api,
        [
            {
                "condition_type": "K004",
                "product_id": tea,
                "sales_org": "1000",
                "amount": "2.50",
                "valid_from": str(TODAY),
            },
            {"condition_type": "K007", "dealer_id": east.id, "amount": "5", "valid_from": str(TODAY)},
            # expired yesterday: never applies
            {
                "condition_type": "K004",
                "product_id": cola,
                "sales_org": "1000",
                "amount": "4.00",
                "valid_from": str(TODAY - timedelta(days=10)),
                "valid_to": str(TODAY - timedelta(days=1)),
            },
            # the south dealer's own discount: never the east dealer's
            {"condition_type": "K007", "dealer_id": south.id, "amount": "20", "valid_from": str(TODAY)},
        ],
    )

    dealer = api("dealer_east")
    shown = _catalogue_prices(dealer)
    # PR00 42.50 − K004 2.50 = 40.00, − 5 % = 38.00
    assert (shown["DF-BV-3001"]["list_price"], shown["DF-BV-3001"]["material_discount"]) == ("42.50", "2.50")
    assert shown["DF-BV-3001"]["customer_discount_percent"] == "5.00"
    assert shown["DF-BV-3001"]["price"] == "38.00"
    cola_list = Decimal(shown["DF-BV-1001"]["list_price"])
    cola_net = (cola_list * Decimal("0.95")).quantize(Decimal("0.01"))
    assert shown["DF-BV-1001"]["material_discount"] == "0.00"  # the expired K004
    assert Decimal(shown["DF-BV-1001"]["price"]) == cola_net
    assert dealer.get(f"/api/v1/catalog/products/{tea}").json["price"] == "38.00"

    lines = [{"product_id": tea, "quantity": 10}, {"product_id": cola, "quantity": 3}]
    preview = dealer.post("/api/v1/promotions/preview", json={"lines": lines})
    assert preview.status_code == 200, preview.json
    expected_net = 10 * Decimal("38.00") + 3 * cola_net
    expected_list = 10 * Decimal("42.50") + 3 * cola_list
    assert Decimal(preview.json["net_total"]) == expected_net
    assert Decimal(preview.json["list_total"]) == expected_list
    assert Decimal(preview.json["discount_total"]) == expected_list - expected_net
    tea_line = next(ln for ln in preview.json["lines"] if ln["product_id"] == tea)
    assert (tea_line["unit_price"], tea_line["list_price"], tea_line["condition_discount"]) == (
        "38.00",
        "42.50",
        "45.00",
    )

    r = dealer.post(
        "/api/v1/orders",
        json={
            "lines": lines,
            "submit_key": uuid.uuid4().hex,
            "expected_net_total": preview.json["net_total"],
        },
    )
    assert r.status_code == 201, r.json
    assert Decimal(r.json["net_total"]) == expected_net
    assert Decimal(r.json["list_total"]) == expected_list

    _complete(api("cs"), "cs_review", decision="approve")
    director = api("director")
    if _task(director, "shipment_approval") is not None:
        _complete(director, "shipment_approval", decision="approve")
    order = db.session.get(SalesOrder, r.json["id"])
    assert order.status == "in_erp", [e.kind for e in order.events]
    parts = [(p.erp_order_number, p.net_total) for p in order.parts]
    db.session.commit()  # the ERP message log writes in its own transaction
    erp_total, tea_seen = Decimal("0"), False
    for number, net_total in parts:
        erp = _erp_status(number)
        assert Decimal(erp["net_value"]) == net_total  # the ERP agrees part by part
        erp_total += Decimal(erp["net_value"])
        items = {i["item_number"]: i["material"] for i in erp["items"]}
        tea_conditions = {
            c["type"]: Decimal(c["rate"])
            for c in erp["conditions"]
            if items[c["item_number"]] == "DF-BV-3001"
        }
        if tea_conditions:
            tea_seen = True
            assert tea_conditions == {
                "PR00": Decimal("42.50"),
                "K004": Decimal("-2.50"),
                "K007": Decimal("-5"),
            }
    assert tea_seen and erp_total == expected_net


def test_a_k007_approved_after_the_cart_was_priced_stops_the_submit(api, catalogue, sim):
    east, _ = _dealers()
    tea = catalogue["FG-TEA-500"]
    dealer = api("dealer_east")
    lines = [{"product_id": tea, "quantity": 10}]
    before = dealer.post("/api/v1/promotions/preview", json={"lines": lines}).json["net_total"]
    assert before == "425.00"
    _apply_change(
        api, [{"condition_type": "K007", "dealer_id": east.id, "amount": "10", "valid_from": str(TODAY)}]
    )

    r = dealer.post(
        "/api/v1/orders", json={"lines": lines, "submit_key": uuid.uuid4().hex, "expected_net_total": before}
    )
    assert r.status_code == 409 and r.json["code"] == "pricing_changed", r.json
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 0
    assert dealer.post("/api/v1/promotions/preview", json={"lines": lines}).json["net_total"] == "382.50"


def test_another_dealers_k007_never_applies_or_shows(api, catalogue, sim):
    _, south = _dealers()
    tea = catalogue["FG-TEA-500"]
    _apply_change(
        api, [{"condition_type": "K007", "dealer_id": south.id, "amount": "20", "valid_from": str(TODAY)}]
    )

    east_tea = api("dealer_east").get(f"/api/v1/catalog/products/{tea}").json
    assert (east_tea["price"], east_tea["list_price"], east_tea["customer_discount_percent"]) == (
        "42.50",
        "42.50",
        "0.00",
    )
    south_tea = api("dealer_south").get(f"/api/v1/catalog/products/{tea}").json
    assert Decimal(south_tea["price"]) == (Decimal(south_tea["list_price"]) * Decimal("0.80")).quantize(
        Decimal("0.01")
    )
    assert south_tea["customer_discount_percent"] == "20.00"
    # the catalogue page shows the east dealer its plain price, nothing of the south dealer's
    # discount
    page = api("dealer_east").get("/api/v1/catalog/products?q=tea").json["items"]
    assert all(p["customer_discount_percent"] in (None, "0.00") for p in page)


def test_the_catalogue_page_shows_list_price_and_discount(api, login, catalogue, sim):
    east, _ = _dealers()
    _apply_change(
        api, [{"condition_type": "K007", "dealer_id": east.id, "amount": "5", "valid_from": str(TODAY)}]
    )
    html = login("dealer_east").get("/catalog").get_data(as_text=True)
    assert "40.38" in html  # 42.50 − 5 %
    assert "<s>42.50</s>" in html and 'data-testid="price-discount"' in html
