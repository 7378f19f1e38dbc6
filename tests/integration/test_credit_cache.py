"""The dealer credit cache: the last ERP figures, shown with their age while the ERP is down."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import orjson
from sqlalchemy import select, update

from app.dealers.models import Dealer
from app.erp.models import DealerCreditCache
from app.extensions import db
from app.jobs.models import Incident, Job
from app.jobs.periodic import run_periodic
from app.jobs.services import run_due_jobs


def _order(dealer, catalogue):
    r = dealer.post("/api/v1/orders", json={
        "lines": [{"product_id": catalogue["FG-TEA-500"], "quantity": 50}],
        "submit_key": uuid.uuid4().hex})
    assert r.status_code == 201, r.json
    return r.json


def _cs_approves(api):
    cs = api("cs")
    [task] = [t for t in cs.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == "cs_review"]
    assert cs.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    r = cs.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 200, r.json


def _east_cache():
    db.session.expire_all()
    east = db.session.scalar(select(Dealer).where(Dealer.code == "DE000001"))
    return db.session.scalar(select(DealerCreditCache)
                             .where(DealerCreditCache.dealer_id == east.id))


def _age_cache(hours: float):
    db.session.execute(update(DealerCreditCache).values(
        fetched_at=datetime.utcnow() - timedelta(hours=hours)))
    db.session.commit()


def test_the_erp_down_shows_the_cached_figures_with_their_age(api, login, sim):
    dealer = api("dealer_east")
    live = dealer.get("/api/v1/credit").json
    assert live["source"] == "erp" and live["as_of"]
    row = _east_cache()
    assert row.customer_number == "0000010001"
    assert row.credit_limit == Decimal(live["credit_limit"])
    assert row.total_exposure == Decimal(live["erp_exposure"])

    sim.faults(down=True)
    _age_cache(3)
    offline = dealer.get("/api/v1/credit")
    assert offline.status_code == 200, offline.json
    body = offline.json
    assert body["source"] == "cache"
    assert (body["credit_limit"], body["erp_exposure"], body["available"]) == (
        live["credit_limit"], live["erp_exposure"], live["available"])
    as_of = datetime.fromisoformat(body["as_of"].replace("Z", "+00:00")).replace(tzinfo=None)
    assert timedelta(hours=2, minutes=59) < datetime.utcnow() - as_of < timedelta(hours=3, minutes=1)

    page = login("dealer_east").get("/portal")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="credit-as-of"' in html
    assert "3" in html.split('data-testid="credit-as-of"')[1].split("</p>")[0]  # "3 hours"
    assert "{:,.2f}".format(Decimal(live["credit_limit"])) in html

    # Nothing cached and the ERP down: the dealer master's limit, said as such.
    db.session.execute(DealerCreditCache.__table__.delete())
    db.session.commit()
    master = dealer.get("/api/v1/credit").json
    assert master["source"] == "dealer_master" and master["as_of"] is None


def test_the_credit_check_uses_a_fresh_cache_while_the_erp_is_down(api, catalogue, sim):
    dealer = api("dealer_east")
    limit = dealer.get("/api/v1/credit").json["credit_limit"]  # fills the cache
    sim.faults(down=True)
    order = _order(dealer, catalogue)
    _cs_approves(api)
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    [checked] = [e for e in detail["timeline"] if e["kind"] == "credit_checked"]
    assert checked["details"]["source"] == "cache" and checked["details"]["as_of"]
    assert checked["details"]["credit_limit"] == limit
    assert detail["credit_result"] == "pass"
    # Only the ERP order creation (later, it needs the ERP) waits for the ERP to come back.
    assert {i.operation for i in db.session.scalars(select(Incident))} <= {
        "orders.create_erp_orders"}


def test_a_cache_older_than_the_max_age_goes_the_retry_and_incident_way(api, catalogue, sim,
                                                                         app):
    dealer = api("dealer_east")
    dealer.get("/api/v1/credit")
    sim.faults(down=True)
    _age_cache(app.config["ERP_CREDIT_CACHE_MAX_AGE_SECONDS"] / 3600 + 1)
    order = _order(dealer, catalogue)
    _cs_approves(api)
    run_due_jobs("test")
    db.session.expire_all()
    [incident] = db.session.scalars(select(Incident)).all()
    assert incident.operation == "erp.get_credit_status" and incident.status == "open"
    job = db.session.get(Job, incident.job_id)
    assert job.attempts == app.config["JOB_MAX_ATTEMPTS"]
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    assert "credit_checked" not in [e["kind"] for e in detail["timeline"]]

    # The ERP back: the admin's retry runs the check live and refreshes the cache.
    sim.faults(down=False)
    assert api("admin").post(f"/api/v1/incidents/{incident.id}/retry").status_code == 200
    run_due_jobs("test")
    detail = dealer.get(f"/api/v1/orders/{order['id']}").json
    [checked] = [e for e in detail["timeline"] if e["kind"] == "credit_checked"]
    assert "source" not in checked["details"]
    assert datetime.utcnow() - _east_cache().fetched_at < timedelta(minutes=1)


def test_the_master_data_sync_refreshes_every_erp_customers_credit(app, sim):
    customers = db.session.scalars(select(Dealer.id).where(Dealer.erp_customer_no.is_not(None))).all()
    assert customers
    run = run_periodic("erp.master_data_sync", "test-worker", actor="admin", now=datetime.utcnow())
    assert run.status == "done", run.last_error
    summary = orjson.loads(run.result)
    assert summary["credit_refreshed"] == len(customers) and summary["credit_failed"] == []
    db.session.expire_all()
    rows = db.session.scalars(select(DealerCreditCache)).all()
    assert sorted(r.dealer_id for r in rows) == sorted(customers)
    assert all(r.credit_limit > 0 for r in rows)


def test_the_dealer_sees_the_exposure_split_live_and_from_the_cache(api, login, sim):
    dealer, parts = api("dealer_east"), ("open_orders", "open_deliveries", "open_billing",
                                         "receivables")
    live = dealer.get("/api/v1/credit").json
    split = live["exposure_split"]
    assert sorted(split) == sorted(parts)
    assert sum(Decimal(split[p]) for p in parts) == Decimal(live["erp_exposure"])
    assert any(Decimal(split[p]) for p in parts)
    row = _east_cache()
    assert [Decimal(split[p]) for p in parts] == [getattr(row, p) for p in parts]

    def shown(html):
        return {p: html.split(f'data-testid="exposure-{p.replace("_", "-")}">')[1].split("<")[0]
                for p in parts}

    expected = {p: f"{Decimal(split[p]):,.2f}" for p in parts}
    assert shown(login("dealer_east").get("/portal").get_data(as_text=True)) == expected

    sim.faults(down=True)
    offline = dealer.get("/api/v1/credit").json
    assert offline["source"] == "cache" and offline["exposure_split"] == split
    html = login("dealer_east").get("/portal").get_data(as_text=True)
    assert 'data-testid="credit-as-of"' in html and shown(html) == expected

    db.session.execute(DealerCreditCache.__table__.delete())
    db.session.commit()
    master = dealer.get("/api/v1/credit").json
    assert master["source"] == "dealer_master" and master["exposure_split"] is None
    assert "exposure-open-orders" not in login("dealer_east").get("/portal").get_data(as_text=True)
