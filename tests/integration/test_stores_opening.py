"""Store opening end to end: application → reviews → milestones → acceptance → active store."""

import io
from datetime import date, timedelta

import pytest

from app.audit.services import verify_chain
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.stores.models import InspectionPlan, Store, StoreEvent
from app.stores.services import check_overdue_milestones
from tests.conftest import tiny_png


@pytest.fixture
def photo(api):
    def _photo(username="dealer_east", **form):
        r = api(username).post("/api/v1/stores/photos", content_type="multipart/form-data",
                               data={"file": (io.BytesIO(tiny_png()), "site.png"), **form})
        assert r.status_code == 201, r.json
        return r.json
    return _photo


@pytest.fixture
def application(photo):
    def _data(**overrides):
        data = {"store_name": "西湖旗舰店", "city": "杭州", "address": "杭州市西湖区湖滨路 8 号",
                "area_m2": "180.5", "store_type": "flagship",
                "expected_opening": (date.today() + timedelta(days=90)).isoformat(),
                "budget_lines": [{"category": "rent", "amount": "120000"},
                                 {"category": "decoration", "amount": "200000"},
                                 {"category": "equipment", "amount": "80000"},
                                 {"category": "first_stock", "amount": "50000"}],
                "budget_total": "450000",
                "photos": [{"photo": photo(taken_at="2026-11-01T08:30:00")["attachment_id"]}]}
        data.update(overrides)
        return data
    return _data


def _decide(client, bpmn_id, **data):
    [task] = [t for t in client.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == bpmn_id]
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def _open_store(api, application):
    """Apply as dealer_east and approve through finance; return the store (status opening)."""
    r = api("dealer_east").post("/api/v1/stores/applications", json={"data": application()})
    assert r.status_code == 201, r.json
    instance_id = r.json["id"]
    assert run_due_jobs("test") == 1  # the worker registers the store in the ledger
    _decide(api("mgr_east"), "manager_review", decision="approve")
    _decide(api("storeops"), "site_survey", decision="approve",
            checklist=["footfall", "visibility"])
    _decide(api("finance"), "budget_review", decision="approve", approved_budget="450000")
    assert run_due_jobs("test") == 1
    db.session.remove()
    return db.session.query(Store).filter_by(opening_instance_id=instance_id).one()


def test_opening_runs_to_an_active_store_with_an_inspection_plan(api, application):
    store = _open_store(api, application)
    dealer, ops = api("dealer_east"), api("storeops")
    assert store.status == "opening" and store.region == "east"
    assert [m.code for m in store.milestones] == ["lease_signed", "decoration", "equipment",
                                                  "staff_training", "acceptance"]
    assert api("mgr_south").get("/api/v1/tasks?scope=group").json == []

    # Acceptance cannot be confirmed before the other milestones are.
    today = date.today().isoformat()
    for m in store.milestones:  # the project started a month ago
        m.planned_start = date.today() - timedelta(days=30)
    db.session.commit()
    store_id = store.id
    r = dealer.post(f"/api/v1/stores/{store.id}/milestones/acceptance/report",
                    json={"actual_date": today, "actual_cost": "48000"})
    assert r.status_code == 200, r.json
    r = ops.post(f"/api/v1/stores/{store.id}/milestones/acceptance/confirm")
    assert r.status_code == 409 and r.json["code"] == "milestones_open"

    costs = {"lease_signed": "125000", "decoration": "190000", "equipment": "80000",
             "staff_training": "5000"}
    for code, cost in costs.items():
        assert dealer.post(f"/api/v1/stores/{store.id}/milestones/{code}/report",
                           json={"actual_date": today, "actual_cost": cost}).status_code == 200
        assert ops.post(f"/api/v1/stores/{store.id}/milestones/{code}/confirm").status_code == 200
    assert ops.post(f"/api/v1/stores/{store.id}/milestones/acceptance/confirm").status_code == 200
    assert run_due_jobs("test") == 1  # stores.activate
    db.session.remove()
    store = db.session.get(Store, store_id)

    seen = dealer.get(f"/api/v1/stores/{store.id}").json
    assert seen["status"] == "active" and seen["opened_on"] == today
    budget = {row["category"]: row for row in seen["budget"]}
    assert budget["rent"]["budget"] == "120000.00" and budget["rent"]["actual"] == "125000.00"
    assert budget["rent"]["variance"] == "5000.00"
    assert seen["actual_total"] == "448000.00"
    assert seen["photos"][0]["taken_at"].startswith("2026-11-01T08:30")
    kinds = [e["kind"] for e in seen["history"]]
    assert kinds[0] == "applied" and "inspection_plan_assigned" in kinds
    assert ("status_changed", "active") in {(e["kind"], e["message"] and "active")
                                            for e in seen["history"]}
    instance = dealer.get(f"/api/v1/instances/{store.opening_instance_id}").json
    assert instance["status"] == "completed" and instance["outcome"] == "opened"
    assert db.session.query(InspectionPlan).filter_by(store_id=store.id).count() == 1
    assert verify_chain()[1] is None


def test_dealers_see_only_their_stores_and_managers_their_region(api, application):
    store = _open_store(api, application)
    assert api("dealer_south").get(f"/api/v1/stores/{store.id}").status_code == 404
    assert api("mgr_south").get(f"/api/v1/stores/{store.id}").status_code == 404
    assert api("dealer_south").get("/api/v1/stores").json == []
    assert [s["id"] for s in api("mgr_east").get("/api/v1/stores?region=east").json] == [store.id]
    assert [s["id"] for s in api("dealer_east").get("/api/v1/stores?status=opening").json] == \
        [store.id]
    assert api("dealer_east").get("/api/v1/stores?status=active").json == []
    r = api("dealer_south").post(f"/api/v1/stores/{store.id}/milestones/lease_signed/report",
                                 json={"actual_date": date.today().isoformat(),
                                       "actual_cost": "1"})
    assert r.status_code == 404


def test_rejected_application_closes_the_planned_store(api, application):
    r = api("dealer_east").post("/api/v1/stores/applications", json={"data": application()})
    run_due_jobs("test")
    _decide(api("mgr_east"), "manager_review", decision="reject", comment="商圈重叠")
    assert run_due_jobs("test") == 1
    db.session.remove()
    store = db.session.query(Store).filter_by(opening_instance_id=r.json["id"]).one()
    assert store.status == "closed" and "商圈重叠" in store.status_reason
    assert api("dealer_east").get(f"/api/v1/instances/{r.json['id']}").json["outcome"] == \
        "rejected"


def test_budget_lines_negative_or_not_adding_up_are_refused(api, application):
    dealer = api("dealer_east")
    r = dealer.post("/api/v1/stores/applications", json={"data": application(
        budget_lines=[{"category": "rent", "amount": "-5"}], budget_total="-5")})
    assert r.status_code == 422 and "budget_lines.0.amount" in r.json["errors"]
    r = dealer.post("/api/v1/stores/applications",
                    json={"data": application(budget_total="460000")})
    assert r.status_code == 422
    assert "450000" in r.json["errors"]["budget_total"][0]
    assert db.session.query(Store).count() == 0
    assert dealer.get("/api/v1/tasks?scope=group").json == []


def test_actual_dates_before_planned_start_or_in_the_future_are_refused(api, application):
    store = _open_store(api, application)
    store_id, planned_start = store.id, store.milestones[0].planned_start
    dealer = api("dealer_east")
    before = (planned_start - timedelta(days=1)).isoformat()
    r = dealer.post(f"/api/v1/stores/{store.id}/milestones/lease_signed/report",
                    json={"actual_date": before, "actual_cost": "1000"})
    assert r.status_code == 422 and "actual_date" in r.json["errors"]
    future = (date.today() + timedelta(days=1)).isoformat()
    r = dealer.post(f"/api/v1/stores/{store_id}/milestones/lease_signed/report",
                    json={"actual_date": future, "actual_cost": "1000"})
    assert r.status_code == 422 and "不能晚于当前时间" in r.json["errors"]["actual_date"][0]
    r = dealer.post(f"/api/v1/stores/{store_id}/milestones/lease_signed/report",
                    json={"actual_date": date.today().isoformat(), "actual_cost": "-1"})
    assert r.status_code == 422 and "actual_cost" in r.json["errors"]
    db.session.remove()
    assert db.session.get(Store, store_id).milestones[0].actual_date is None


def test_photos_that_are_not_images_or_too_large_are_refused(api, app):
    dealer = api("dealer_east")
    r = dealer.post("/api/v1/stores/photos", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(b"%PDF-1.4 not a photo"), "site.jpg")})
    assert r.status_code == 422 and "file" in r.json["errors"]
    limit = app.config["STORE_PHOTO_MAX_BYTES"]
    big = tiny_png() + b"\0" * limit
    r = dealer.post("/api/v1/stores/photos", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(big), "big.png")})
    assert r.status_code == 422 and "5 MB" in r.json["errors"]["file"][0]
    r = dealer.post("/api/v1/stores/photos", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(tiny_png()), "a.png"),
                          "taken_at": "2999-01-01T00:00:00"})
    assert r.status_code == 422 and "taken_at" in r.json["errors"]


def test_overdue_milestones_remind_then_escalate(api, application):
    store = _open_store(api, application)
    store_id, due = store.id, store.milestones[0].planned_date
    assert check_overdue_milestones(today=due) == {"reminded": 0, "escalated": 0}
    assert check_overdue_milestones(today=due + timedelta(days=1)) == \
        {"reminded": 1, "escalated": 0}
    assert check_overdue_milestones(today=due + timedelta(days=2)) == \
        {"reminded": 0, "escalated": 0}  # reminded once, not every day
    assert check_overdue_milestones(today=due + timedelta(days=9)) == \
        {"reminded": 0, "escalated": 1}
    db.session.commit()
    events = db.session.query(StoreEvent).filter(StoreEvent.store_id == store_id,
                                                 StoreEvent.kind.like("milestone_%")).all()
    assert [(e.kind, e.recipient_role) for e in events] == [
        ("milestone_overdue", "dealer"), ("milestone_escalated", "regional_manager")]
    def kinds(user):
        return [n["kind"] for n in api(user).get("/api/v1/notifications").json["items"]
                if n["kind"].startswith("milestone_")]
    assert kinds("dealer_east") == ["milestone_overdue"]
    assert kinds("mgr_east") == ["milestone_escalated"]
    assert kinds("mgr_south") == []
    seen = api("dealer_east").get(f"/api/v1/stores/{store_id}").json
    assert seen["milestones"][0]["overdue_since"] == (due + timedelta(days=1)).isoformat()
    assert seen["progress"]["overdue"] == 1
    morning = api("mgr_east").get("/api/v1/stores/morning").json
    assert morning[0]["id"] == store_id and morning[0]["overdue"] == 1
    assert morning[0]["total"] == 5 and morning[0]["done"] == 0


def test_an_application_for_another_dealer_through_the_generic_start_is_refused(api, application):
    from app.dealers.models import Dealer

    east = db.session.query(Dealer).filter_by(code="DE000001").one()
    data = application() | {"dealer": str(east.id), "region": "east"}
    r = api("dealer_south").post("/api/v1/processes/store_opening/instances", json={"data": data})
    assert r.status_code == 201, r.json
    assert run_due_jobs("test") == 1
    db.session.remove()
    assert db.session.query(Store).count() == 0
    done = api("dealer_south").get(f"/api/v1/instances/{r.json['id']}").json
    assert done["status"] == "completed" and done["outcome"] == "refused"
    assert api("mgr_east").get("/api/v1/tasks?scope=group").json == []
