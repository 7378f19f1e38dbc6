"""Inspection plans: creating one from the page, stale edits (409), and what deactivating
does to the plan's open inspections."""


import pytest
from sqlalchemy import select

from app.extensions import db
from app.stores.inspections import generate_inspections
from app.stores.models import Inspection, InspectionPlan, Store, StoreEvent


def _plan(client, **body):
    body = {"name": "月度巡店", "store_type": "standard", "every_months": 1,
            "start_month": "2026-01", "due_days": 20, "threshold": 70} | body
    r = client.post("/api/v1/inspection-plans", json=body)
    assert r.status_code == 201, r.json
    return r.json


def _send(client, method, path, body=None, **headers):
    return client.client.open(path, method=method, json=body,
                              headers=client.headers | headers)


def _plan_row(plan_id):
    db.session.expire_all()
    return db.session.get(InspectionPlan, plan_id)


FORM = {"name": "旗舰店季度巡店", "scope": "type", "store_type": "flagship", "store": "",
        "every_months": "3", "start_month": "2026-02", "due_days": "30", "threshold": "80",
        "checklist": ["hygiene", "display"]}


# -- creating a plan from the page ------------------------------------------------------------

def test_store_operations_create_a_plan_from_the_page(login, make_store):
    store_id = make_store(store_type="flagship")
    page = login("storeops")
    html = page.get("/inspections/plans").get_data(as_text=True)
    assert 'id="new-plan"' in html and 'name="start_month"' in html

    r = page.post("/inspections/plans", data=FORM)
    assert r.status_code == 303
    plan = db.session.scalar(select(InspectionPlan))
    assert (plan.name, plan.store_type, plan.every_months, plan.start_month, plan.due_days,
            plan.threshold, plan.checklist, plan.created_by) == (
        "旗舰店季度巡店", "flagship", 3, "2026-02", 30, 80, ["hygiene", "display"], "storeops")
    assert r.headers["Location"].endswith(f"#plan-{plan.id}")
    assert generate_inspections("2026-05") == 1

    # One store, named by its code.
    code = db.session.get(Store, store_id).code
    r = page.post("/inspections/plans", data=FORM | {
        "name": "单店", "scope": "store", "store": code, "store_type": ""})
    assert r.status_code == 303
    own = db.session.scalar(select(InspectionPlan).where(InspectionPlan.store_id == store_id))
    assert own is not None and own.store_type is None


def test_the_create_form_shows_field_errors_and_the_overlap(login, make_store):
    make_store()
    page = login("storeops")
    r = page.post("/inspections/plans", data=FORM | {
        "name": "", "start_month": "2026-13", "due_days": "0", "threshold": "120"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    for field in ("name", "due_days", "threshold"):
        assert f'data-error="{field}"' in html
    assert 'value="2026-13"' in html  # what was typed stays in the form

    r = page.post("/inspections/plans", data=FORM | {"every_months": "1", "due_days": "45"})
    assert r.status_code == 422 and 'data-error="due_days"' in r.get_data(as_text=True)
    r = page.post("/inspections/plans", data=FORM | {"start_month": "2026-13"})
    assert r.status_code == 422 and 'data-error="start_month"' in r.get_data(as_text=True)
    r = page.post("/inspections/plans", data=FORM | {"checklist": []})
    assert r.status_code == 422 and 'data-error="checklist"' in r.get_data(as_text=True)
    r = page.post("/inspections/plans", data=FORM | {"scope": "store", "store": "NOSUCH"})
    assert r.status_code == 422 and 'data-error="store"' in r.get_data(as_text=True)
    r = page.post("/inspections/plans", data=FORM | {"store_type": ""})
    assert r.status_code == 422 and 'data-error="store_type"' in r.get_data(as_text=True)
    assert db.session.scalar(select(InspectionPlan)) is None

    assert page.post("/inspections/plans", data=FORM).status_code == 303
    first = db.session.scalar(select(InspectionPlan))
    r = page.post("/inspections/plans", data=FORM | {"name": "又一个旗舰计划"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert 'data-conflict="plan_overlaps"' in html and f'href="#plan-{first.id}"' in html
    assert 'value="又一个旗舰计划"' in html
    assert len(db.session.scalars(select(InspectionPlan)).all()) == 1

    # Only store operations may create one; others do not even see the form.
    assert 'id="new-plan"' not in login("inspector").get("/inspections/plans").get_data(
        as_text=True)
    assert login("dealer_east").post("/inspections/plans", data=FORM).status_code == 403
    assert len(db.session.scalars(select(InspectionPlan)).all()) == 1


# -- optimistic lock --------------------------------------------------------------------------

def test_a_stale_api_edit_is_a_409_and_changes_nothing(api):
    ops = api("storeops")
    plan = _plan(ops)
    path = f"/api/v1/inspection-plans/{plan['id']}"
    got = ops.get(path)
    assert got.json["version"] == 1 and got.headers["ETag"] == '"1"'

    r = _send(ops, "PATCH", path, {"threshold": 80, "version": 1})
    assert r.status_code == 200 and r.json["version"] == 2 and r.headers["ETag"] == '"2"'
    # A second client still holding version 1: body or If-Match, both refused.
    r = _send(api("admin"), "PATCH", path, {"due_days": 10, "version": 1})
    assert r.status_code == 409 and r.json["code"] == "plan_changed" and r.json["version"] == 2
    r = _send(ops, "PATCH", path, {"due_days": 10}, **{"If-Match": '"1"'})
    assert r.status_code == 409 and r.json["code"] == "plan_changed"
    r = _send(ops, "PATCH", path, {"due_days": 10}, **{"If-Match": "garbage"})
    assert r.status_code == 409
    r = _send(ops, "DELETE", f"{path}?version=1")
    assert r.status_code == 409
    row = _plan_row(plan["id"])
    assert (row.due_days, row.threshold, row.active, row.version) == (20, 80, True, 2)
    assert [h["action"] for h in ops.get(path).json["history"]] == ["created", "changed"]

    # The current version goes through.
    r = _send(ops, "PATCH", path, {"due_days": 10}, **{"If-Match": '"2"'})
    assert r.status_code == 200 and r.json["due_days"] == 10 and r.json["version"] == 3


def test_a_concurrent_write_between_read_and_update_is_a_409(api, app):
    """Two requests read version 1; the second one's UPDATE finds the row already moved on."""
    from sqlalchemy.orm.attributes import set_committed_value

    from app.core.errors import Conflict
    from app.core.models import User
    from app.stores.inspections import update_plan

    plan = _plan(api("storeops"))
    user = User.by_username("storeops")
    db.session.commit()
    with db.engine.begin() as other:  # another request commits its change first
        other.execute(InspectionPlan.__table__.update().where(
            InspectionPlan.id == plan["id"]).values(threshold=90, version=2))
    stale = db.session.get(InspectionPlan, plan["id"])
    set_committed_value(stale, "version", 1)  # as this request read it, before that commit
    with pytest.raises(Conflict) as refused:
        update_plan(stale, user, {"threshold": 60}, version=1)
    assert refused.value.code == "plan_changed"
    db.session.rollback()
    assert _plan_row(plan["id"]).threshold == 90


def test_a_stale_page_edit_is_a_409_and_shows_the_saved_version(api, login):
    ops = api("storeops")
    plan = _plan(ops)
    page = login("storeops")
    form = {"action": "save", "version": "1", "name": "双月巡店", "every_months": "2",
            "due_days": "30", "threshold": "75", "checklist": ["hygiene"]}
    assert _send(ops, "PATCH", f"/api/v1/inspection-plans/{plan['id']}",
                 {"threshold": 90}).status_code == 200
    r = page.post(f"/inspections/plans/{plan['id']}", data=form)
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert 'data-version="2"' in html and 'value="90"' in html
    row = _plan_row(plan["id"])
    assert (row.name, row.every_months, row.threshold) == ("月度巡店", 1, 90)
    r = page.post(f"/inspections/plans/{plan['id']}", data=form | {"version": "2"})
    assert r.status_code == 303
    assert (_plan_row(plan["id"]).name, _plan_row(plan["id"]).version) == ("双月巡店", 3)


# -- deactivating a plan with open inspections ------------------------------------------------

def _store_events(kind):
    return db.session.scalars(select(StoreEvent).where(StoreEvent.kind == kind)
                              .order_by(StoreEvent.store_id)).all()


def test_deactivating_keeps_open_inspections_unless_asked_to_cancel(api, make_store):
    stores = [make_store(), make_store()]
    ops = api("storeops")
    plan = _plan(ops)
    assert generate_inspections("2026-12") == 2
    db.session.commit()
    path = f"/api/v1/inspection-plans/{plan['id']}"
    assert ops.get(path).json["open_inspections"] == 2

    # Cancelling needs a reason, and only means something when deactivating.
    r = _send(ops, "DELETE", f"{path}?cancel_open=true")
    assert r.status_code == 422 and "reason" in r.json["errors"]
    r = _send(ops, "PATCH", path, {"threshold": 60, "cancel_open": True, "reason": "重复"})
    assert r.status_code == 422 and "cancel_open" in r.json["errors"]
    assert _plan_row(plan["id"]).active is True

    # Default: the plan stops, the inspections already made stay open.
    r = _send(ops, "DELETE", path)
    assert r.status_code == 200 and r.json["active"] is False
    assert set(db.session.scalars(select(Inspection.status))) == {"open"}
    assert _store_events("inspection_cancelled") == []
    history = ops.get(path).json["history"]
    assert history[-1]["action"] == "deactivated" and history[-1]["details"]["kept_open"] == 2

    # Reactivated, then deactivated cancelling them: each store's history says why.
    assert _send(ops, "PATCH", path, {"active": True}).status_code == 200
    r = _send(ops, "DELETE", f"{path}?cancel_open=true&reason=门店改由区域计划覆盖")
    assert r.status_code == 200, r.json
    assert set(db.session.scalars(select(Inspection.status))) == {"cancelled"}
    events = _store_events("inspection_cancelled")
    assert [e.store_id for e in events] == sorted(stores)
    assert {(e.actor, e.message) for e in events} == {("storeops", "门店改由区域计划覆盖")}
    store_history = ops.get(f"/api/v1/stores/{stores[0]}").json["history"]
    assert "inspection_cancelled" in [e["kind"] for e in store_history]
    assert api("inspector").get("/api/v1/inspections?status=open").json == []
    details = ops.get(path).json["history"][-1]["details"]
    assert len(details["cancelled_inspections"]) == 2 and details["reason"] == "门店改由区域计划覆盖"


def test_the_page_asks_what_to_do_with_open_inspections(login, api, make_store):
    store_id = make_store()
    submitted_store = make_store()
    ops = api("storeops")
    plan = _plan(ops)
    generate_inspections("2026-12")
    db.session.commit()
    done = db.session.scalar(select(Inspection).where(Inspection.store_id == submitted_store))
    done.status = "submitted"
    db.session.commit()

    page = login("storeops")
    html = page.get("/inspections/plans").get_data(as_text=True)
    assert 'name="open_inspections" value="keep"' in html and 'data-open="1"' in html
    r = page.post(f"/inspections/plans/{plan['id']}", data={
        "action": "deactivate", "version": "1", "open_inspections": "cancel", "reason": ""})
    assert r.status_code == 422 and 'data-error="reason"' in r.get_data(as_text=True)
    assert _plan_row(plan["id"]).active is True

    r = page.post(f"/inspections/plans/{plan['id']}", data={
        "action": "deactivate", "version": "1", "open_inspections": "cancel",
        "reason": "本月暂停巡店"})
    assert r.status_code == 303
    assert _plan_row(plan["id"]).active is False
    statuses = dict(db.session.execute(select(Inspection.store_id, Inspection.status)).all())
    assert statuses == {store_id: "cancelled", submitted_store: "submitted"}
    [event] = _store_events("inspection_cancelled")
    assert (event.store_id, event.message) == (store_id, "本月暂停巡店")
    assert "本月暂停巡店" in page.get("/inspections/plans").get_data(as_text=True)
