"""Store pages (ledger, store, morning view, checklist, dashboard) and the ``flask stores`` CLI."""

from decimal import Decimal

from sqlalchemy import select

from app.dealers.models import Dealer
from app.extensions import db
from app.stores.inspections import generate_inspections
from app.stores.models import Inspection, InspectionPlan, Store


def _stores():
    ids = []
    for code, name, status in (("DE000001", "外滩店", "active"), ("DE000001", "徐汇店", "opening"),
                               ("DS000001", "天河店", "active")):
        dealer = db.session.scalar(select(Dealer).where(Dealer.code == code))
        store = Store(name=name, dealer_id=dealer.id, region=dealer.region, status=status,
                      city="城", address="路 1 号", store_type="standard",
                      area_m2=Decimal("60"), budget_total=Decimal("1000"))
        db.session.add(store)
        db.session.flush()
        store.code = f"P{store.id:05d}"
        ids.append(store.id)
    db.session.add(InspectionPlan(name="月度", store_type="standard", every_months=1,
                                  start_month="2026-01", due_days=20, threshold=70,
                                  created_by="test"))
    db.session.commit()
    return ids


def test_ledger_page_filters_and_scopes(login):
    outer, xuhui, tianhe = _stores()
    page = login("storeops").get("/stores?status=active").get_data(as_text=True)
    assert "外滩店" in page and "天河店" in page and "徐汇店" not in page
    page = login("storeops").get("/stores?region=south").get_data(as_text=True)
    assert "天河店" in page and "外滩店" not in page
    page = login("dealer_east").get("/stores").get_data(as_text=True)
    assert "外滩店" in page and "天河店" not in page
    assert login("dealer_east").get(f"/stores/{tianhe}").status_code == 404
    detail = login("mgr_east").get(f"/stores/{outer}").get_data(as_text=True)
    assert "外滩店" in detail and 'id="budget-table"' in detail
    morning = login("mgr_east").get("/stores/morning").get_data(as_text=True)
    assert "徐汇店" in morning and "天河店" not in morning
    xlsx = login("storeops").get("/stores/export.xlsx?region=east")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_inspector_submits_the_checklist_page_and_sees_the_score(login):
    _stores()
    generate_inspections("2026-12")
    db.session.commit()
    inspector = login("inspector")
    listing = inspector.get("/inspections").get_data(as_text=True)
    [first] = db.session.scalars(select(Inspection.id).where(Inspection.region == "east")
                                 .order_by(Inspection.id).limit(1)).all()
    assert f'data-inspection-id="{first}"' in listing
    form = {"score_hygiene": "9", "score_display": "9", "score_service": "8",
            "score_decoration": "12"}
    r = inspector.post(f"/inspections/{first}", data=form)
    assert r.status_code == 422 and "inspection-errors" in r.get_data(as_text=True)
    form["score_decoration"] = "10"
    r = inspector.post(f"/inspections/{first}", data=form)
    assert r.status_code == 302
    page = inspector.get(f"/inspections/{first}").get_data(as_text=True)
    assert 'id="inspection-score">90<' in page
    board = login("storeops").get("/inspections/dashboard").get_data(as_text=True)
    assert "<svg" in board and "2026-12" in board


def test_cli_generates_a_slot_once_and_checks_milestones(app):
    _stores()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["stores", "generate-inspections", "--slot", "2026-12"])
    assert first.exit_code == 0 and "2 inspection(s) created" in first.output
    again = runner.invoke(args=["stores", "generate-inspections", "--slot", "2026-12"])
    assert "0 inspection(s) created" in again.output
    bad = runner.invoke(args=["stores", "generate-inspections", "--slot", "December"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    checked = runner.invoke(args=["stores", "check-milestones", "--today", "2026-12-01"])
    assert checked.exit_code == 0 and "0 reminded, 0 escalated" in checked.output


def test_demo_stores_cover_every_state_once(app, api):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0 and "6 stores created" in first.output
    assert "0 stores created" in runner.invoke(args=["demo", "seed"]).output
    seen = api("storeops").get("/api/v1/stores?limit=50").json
    assert {s["status"] for s in seen} == {"planned", "opening", "active", "suspended", "closed"}
    assert {s["dealer_name"] for s in api("dealer_south").get("/api/v1/stores").json} == \
        {"广州南粤快消品有限公司"}
    opening = next(s for s in seen if s["status"] == "opening")
    detail = api("dealer_east").get(f"/api/v1/stores/{opening['id']}").json
    assert 0 < sum(m["status"] == "confirmed" for m in detail["milestones"]) < 5


def test_dealer_applies_through_the_page_and_a_budget_that_does_not_add_up_is_shown(login):
    dealer = login("dealer_east")
    assert 'id="store-apply"' in dealer.get("/stores").get_data(as_text=True)
    form = dealer.get("/stores/apply").get_data(as_text=True)
    assert 'name="store_name"' in form
    post = {"store_name": "静安寺店", "city": "上海", "address": "南京西路 1 号", "area_m2": "88",
            "store_type": "standard", "expected_opening": "2027-03-01",
            "budget_lines-0-category": "rent", "budget_lines-0-amount": "100000",
            "budget_lines-1-category": "decoration", "budget_lines-1-amount": "50000",
            "budget_total": "160000"}
    r = dealer.post("/stores/apply", data=post)
    assert r.status_code == 422 and "150000" in r.get_data(as_text=True)
    r = dealer.post("/stores/apply", data=post | {"budget_total": "150000"})
    assert r.status_code == 302 and "/instances/" in r.headers["Location"]
    assert login("storeops").get("/stores/apply").status_code == 422  # staff name the dealer
    assert login("finance").get("/stores/apply").status_code == 403
