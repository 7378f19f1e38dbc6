"""Dealer orders: priced and idempotent submit, scope, review, credit check against the ERP."""

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.jobs.services import run_due_jobs
from app.orders.models import SalesOrder


def _order(dealer, catalogue, cola=10, tea=50, **extra):
    body = {
        "lines": [
            {"product_id": catalogue["FG-TEA-500"], "quantity": tea},
            {"product_id": catalogue["FG-COLA-330"], "quantity": cola},
        ],
        "submit_key": extra.pop("submit_key", uuid.uuid4().hex),
    } | extra
    return dealer.post("/api/v1/orders", json=body)


def _complete(client, bpmn_id, **data):
    tasks = [t for t in client.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == bpmn_id]
    assert tasks, f"no {bpmn_id} task"
    task = tasks[0]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return task


def test_submit_prices_the_order_and_a_double_click_places_one(api, catalogue):
    dealer = api("dealer_east")
    first = _order(dealer, catalogue, submit_key="cart-0001-abcdef")
    assert first.status_code == 201, first.json
    order = first.json
    assert order["number"].startswith("SO") and order["status"] == "submitted"
    assert order["net_total"] == "2705.00"
    assert [(ln["material_number"], ln["quantity"], ln["net_amount"]) for ln in order["lines"]] == [
        ("FG-TEA-500", 50, "2125.00"),
        ("FG-COLA-330", 10, "580.00"),
    ]
    assert [e["kind"] for e in order["timeline"]] == ["submitted"]
    again = _order(dealer, catalogue, submit_key="cart-0001-abcdef")
    assert again.status_code == 200 and again.json["id"] == order["id"]
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 1
    [task] = api("cs").get("/api/v1/tasks?scope=group").json
    assert task["instance_id"] == order["instance_id"] and task["bpmn_id"] == "cs_review"


def test_a_changed_price_is_never_charged_silently(api, catalogue):
    dealer = api("dealer_east")
    r = _order(dealer, catalogue, expected_net_total="2600.00")
    assert r.status_code == 409 and r.json["code"] == "pricing_changed"
    assert r.json["pricing"]["net_total"] == "2705.00"
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 0
    assert _order(dealer, catalogue, expected_net_total="2705.00").status_code == 201


def test_bad_lines_are_refused_and_nothing_is_stored(api, catalogue):
    r = _order(api("dealer_east"), catalogue, tea=7)
    assert r.status_code == 422 and "quantity" in r.json["errors"]["lines"]["0"]
    short_key = api("dealer_east").post("/api/v1/orders", json={"lines": [], "submit_key": "x"})
    assert short_key.status_code == 422 and {"lines", "submit_key"} <= set(short_key.json["errors"])
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 0
    assert _order(api("cs"), catalogue).status_code == 403


def test_dealers_see_only_their_own_orders(api, catalogue):
    order_id = _order(api("dealer_east"), catalogue).json["id"]
    south = api("dealer_south")
    assert south.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert south.get("/api/v1/orders").json == []
    assert [o["id"] for o in api("dealer_east").get("/api/v1/orders").json] == [order_id]
    assert api("cs").get(f"/api/v1/orders/{order_id}").status_code == 200
    assert api("mgr_south").get(f"/api/v1/orders/{order_id}").status_code == 404
    assert api("mgr_east").get(f"/api/v1/orders/{order_id}").status_code == 200
    assert api("applicant").get("/api/v1/orders").status_code == 403


def test_credit_shows_erp_figures_plus_orders_not_yet_in_the_erp(api, catalogue, sim):
    dealer = api("dealer_east")
    before = dealer.get("/api/v1/credit").json
    assert before["source"] == "erp" and before["customer_number"] == "0000010001"
    _order(dealer, catalogue)
    after = dealer.get("/api/v1/credit").json
    assert Decimal(after["platform_pending"]) == Decimal(before["platform_pending"]) + Decimal("2705.00")
    assert Decimal(after["available"]) == Decimal(before["available"]) - Decimal("2705.00")
    sim.faults(down=True)
    offline = dealer.get("/api/v1/credit")
    assert offline.status_code == 200 and offline.json["source"] == "cache"  # the last ERP figures


def test_review_then_credit_check_passes_and_the_order_is_split(api, catalogue, sim):
    dealer = api("dealer_east")
    order = _order(dealer, catalogue).json
    _complete(api("cs"), "cs_review", decision="approve", comment="ok")
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:4] == ["submitted", "credit_checked", "credit_pass", "split"]
    assert detail["credit_result"] == "pass"
    assert [(p["purch_no"], p["order_type"], p["sales_org"]) for p in detail["parts"]] == [
        (f"{order['number']}-1", "ZOR", "1000")
    ]


def test_an_order_beyond_the_credit_goes_to_finance_who_may_release_it(api, catalogue, sim):
    _as_erp_materials(catalogue)
    dealer = api("dealer_east")
    available = Decimal(dealer.get("/api/v1/credit").json["available"])
    limit = Decimal(dealer.get("/api/v1/credit").json["credit_limit"])
    cases = int((available + limit / 5) / Decimal("58.00")) + 1  # beyond the 10 % tolerance
    order = _order(dealer, catalogue, cola=cases, tea=5).json
    _complete(api("cs"), "cs_review", decision="approve")
    run_due_jobs("test")
    blocked = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert blocked["credit_result"] == "block" and blocked["status"] == "credit_blocked"
    assert blocked["parts"] == []
    finance = api("finance")
    [task] = finance.get("/api/v1/tasks?scope=group").json
    assert task["bpmn_id"] == "finance_release"
    finance.post(f"/api/v1/tasks/{task['id']}/claim")
    no_reason = finance.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "reject"}})
    assert no_reason.status_code == 422
    assert (
        finance.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": {"decision": "release", "comment": "预付款已到"}},
        ).status_code
        == 200
    )
    run_due_jobs("test")
    released = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert released["status"] == "in_erp" and len(released["parts"]) == 1
    assert [e["kind"] for e in released["timeline"]][-2:] == ["split", "erp_orders"]


def test_customer_service_rejection_ends_the_order_with_the_reason(api, catalogue):
    dealer = api("dealer_east")
    order = _order(dealer, catalogue).json
    _complete(api("cs"), "cs_review", decision="reject", comment="重复下单")
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "rejected"
    assert detail["timeline"][-1]["kind"] == "rejected" and detail["timeline"][-1]["note"] == "重复下单"
    after = dealer.get("/api/v1/credit")
    assert after.status_code == 200


def _as_erp_materials(catalogue):
    """Give the test products the simulator's material numbers (cola and iced tea)."""
    from app.catalog.models import Product

    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.get(Product, catalogue["FG-TEA-500"]).material_number = "DF-BV-3001"
    db.session.commit()


def test_an_approved_order_becomes_one_erp_sales_order_per_part(api, catalogue, sim):
    _as_erp_materials(catalogue)
    dealer = api("dealer_east")
    order = _order(dealer, catalogue).json
    _complete(api("cs"), "cs_review", decision="approve")
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "in_erp", detail["timeline"]
    [part] = detail["parts"]
    assert len(part["erp_order_number"]) == 10 and part["status"] == "in_erp"
    messages = api("admin").get("/api/v1/erp/messages").json
    assert any(m["operation"] == "erp.create_sales_order" for m in messages)
    assert detail["timeline"][-1]["kind"] == "erp_orders"


def test_a_part_the_erp_rejects_goes_to_customer_service_the_others_stand(api, catalogue, sim):
    from app.catalog.models import Product

    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.commit()  # the tea keeps a material number the ERP does not know
    dealer = api("dealer_east")
    order = _order(dealer, catalogue).json
    _complete(api("cs"), "cs_review", decision="approve")
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    [part] = detail["parts"]
    assert detail["status"] == "erp_error" and part["status"] == "erp_error"
    assert "FG-TEA-500" in part["erp_error"]
    cs = api("cs")
    [task] = [t for t in cs.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == "fix_erp"]
    cs.post(f"/api/v1/tasks/{task['id']}/claim")
    assert (
        cs.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": {"decision": "cancel", "comment": "物料停产"}},
        ).status_code
        == 200
    )
    run_due_jobs("test")
    final = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert final["status"] == "cancelled" and final["parts"][0]["status"] == "cancelled"
