"""Promotions: defined by marketing, approved in BPMN before they go live, priced in the cart."""

from datetime import date, timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.promotions.models import GiftStock, Promotion

TODAY = date.today()


def full_reduction(code="MJ-2026", **overrides):
    body = {
        "code": code,
        "name_zh": "满 1000 减 50",
        "name_en": "Spend 1,000 save 50",
        "kind": "full_reduction",
        "rule": {
            "tiers": [{"threshold": "1000", "discount": "50"}, {"threshold": "2000", "discount": "120"}]
        },
        "valid_from": str(TODAY - timedelta(days=1)),
        "valid_to": str(TODAY + timedelta(days=30)),
    }
    return body | overrides


def _approve(api, promotion_id, decision="approve", comment="ok"):
    director = api("director")
    mine = director.get("/api/v1/tasks?scope=mine").json
    if not mine:
        [task] = director.get("/api/v1/tasks?scope=group").json
        assert director.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    else:
        [task] = mine
    r = director.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": decision, "comment": comment}}
    )
    assert r.status_code == 200, r.json
    assert run_due_jobs("test") == 1
    return api("marketing").get(f"/api/v1/promotions/{promotion_id}").json


def _cart(dealer, catalogue, tea=50, cola=10):
    return dealer.post(
        "/api/v1/promotions/preview",
        json={
            "lines": [
                {"product_id": catalogue["FG-TEA-500"], "quantity": tea},
                {"product_id": catalogue["FG-COLA-330"], "quantity": cola},
            ]
        },
    )


def test_a_promotion_goes_live_only_after_the_director_approves(api, catalogue):
    marketing, dealer = api("marketing"), api("dealer_east")
    created = marketing.post("/api/v1/promotions", json=full_reduction())
    assert created.status_code == 201, created.json
    assert created.json["status"] == "draft"
    pid = created.json["id"]

    before = _cart(dealer, catalogue)
    assert before.status_code == 200, before.json
    assert before.json["list_total"] == "2705.00" and before.json["net_total"] == "2705.00"

    submitted = marketing.post(f"/api/v1/promotions/{pid}/submit")
    assert submitted.status_code == 200 and submitted.json["status"] == "pending"
    assert _cart(dealer, catalogue).json["promotions"] == []  # pending is not live
    assert marketing.post(f"/api/v1/promotions/{pid}/submit").status_code == 409
    locked = marketing.client.put(
        f"/api/v1/promotions/{pid}", headers=marketing.headers, json=full_reduction(name_zh="改名")
    )
    assert locked.status_code == 409

    live = _approve(api, pid)
    assert live["status"] == "active" and live["decided_by"] == "director"
    after = _cart(dealer, catalogue).json
    assert after["net_total"] == "2585.00" and after["discount_total"] == "120.00"
    assert [p["code"] for p in after["promotions"]] == ["MJ-2026"]
    shares = [sum(float(d["amount"]) for d in line["discounts"]) for line in after["lines"]]
    assert round(sum(shares), 2) == 120.00 and all(s > 0 for s in shares)
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "promotion")))
    assert {"promotion.created", "promotion.submitted", "promotion.approved"} <= actions


def test_rejection_needs_a_reason_and_returns_the_promotion_to_marketing(api, catalogue):
    marketing = api("marketing")
    pid = marketing.post("/api/v1/promotions", json=full_reduction()).json["id"]
    marketing.post(f"/api/v1/promotions/{pid}/submit")
    director = api("director")
    [task] = director.get("/api/v1/tasks?scope=group").json
    director.post(f"/api/v1/tasks/{task['id']}/claim")
    no_reason = director.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "reject"}})
    assert no_reason.status_code == 422 and "comment" in no_reason.json["errors"]
    rejected = _approve(api, pid, decision="reject", comment="门槛太低")
    assert rejected["status"] == "rejected" and rejected["decision_comment"] == "门槛太低"
    assert _cart(api("dealer_east"), catalogue).json["promotions"] == []
    fixed = marketing.client.put(
        f"/api/v1/promotions/{pid}",
        headers=marketing.headers,
        json=full_reduction(rule={"tiers": [{"threshold": "2000", "discount": "60"}]}),
    )
    assert fixed.status_code == 200 and fixed.json["status"] == "draft"
    assert marketing.post(f"/api/v1/promotions/{pid}/submit").json["status"] == "pending"


def test_bad_promotion_definitions_name_every_field(api, catalogue):
    marketing = api("marketing")
    descending = marketing.post(
        "/api/v1/promotions",
        json=full_reduction(
            rule={
                "tiers": [{"threshold": "2000", "discount": "120"}, {"threshold": "1000", "discount": "50"}]
            }
        ),
    )
    assert descending.status_code == 422 and "tiers" in descending.json["errors"]["rule"]
    both = marketing.post(
        "/api/v1/promotions",
        json=full_reduction(
            rule={"tiers": [{"threshold": "1000", "discount": "50"}], "step": "1000", "step_discount": "50"}
        ),
    )
    assert both.status_code == 422 and "tiers" in both.json["errors"]["rule"]
    period = marketing.post(
        "/api/v1/promotions",
        json=full_reduction(valid_from=str(TODAY), valid_to=str(TODAY - timedelta(days=1)), code="bad code"),
    )
    assert period.status_code == 422 and {"valid_to", "code"} <= set(period.json["errors"])
    gift = marketing.post(
        "/api/v1/promotions",
        json=full_reduction(kind="gift", rule={"gift_product_id": 999999, "step": "10", "step_quantity": 1}),
    )
    assert gift.status_code == 422 and "rule" in gift.json["errors"]
    tiered = marketing.post(
        "/api/v1/promotions",
        json=full_reduction(
            kind="tiered_price",
            rule={"brackets": [{"min_quantity": 1, "price": "40"}, {"min_quantity": 50, "price": "45"}]},
        ),
    )
    assert tiered.status_code == 422 and "brackets" in tiered.json["errors"]["rule"]
    assert marketing.post("/api/v1/promotions", json=full_reduction()).status_code == 201
    taken = marketing.post("/api/v1/promotions", json=full_reduction())
    assert taken.status_code == 422 and "code" in taken.json["errors"]
    assert api("dealer_east").post("/api/v1/promotions", json=full_reduction(code="X2")).status_code == 403
    assert db.session.scalar(select(Promotion.id).where(Promotion.code == "X2")) is None


def test_cart_preview_refuses_bad_lines_one_by_one(api, catalogue):
    dealer = api("dealer_east")
    r = dealer.post(
        "/api/v1/promotions/preview",
        json={
            "lines": [
                {"product_id": catalogue["FG-TEA-500"], "quantity": 7},  # not a multiple of 5
                {"product_id": catalogue["FG-COLA-330"], "quantity": 0},
                {"product_id": catalogue["FG-CHIPS-70"], "quantity": 1},  # South's product
                {"product_id": catalogue["FG-NEW-1"], "quantity": 1},  # off the shelf
                {"product_id": catalogue["FG-COLA-330"], "quantity": 3},
            ]
        },
    )
    assert r.status_code == 422
    errors = r.json["errors"]["lines"]
    assert "multiple of 5" in errors["0"]["quantity"][0]
    assert "quantity" in errors["1"]
    assert "product_id" in errors["2"] and "product_id" in errors["3"]
    assert "4" not in errors
    assert (
        api("cs")
        .post(
            "/api/v1/promotions/preview",
            json={"lines": [{"product_id": catalogue["FG-COLA-330"], "quantity": 1}]},
        )
        .status_code
        == 403
    )


def test_gift_comes_from_limited_stock_and_shortage_is_reported(api, catalogue):
    marketing = api("marketing")
    body = full_reduction(
        code="ZENG-1",
        kind="gift",
        name_zh="每满10箱送1箱可乐",
        rule={"gift_product_id": catalogue["FG-COLA-330"], "step": "10", "step_quantity": 1},
        scope={"products": [catalogue["FG-TEA-500"]]},
    )
    pid = marketing.post("/api/v1/promotions", json=body).json["id"]
    marketing.post(f"/api/v1/promotions/{pid}/submit")
    _approve(api, pid)
    dealer = api("dealer_east")
    none_left = _cart(dealer, catalogue, tea=25).json
    assert none_left["gifts"] == [] and [w["code"] for w in none_left["warnings"]] == ["gift_stock_short"]
    db.session.add(GiftStock(product_id=catalogue["FG-COLA-330"], quantity=5))
    db.session.commit()
    preview = _cart(dealer, catalogue, tea=25).json
    assert [(g["material_number"], g["quantity"], g["net_amount"]) for g in preview["gifts"]] == [
        ("FG-COLA-330", 2, "0.00")
    ]
    assert preview["warnings"] == []
