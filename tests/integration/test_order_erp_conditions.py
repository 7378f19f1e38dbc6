"""Promotions reach the ERP as condition records per item, and the ERP's net value agrees."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.catalog.models import Product
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.orders.models import SalesOrder
from app.promotions.models import Promotion

TODAY = date.today()


def _live(marketing, **body):
    body = {
        "name_zh": body["code"],
        "name_en": body["code"],
        "valid_from": str(TODAY - timedelta(days=1)),
        "valid_to": str(TODAY + timedelta(days=30)),
    } | body
    r = marketing.post("/api/v1/promotions", json=body)
    assert r.status_code == 201, r.json
    db.session.get(Promotion, r.json["id"]).status = "active"
    db.session.commit()


def _complete(client, bpmn_id, **data):
    [task] = [t for t in client.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == bpmn_id]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json


def _erp_status(number):
    from app.erp.sales import SalesOrderStatusParams, get_sales_order_status
    from connectors.registry import CallContext

    params = SalesOrderStatusParams().load({"sales_document": number})
    return get_sales_order_status(params, CallContext(idempotency_key="t", instance_id=0, actor="t"))


def test_promotions_go_to_the_erp_as_item_conditions_and_the_net_values_agree(api, catalogue, sim):
    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.get(Product, catalogue["FG-TEA-500"]).material_number = "DF-BV-3001"
    db.session.commit()
    marketing = api("marketing")
    # 特价 tea 40.00 for the first 30 cases (list 42.50): a mixed line → PR00 list + RB00.
    _live(
        marketing,
        code="TJ-TEA",
        kind="special_price",
        rule={"price": "40.00", "cap_per_dealer": 30},
        scope={"products": [catalogue["FG-TEA-500"]]},
    )
    # 特价 cola 55.00 without a cap: one price for the whole line → PR00 override.
    _live(
        marketing,
        code="TJ-COLA",
        kind="special_price",
        rule={"price": "55.00"},
        scope={"products": [catalogue["FG-COLA-330"]]},
    )
    # 满减 over everything, special-price lines included: 2,000 → 120 off, shared pro rata.
    _live(
        marketing,
        code="MJ-ALL",
        kind="full_reduction",
        rule={"tiers": [{"threshold": "2000", "discount": "120"}], "include_promoted_lines": True},
    )

    dealer = api("dealer_east")
    r = dealer.post(
        "/api/v1/orders",
        json={
            "lines": [
                {"product_id": catalogue["FG-TEA-500"], "quantity": 45},
                {"product_id": catalogue["FG-COLA-330"], "quantity": 10},
            ],
            "submit_key": uuid.uuid4().hex,
        },
    )
    assert r.status_code == 201, r.json
    # tea 30×40 + 15×42.50 = 1,837.50; cola 10×55 = 550; 2,387.50 − 120 = 2,267.50
    assert r.json["net_total"] == "2267.50"
    _complete(api("cs"), "cs_review", decision="approve")
    run_due_jobs("test")
    _complete(api("director"), "shipment_approval", decision="approve")
    run_due_jobs("test")

    order = db.session.scalar(select(SalesOrder).where(SalesOrder.id == r.json["id"]))
    assert order.status == "in_erp", [e.kind for e in order.events]
    parts = [(p.erp_order_number, p.net_total) for p in order.parts]
    order_total = order.net_total
    db.session.commit()  # the ERP message log writes in its own transaction
    total = Decimal("0")
    by_material = {}
    for number, net_total in parts:
        erp = _erp_status(number)
        assert Decimal(erp["net_value"]) == net_total  # the ERP agrees with the platform
        total += Decimal(erp["net_value"])
        items = {i["item_number"]: i["material"] for i in erp["items"]}
        for cond in erp["conditions"]:
            by_material.setdefault(items[cond["item_number"]], []).append(
                (cond["type"], Decimal(cond["rate"]), Decimal(cond["value"]))
            )
    assert total == order_total == Decimal("2267.50")

    tea, cola = by_material["DF-BV-3001"], by_material["DF-BV-1001"]
    assert tea[0] == ("PR00", Decimal("42.50"), Decimal("1912.50"))
    tea_rebates = sorted(-value for kind, _, value in tea if kind == "RB00")
    cola_rebates = [-value for kind, _, value in cola if kind == "RB00"]
    assert Decimal("75.00") in tea_rebates  # the special price's 30 × 2.50, its own RB00
    assert cola[0] == ("PR00", Decimal("55.00"), Decimal("550.00"))  # PR00 override
    # the 满减's 120 is split over both items, one RB00 each
    assert sum(tea_rebates) - Decimal("75.00") + sum(cola_rebates) == Decimal("120.00")
    assert len(tea_rebates) == 2 and len(cola_rebates) == 1
