"""The periodic delivery poll closes the order-to-cash loop against the ERP simulator."""

import uuid
from datetime import datetime

import requests
from sqlalchemy import func, select

from app.core.models import User
from app.extensions import db
from app.jobs.periodic import run_periodic
from app.jobs.services import run_due_jobs
from app.notify.models import Notification, OutboxMessage
from app.orders.models import SalesOrder

HOUR = 3600


def _advance(sim, seconds):
    r = requests.post(f"{sim.base}/sim/admin/clock", json={"advance_seconds": seconds}, timeout=5)
    assert r.status_code == 200, r.text


def _poll(actor="admin"):
    run = run_periodic("erp.delivery_poll", "test-worker", actor=actor, now=datetime.utcnow())
    assert run is not None and run.status == "done", run.last_error if run else None
    return run


def _placed_order(api, catalogue):
    from app.catalog.models import Product

    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.get(Product, catalogue["FG-TEA-500"]).material_number = "DF-BV-3001"
    db.session.scalar(select(User).where(User.username == "dealer_east")).phone = "13900001234"
    db.session.commit()
    dealer = api("dealer_east")
    body = {"lines": [{"product_id": catalogue["FG-TEA-500"], "quantity": 50},
                      {"product_id": catalogue["FG-COLA-330"], "quantity": 10}],
            "submit_key": uuid.uuid4().hex}
    r = dealer.post("/api/v1/orders", json=body)
    assert r.status_code == 201, r.json
    order = r.json
    cs = api("cs")
    [task] = [t for t in cs.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == "cs_review"]
    assert cs.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    done = cs.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert done.status_code == 200, done.json
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert detail["status"] == "in_erp", detail["timeline"]
    return dealer, detail


def _dealer_counts():
    user = db.session.scalar(select(User).where(User.username == "dealer_east"))
    inbox = db.session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.recipient_id == user.id,
                                     Notification.kind.in_(("order_shipped", "order_invoiced"))))
    sms = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.channel == "sms", OutboxMessage.recipient == user.phone))
    return inbox, sms


def test_goods_issue_ships_the_order_billing_completes_it_and_its_instance(api, catalogue, sim):
    dealer, order = _placed_order(api, catalogue)
    admin = api("admin")
    instance_id = db.session.get(SalesOrder, order["id"]).instance_id
    inbox0, sms0 = _dealer_counts()

    _poll()  # nothing has happened in the ERP yet
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "in_erp"
    assert _dealer_counts() == (inbox0, sms0)

    _advance(sim, 24 * HOUR)  # delivery created and goods issued, not yet billed
    _poll()
    shipped = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert shipped["status"] == "shipped", shipped["timeline"]
    [part] = shipped["parts"]
    assert part["status"] == "shipped" and len(part["delivery_numbers"]) == 1
    assert part["delivery_numbers"][0].startswith("80")
    assert shipped["timeline"][-1]["kind"] == "shipped"
    assert part["delivery_numbers"][0] in shipped["timeline"][-1]["note"]
    assert _dealer_counts() == (inbox0 + 1, sms0 + 1)
    [note] = [n for n in dealer.get("/api/v1/notifications").json["items"] if n["kind"] == "order_shipped"]
    assert order["number"] in note["title"]

    _poll()  # the same ERP data again: nothing changes, nobody is told twice
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["timeline"] == shipped["timeline"]
    assert _dealer_counts() == (inbox0 + 1, sms0 + 1)

    _advance(sim, 2 * HOUR)  # billed
    _poll()
    completed = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert completed["status"] == "completed", completed["timeline"]
    [part] = completed["parts"]
    assert part["status"] == "invoiced" and part["billing_numbers"][0].startswith("90")
    assert [e["kind"] for e in completed["timeline"][-2:]] == ["invoiced", "completed"]
    assert _dealer_counts() == (inbox0 + 2, sms0 + 2)

    assert admin.get(f"/api/v1/instances/{instance_id}").json["status"] == "completed"

    _poll()
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["timeline"] == completed["timeline"]
    assert _dealer_counts() == (inbox0 + 2, sms0 + 2)


def test_an_order_in_the_erp_keeps_its_instance_waiting_for_the_invoice(api, catalogue, sim):
    _, order = _placed_order(api, catalogue)
    instance_id = db.session.get(SalesOrder, order["id"]).instance_id
    running = api("admin").get(f"/api/v1/instances/{instance_id}").json
    assert running["status"] == "running"


def test_a_failing_erp_leaves_the_order_untouched_and_the_run_failed(api, catalogue, sim):
    dealer, order = _placed_order(api, catalogue)
    _advance(sim, 26 * HOUR)
    sim.faults(down=True)
    run = run_periodic("erp.delivery_poll", "test-worker", actor="admin", now=datetime.utcnow())
    assert run.status == "failed" and run.last_error
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "in_erp"
    sim.faults(down=False)
    _poll()
    assert dealer.get(f"/api/v1/orders/{order['id']}").json["status"] == "completed"
