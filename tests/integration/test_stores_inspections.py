"""Inspection plans, once-per-slot generation, the checklist, corrective actions, closure."""

import io
from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.jobs.services import run_due_jobs
from app.stores.inspections import generate_inspections
from app.stores.models import Inspection, InspectionPlan, Store, StoreEvent
from tests.conftest import tiny_png


def _plan(client, **body):
    body = {"name": "月度巡店", "store_type": "standard", "every_months": 1,
            "start_month": "2026-01", "due_days": 20, "threshold": 70} | body
    return client.post("/api/v1/inspection-plans", json=body)


CHECKLIST = {"items": [{"item": "hygiene", "score": 9}, {"item": "display", "score": 8},
                       {"item": "service", "score": 9}, {"item": "decoration", "score": 8}]}
LOW = {"items": [{"item": "hygiene", "score": 3, "note": "地面脏"},
                 {"item": "display", "score": 5}, {"item": "service", "score": 8},
                 {"item": "decoration", "score": 6}]}


def test_generation_is_once_per_slot_and_follows_the_plan_period(api, make_store):
    ops = api("storeops")
    east = [make_store() for _ in range(3)]
    make_store(status="closed")
    south = make_store(dealer_code="DS000001")
    flagship = make_store(store_type="flagship")
    assert _plan(ops).status_code == 201
    r = _plan(ops, name="旗舰店季度", store_type="flagship", every_months=3, start_month="2026-02")
    assert r.status_code == 201

    assert generate_inspections("2026-12") == 4  # standard, active: 3 east + 1 south
    assert generate_inspections("2026-12") == 0
    r = ops.post("/api/v1/inspections/generate", json={"slot": "2026-12"})
    assert r.status_code == 200 and r.json["created"] == 0
    assert generate_inspections("2026-11") == 5  # Nov is a quarter month of the flagship plan
    db.session.commit()
    rows = db.session.scalars(select(Inspection).where(Inspection.slot == "2026-12")).all()
    assert sorted(i.store_id for i in rows) == sorted([*east, south])
    assert {i.due_on for i in rows} == {date(2026, 12, 20)}
    assert flagship in {i.store_id for i in db.session.scalars(
        select(Inspection).where(Inspection.slot == "2026-11"))}

    # The east inspector sees the east ones only; a dealer only its own stores'.
    seen = api("inspector").get("/api/v1/inspections?slot=2026-12&status=open").json
    assert sorted(i["store_id"] for i in seen) == sorted(east)
    assert [i["store_id"] for i in api("dealer_south").get("/api/v1/inspections?slot=2026-12")
            .json] == [south]
    r = ops.post("/api/v1/inspections/generate", json={"slot": "2026-13"})
    assert r.status_code == 422 and "slot" in r.json["errors"]


def test_plans_that_would_overlap_are_refused(api, make_store):
    ops = api("storeops")
    r = _plan(ops, every_months=1, due_days=45)
    assert r.status_code == 422 and "会与下一次巡店重叠" in r.json["errors"]["due_days"][0]
    assert _plan(ops).status_code == 201
    r = _plan(ops, name="second")
    assert r.status_code == 409 and r.json["code"] == "plan_overlaps"
    assert _plan(ops, every_months=5).status_code == 422
    assert _plan(api("dealer_east")).status_code == 403
    assert len(api("storeops").get("/api/v1/inspection-plans").json) == 1
    # A store with its own plan is not inspected twice by its type's plan.
    own = make_store()
    other = make_store()
    assert _plan(ops, name="单店", store_type=None, store_id=own).status_code == 201
    assert generate_inspections("2026-12") == 2
    db.session.commit()
    plans = {i.store_id: i.plan_id for i in db.session.scalars(select(Inspection))}
    assert plans[own] != plans[other]


def test_low_score_opens_the_dealers_corrective_action_and_reinspection(api, make_store):
    store_id = make_store()
    _plan(api("storeops"))
    generate_inspections("2026-12")
    db.session.commit()
    inspector = api("inspector")
    [todo] = inspector.get("/api/v1/inspections?status=open").json
    r = inspector.post("/api/v1/stores/photos", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(tiny_png()), "floor.png"),
                             "taken_at": "2026-11-03T09:15:00+08:00"})
    photo = r.json
    assert photo["taken_at"].startswith("2026-11-03T01:15")

    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit",
                       json=LOW | {"photos": [photo["attachment_id"]]})
    assert r.status_code == 200, r.json
    assert r.json["score"] == 55 and r.json["corrective_status"] == "open"
    again = inspector.post(f"/api/v1/inspections/{todo['id']}/submit", json=CHECKLIST)
    assert again.status_code == 409 and again.json["code"] == "inspection_closed"

    detail = inspector.get(f"/api/v1/inspections/{todo['id']}").json
    assert detail["score"] == 55 and len(detail["scores"]) == 4
    assert detail["photos"][0]["taken_at"].startswith("2026-11-03T01:15")

    dealer = api("dealer_east")
    [task] = dealer.get("/api/v1/tasks?scope=mine").json
    assert task["bpmn_id"] == "corrective_action" and task["due_at"]
    assert api("dealer_south").get("/api/v1/tasks?scope=group").json == []
    r = dealer.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {
        "actions_taken": "重新清洁并调整陈列", "completed_on": date.today().isoformat()}})
    assert r.status_code == 200, r.json
    [recheck] = [t for t in inspector.get("/api/v1/tasks?scope=group").json
                 if t["bpmn_id"] == "reinspection"]
    r = inspector.post(f"/api/v1/tasks/{recheck['id']}/complete",
                       json={"data": {"decision": "pass", "reinspection_score": 85}})
    assert r.status_code == 200, r.json
    assert run_due_jobs("test") == 1
    db.session.remove()
    found = db.session.get(Inspection, todo["id"])
    assert found.corrective_status == "passed" and found.reinspection_score == 85
    kinds = [e.kind for e in db.session.scalars(select(StoreEvent).where(
        StoreEvent.store_id == store_id).order_by(StoreEvent.id))]
    assert kinds == ["inspected", "corrective_action_opened", "reinspected"]

    board = api("storeops").get("/api/v1/inspections/dashboard").json
    assert board["worst_items"][0]["item"] == "hygiene"
    assert board["by_region"] == [{"slot": "2026-12", "key": "east", "score": 55.0}]


def test_good_score_opens_nothing_and_incomplete_checklist_is_refused(api, make_store):
    make_store()
    _plan(api("storeops"))
    generate_inspections("2026-12")
    db.session.commit()
    inspector = api("inspector")
    [todo] = inspector.get("/api/v1/inspections").json
    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit",
                       json={"items": CHECKLIST["items"][:3]})
    assert r.status_code == 422 and "decoration" in r.json["errors"]["items"][0]
    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit",
                       json={"items": [{"item": "hygiene", "score": 11}]})
    assert r.status_code == 422
    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit", json=CHECKLIST)
    assert r.status_code == 200 and r.json["score"] == 85
    assert r.json["corrective_instance_id"] is None
    assert api("dealer_east").get("/api/v1/tasks?scope=mine").json == []
    assert api("dealer_east").post(f"/api/v1/inspections/{todo['id']}/submit",
                                   json=CHECKLIST).status_code == 403


def test_closing_with_open_items_is_refused_or_cancels_them_explicitly(api, make_store):
    store_id = make_store()
    _plan(api("storeops"))
    generate_inspections("2026-12")
    db.session.commit()
    dealer = api("dealer_east")
    r = dealer.post(f"/api/v1/stores/{store_id}/closure", json={"reason": "租约到期"})
    assert r.status_code == 409 and r.json["code"] == "store_has_open_items"
    assert len(r.json["open"]["inspections"]) == 1
    assert api("dealer_south").post(f"/api/v1/stores/{store_id}/closure",
                                    json={"reason": "x y"}).status_code == 404

    r = dealer.post(f"/api/v1/stores/{store_id}/closure",
                    json={"reason": "租约到期", "cancel_open_items": True})
    assert r.status_code == 201, r.json
    instance_id = r.json["id"]
    for user, step in (("mgr_east", "manager_review"), ("storeops", "ops_review")):
        client = api(user)
        [task] = [t for t in client.get("/api/v1/tasks?scope=group").json
                  if t["bpmn_id"] == step]
        assert client.post(f"/api/v1/tasks/{task['id']}/complete",
                           json={"data": {"decision": "approve"}}).status_code == 200
    assert run_due_jobs("test") == 1
    db.session.remove()
    store = db.session.get(Store, store_id)
    assert store.status == "closed" and store.status_reason == "租约到期"
    assert db.session.scalars(select(Inspection.status)).all() == ["cancelled"]
    kinds = [e.kind for e in db.session.scalars(select(StoreEvent).where(
        StoreEvent.store_id == store_id).order_by(StoreEvent.id))]
    assert kinds == ["closure_requested", "open_items_cancelled", "status_changed"]
    assert dealer.get(f"/api/v1/instances/{instance_id}").json["outcome"] == "closed"
    assert not db.session.scalar(select(InspectionPlan.active).where(
        InspectionPlan.store_id == store_id))  # type plans stay; none of its own here
    assert generate_inspections("2027-01") == 0


def test_suspension_needs_approval_and_a_rejection_keeps_the_store(api, make_store):
    store_id = make_store()
    ops = api("storeops")
    r = ops.post(f"/api/v1/stores/{store_id}/suspension", json={"reason": "装修整改"})
    assert r.status_code == 201, r.json
    mgr = api("mgr_east")
    [task] = mgr.get("/api/v1/tasks?scope=group").json
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                 json={"data": {"decision": "reject", "comment": "旺季不停业"}})
    assert r.status_code == 200
    assert run_due_jobs("test") == 0
    db.session.remove()
    assert db.session.get(Store, store_id).status == "active"
    r = ops.post(f"/api/v1/stores/{store_id}/suspension", json={"reason": "装修整改"})
    for user, step in (("mgr_east", "manager_review"), ("storeops", "ops_review")):
        client = api(user)
        [task] = [t for t in client.get("/api/v1/tasks?scope=group").json
                  if t["bpmn_id"] == step]
        client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert run_due_jobs("test") == 1
    db.session.remove()
    assert db.session.get(Store, store_id).status == "suspended"
    r = ops.post(f"/api/v1/stores/{store_id}/suspension", json={"reason": "again"})
    assert r.status_code == 409 and r.json["code"] == "wrong_status"

    r = api("dealer_east").post(f"/api/v1/stores/{store_id}/resumption",
                                json={"reason": "装修完成"})
    assert r.status_code == 201, r.json
    for user, step in (("mgr_east", "manager_review"), ("storeops", "ops_review")):
        client = api(user)
        [task] = [t for t in client.get("/api/v1/tasks?scope=group").json
                  if t["bpmn_id"] == step]
        client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert run_due_jobs("test") == 1
    db.session.remove()
    assert db.session.get(Store, store_id).status == "active"
    history = api("storeops").get(f"/api/v1/stores/{store_id}").json["history"]
    assert [e["message"] for e in history if e["kind"] == "status_changed"] == ["装修整改",
                                                                                 "装修完成"]


def test_a_closure_started_for_someone_elses_store_is_refused_by_the_process(api, make_store):
    store_id = make_store()
    south = api("dealer_south")
    r = south.post("/api/v1/processes/store_closure/instances", json={"data": {
        "store": str(store_id), "region": "east", "reason": "not mine"}})
    assert r.status_code == 201, r.json
    for user, step in (("mgr_east", "manager_review"), ("storeops", "ops_review")):
        client = api(user)
        [task] = [t for t in client.get("/api/v1/tasks?scope=group").json
                  if t["bpmn_id"] == step]
        client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    run_due_jobs("test")
    db.session.remove()
    assert db.session.get(Store, store_id).status == "active"
    assert south.get(f"/api/v1/instances/{r.json['id']}").json["outcome"] == "refused"


def test_ledger_filters_and_excel_export(api, make_store):
    from openpyxl import load_workbook

    make_store(name="甲店")
    make_store(name="乙店", status="closed")
    make_store(dealer_code="DS000001", name="丙店")
    ops = api("storeops")
    assert len(ops.get("/api/v1/stores").json) == 3
    assert [s["name"] for s in ops.get("/api/v1/stores?region=south").json] == ["丙店"]
    assert [s["name"] for s in ops.get("/api/v1/stores?status=closed").json] == ["乙店"]
    assert ops.get("/api/v1/stores?status=bogus").status_code == 422
    r = api("mgr_east").get("/api/v1/stores/export.xlsx?status=active")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.values)
    assert rows[0][0] == "Code" and [row[1] for row in rows[1:]] == ["甲店"]


def test_inspections_remind_before_due_and_escalate_after_once(api, make_store, app):
    from datetime import timedelta

    from app.stores.inspections import check_inspections

    store_id = make_store()
    _plan(api("storeops"))
    generate_inspections("2026-10")  # due 2026-10-20
    db.session.commit()
    due = date(2026, 10, 20)
    assert check_inspections(today=due - timedelta(days=4)) == \
        {"inspection_due_soon": 0, "inspection_overdue": 0}
    assert check_inspections(today=due - timedelta(days=3)) == \
        {"inspection_due_soon": 1, "inspection_overdue": 0}
    assert check_inspections(today=due) == {"inspection_due_soon": 0, "inspection_overdue": 0}
    assert check_inspections(today=due + timedelta(days=1)) == \
        {"inspection_due_soon": 0, "inspection_overdue": 1}
    db.session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["stores", "check-inspections", "--today", "2026-10-25"]).output
    assert "0 reminded, 0 escalated" in out
    events = [(e.kind, e.recipient_role) for e in db.session.scalars(
        select(StoreEvent).where(StoreEvent.store_id == store_id).order_by(StoreEvent.id))]
    assert events == [("inspection_due_soon", "inspector"), ("inspection_overdue", "store_ops")]
    def kinds(user):
        return [n["kind"] for n in api(user).get("/api/v1/notifications").json["items"]
                if n["kind"].startswith("inspection_")]
    assert kinds("inspector") == ["inspection_due_soon"]
    assert kinds("storeops") == kinds("mgr_east") == ["inspection_overdue"]
    assert kinds("mgr_south") == []
    board = api("storeops").get("/api/v1/inspections/dashboard").json
    assert board["overdue"] == [{"region": "east", "count": 1}]


def test_the_daily_store_jobs_generate_this_months_inspections_once(api, make_store):
    from datetime import datetime

    import orjson

    from app.jobs.periodic import registered, run_periodic

    assert {"stores.generate_inspections", "stores.check_inspections",
            "stores.check_overdue_milestones"} <= {j.name for j in registered()}
    store_id = make_store()
    _plan(api("storeops"))
    first = run_periodic("stores.generate_inspections", "w1", actor="admin", now=datetime.utcnow())
    assert first.status == "done" and orjson.loads(first.result) == {"created": 1}
    again = run_periodic("stores.generate_inspections", "w1", actor="admin", now=datetime.utcnow())
    assert again.status == "done" and orjson.loads(again.result) == {"created": 0}
    assert db.session.scalar(select(Inspection.store_id)) == store_id
    check = run_periodic("stores.check_inspections", "w1", actor="admin", now=datetime.utcnow())
    assert check.status == "done", check.last_error
