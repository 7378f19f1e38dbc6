"""Dealer portal rough edges: to-dos that link to the dealer's real inbox tasks, an order
returned to the dealer, the prepay offer, translated statuses, and the staff order filters."""

import re
from datetime import date, timedelta

from app.extensions import db
from app.jobs.services import run_due_jobs
from app.orders.models import SalesOrder
from tests.integration.test_orders_api import _complete, _order
from tests.integration.test_prepayment import _blocked_order


def _todos(html: str) -> list[str]:
    return re.findall(r'data-testid="todo" data-kind="(\w+)"', html)


def test_an_order_returned_to_the_dealer_is_a_todo_linking_to_its_inbox_task(api, login, catalogue):
    dealer = api("dealer_east")
    order = _order(dealer, catalogue).json
    cs = api("cs")
    no_reason = cs.get("/api/v1/tasks?scope=group").json[0]
    cs.post(f"/api/v1/tasks/{no_reason['id']}/claim")
    refused = cs.post(f"/api/v1/tasks/{no_reason['id']}/complete", json={"data": {"decision": "to_dealer"}})
    assert refused.status_code == 422 and "comment" in refused.json["errors"]
    returned = cs.post(f"/api/v1/tasks/{no_reason['id']}/complete",
                       json={"data": {"decision": "to_dealer", "comment": "请确认收货地址"}})
    assert returned.status_code == 200, returned.json
    run_due_jobs("test")
    [task] = dealer.get("/api/v1/tasks?scope=mine").json
    assert task["bpmn_id"] == "dealer_revise"
    assert api("dealer_south").get(f"/api/v1/tasks/{task['id']}").status_code in (403, 404)
    page = login("dealer_east").get("/portal").get_data(as_text=True)
    assert _todos(page) == ["task"] and f'href="/tasks/{task["id"]}"' in page
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "returned" and detail["timeline"][-1]["note"] == "请确认收货地址"
    order_page = login("dealer_east").get(f"/portal/orders/{order['id']}").get_data(as_text=True)
    assert "请确认收货地址" in order_page and f'href="/tasks/{task["id"]}"' in order_page
    task_page = login("dealer_east").get(f"/tasks/{task['id']}")
    assert task_page.status_code == 200 and 'name="decision"' in task_page.get_data(as_text=True)

    r = dealer.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"data": {"decision": "resubmit", "comment": "地址无误"}})
    assert r.status_code == 200, r.json
    run_due_jobs("test")
    again = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert again["status"] == "submitted"
    assert [e["kind"] for e in again["timeline"]][-2:] == ["returned", "resubmitted"]
    assert [t["bpmn_id"] for t in cs.get("/api/v1/tasks?scope=group").json] == ["cs_review"]
    assert _todos(login("dealer_east").get("/portal").get_data(as_text=True)) == []


def test_a_dealer_may_cancel_a_returned_order(api, catalogue):
    dealer = api("dealer_east")
    order = _order(dealer, catalogue).json
    _complete(api("cs"), "cs_review", decision="to_dealer", comment="库存不足，是否取消？")
    run_due_jobs("test")
    [task] = dealer.get("/api/v1/tasks?scope=mine").json
    dealer.post(f"/api/v1/tasks/{task['id']}/complete",
                json={"data": {"decision": "cancel", "comment": "取消"}})
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "cancelled" and detail["timeline"][-1]["kind"] == "cancelled_by_dealer"


def test_a_blocked_order_offers_to_prepay_the_shortfall_on_the_portal(api, login, catalogue, sim):
    _, order, shortfall = _blocked_order(api, catalogue)
    web = login("dealer_east")
    dashboard = web.get("/portal").get_data(as_text=True)
    assert "prepay" in _todos(dashboard) and f"{shortfall:,.2f}" in dashboard
    page = web.get(f"/portal/orders/{order['id']}").get_data(as_text=True)
    assert 'id="prepay-submit"' in page and f"{shortfall:,.2f}" in page
    r = web.post(f"/portal/orders/{order['id']}/prepay")
    assert r.status_code == 302
    page = web.get(f"/portal/orders/{order['id']}").get_data(as_text=True)
    assert 'data-status="requested"' in page and 'id="prepay-submit"' not in page
    assert 'data-kind="prepayment_requested"' in page
    assert login("dealer_south").post(f"/portal/orders/{order['id']}/prepay").status_code == 404
    assert login("finance").get(f"/portal/orders/{order['id']}").status_code == 200


def test_statuses_and_events_read_in_the_users_language(api, login, catalogue):
    order = _order(api("dealer_east"), catalogue).json
    web = login("dealer_east")
    web.post("/locale", data={"locale": "zh_CN"})
    zh = web.get(f"/portal/orders/{order['id']}").get_data(as_text=True)
    assert "已提交" in zh and ">submitted<" not in zh
    web.post("/locale", data={"locale": "en"})
    en = web.get(f"/portal/orders/{order['id']}").get_data(as_text=True)
    assert ">Submitted<" in en


def test_staff_order_list_filters_and_pages(api, login, catalogue):
    east, south = api("dealer_east"), api("dealer_south")
    east_ids = [_order(east, catalogue).json["id"] for _ in range(3)]
    south_id = south.post("/api/v1/orders", json={
        "lines": [{"product_id": catalogue["FG-CHIPS-70"], "quantity": 2}],
        "submit_key": "south-order-0001"}).json["id"]
    old = db.session.get(SalesOrder, east_ids[0])
    old.created_at -= timedelta(days=40)
    db.session.commit()
    cs = login("cs")

    def rows(query=""):
        r = cs.get(f"/portal/orders{query}")
        return r.status_code, re.findall(r'/portal/orders/(\d+)"', r.get_data(as_text=True))

    assert rows() == (200, [str(i) for i in (south_id, *reversed(east_ids))])
    assert rows("?region=south") == (200, [str(south_id)])
    assert rows("?dealer=DE000001")[1] == [str(i) for i in reversed(east_ids)]
    since = (date.today() - timedelta(days=7)).isoformat()
    assert rows(f"?date_from={since}&dealer=DE000001")[1] == [str(east_ids[2]), str(east_ids[1])]
    assert rows("?status=submitted&region=east")[1] == [str(i) for i in reversed(east_ids)]
    assert rows("?status=rejected") == (200, [])
    bad = cs.get("/portal/orders?date_from=yesterday&dealer=NOPE&status=lost")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'data-testid="error-date_from"' in html
    assert 'data-testid="error-dealer"' in html
    # A dealer's list never shows another dealer's orders, whatever it filters on.
    assert re.findall(r'/portal/orders/(\d+)"', login("dealer_south").get(
        "/portal/orders?region=east&dealer=DE000001").get_data(as_text=True)) == [str(south_id)]


def test_the_staff_list_pages_through_many_orders(api, login, catalogue):
    from app.portal import views

    views.PER_PAGE, saved = 2, views.PER_PAGE
    try:
        ids = [_order(api("dealer_east"), catalogue).json["id"] for _ in range(5)]
        cs = login("cs")
        first = cs.get("/portal/orders?status=submitted").get_data(as_text=True)
        assert re.findall(r'/portal/orders/(\d+)"', first) == [str(ids[4]), str(ids[3])]
        assert "Page 1 of 3" in first or "第 1 / 3 页" in first
        last = cs.get("/portal/orders?status=submitted&page=3").get_data(as_text=True)
        assert re.findall(r'/portal/orders/(\d+)"', last) == [str(ids[0])]
        assert 'rel="prev" href="/portal/orders?page=2&amp;status=submitted"' in last
    finally:
        views.PER_PAGE = saved


def test_the_orders_api_filters_too(api, catalogue):
    east, south = api("dealer_east"), api("dealer_south")
    east_ids = [_order(east, catalogue).json["id"] for _ in range(2)]
    south_id = south.post("/api/v1/orders", json={
        "lines": [{"product_id": catalogue["FG-CHIPS-70"], "quantity": 2}],
        "submit_key": "south-order-0002"}).json["id"]
    cs = api("cs")

    def ids(query):
        r = cs.get(f"/api/v1/orders{query}")
        assert r.status_code == 200, r.json
        return [o["id"] for o in r.json]

    assert ids("?region=south") == [south_id]
    assert ids(f"?dealer_id={east.get('/api/v1/orders').json[0]['dealer_id']}") == east_ids[::-1]
    assert ids(f"?date_to={(date.today() - timedelta(days=1)).isoformat()}") == []
    assert ids("?per_page=1&page=2") == [east_ids[1]]
    bad = cs.get("/api/v1/orders?status=lost&date_from=soon&page=0")
    assert bad.status_code == 422 and {"status", "date_from", "page"} <= set(bad.json["errors"])
    assert [o["id"] for o in south.get("/api/v1/orders?region=east").json] == []


def test_store_milestones_to_report_are_todos_of_their_dealer_only(login):
    from app.stores.demo import seed_demo_stores

    seed_demo_stores()
    db.session.commit()
    east = login("dealer_east").get("/portal").get_data(as_text=True)
    assert "milestone" in _todos(east) and "上海徐家汇标准店" in east
    assert "/stores/" in east
    south = login("dealer_south").get("/portal").get_data(as_text=True)
    assert "milestone" not in _todos(south) and "上海徐家汇标准店" not in south
