"""Price changes: requested by customer service, approved by the sales director, written to the
ERP as condition records by the worker, then applied to the catalogue for their validity."""

import uuid
from datetime import date, timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.catalog.models import Product
from app.dealers.models import Dealer
from app.extensions import db
from app.jobs.services import run_due_jobs

TODAY = date.today()


def _erp_materials(catalogue):
    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.get(Product, catalogue["FG-TEA-500"]).material_number = "DF-BV-3001"
    db.session.commit()


def _request(cs, lines, reason="旺季调价 peak-season prices", key=None):
    return cs.post(
        "/api/v1/price-changes",
        json={"reason": reason, "submit_key": key or uuid.uuid4().hex, "lines": lines},
    )


def _task(client, bpmn_id):
    tasks = [
        t
        for t in client.get("/api/v1/tasks?scope=group").json + client.get("/api/v1/tasks?scope=mine").json
        if t["bpmn_id"] == bpmn_id
    ]
    assert tasks, f"no {bpmn_id} task"
    task = tasks[0]
    if task.get("assignee") is None:
        client.post(f"/api/v1/tasks/{task['id']}/claim")
    return task


def _complete(client, bpmn_id, **data):
    task = _task(client, bpmn_id)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    run_due_jobs("test")


def _erp_conditions(**params):
    from app.erp.sales import GetConditionsParams, get_price_conditions
    from connectors.registry import CallContext

    db.session.commit()  # the ERP message log writes in its own transaction
    loaded = GetConditionsParams().load(params)
    return get_price_conditions(loaded, CallContext(idempotency_key="t", instance_id=0, actor="t"))[
        "conditions"
    ]


def _preview_price(dealer, product_id):
    r = dealer.post("/api/v1/promotions/preview", json={"lines": [{"product_id": product_id, "quantity": 5}]})
    assert r.status_code == 200, r.json
    return r.json["lines"][0]["unit_price"]


def test_an_approved_change_reaches_the_erp_and_then_the_catalogue(api, catalogue, sim):
    _erp_materials(catalogue)
    cs, dealer = api("cs"), api("dealer_east")
    east = db.session.scalar(select(Dealer).where(Dealer.code == "DE000001"))
    assert _preview_price(dealer, catalogue["FG-TEA-500"]) == "42.50"
    r = _request(
        cs,
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "price_list": "01",
                "amount": "44.00",
                "valid_from": str(TODAY),
            },
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-COLA-330"],
                "sales_org": "1000",
                "distr_chan": "10",
                "percent": "-10",
                "valid_from": str(TODAY),
                "valid_to": str(TODAY + timedelta(days=30)),
            },
            {"condition_type": "K007", "dealer_id": east.id, "amount": "3", "valid_from": str(TODAY)},
        ],
    )
    assert r.status_code == 201, r.json
    change = r.json
    assert change["status"] == "pending" and change["number"].startswith("PC")
    # no sales area given: the tea's line applies in both areas it is sold in
    tea_east, tea_south, cola, k007 = change["lines"]
    # old → new: the tea's own price list, the cola's base price 10 % lower
    assert (tea_east["old_amount"], tea_east["amount"], tea_east["sales_org"]) == ("42.50", "44.00", "1000")
    assert (tea_south["old_amount"], tea_south["sales_org"], tea_south["price_list"]) == (None, "2000", "01")
    assert (cola["old_amount"], cola["amount"]) == ("58.00", "52.20")
    assert k007["customer_number"] == "0000010001" and k007["amount"] == "3.00"
    # nothing changes before the approval
    assert _preview_price(dealer, catalogue["FG-TEA-500"]) == "42.50"

    _complete(api("director"), "director_review", decision="approve", comment="同意")
    done = cs.get(f"/api/v1/price-changes/{change['id']}").json
    assert done["status"] == "applied", done
    assert done["decided_by"] == "director" and len(done["erp_condition_numbers"]) == 4
    # the new PR00 prices less the dealer's new K007 of 3 %: 44.00 → 42.68, 52.20 → 50.63
    assert _preview_price(dealer, catalogue["FG-TEA-500"]) == "42.68"
    assert _preview_price(dealer, catalogue["FG-COLA-330"]) == "50.63"

    erp_tea = _erp_conditions(condition_type="PR00", material="DF-BV-3001", price_list="01")
    assert [(c["sales_org"], c["amount"], c["valid_from"]) for c in erp_tea] == [
        ("1000", "44.00", str(TODAY)),
        ("2000", "44.00", str(TODAY)),
    ]
    erp_cola = _erp_conditions(
        condition_type="PR00", material="DF-BV-1001", sales_org="1000", distr_chan="10", valid_on=str(TODAY)
    )
    assert [c["amount"] for c in erp_cola if c["price_list"] is None] == ["52.20"]
    # after the cola's 30 days its old ERP price comes back (the record was cut, not replaced)
    later = _erp_conditions(
        condition_type="PR00",
        material="DF-BV-1001",
        sales_org="1000",
        distr_chan="10",
        valid_on=str(TODAY + timedelta(days=31)),
    )
    assert [c["amount"] for c in later] == ["48.00"]
    assert [c["amount"] for c in _erp_conditions(condition_type="K007", customer_number="10001")] == ["3.00"]
    actions = set(
        db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "price_change"))
    )
    assert {"price_change.requested", "price_change.approved", "price_change.applied"} <= actions


def test_the_catalogue_price_returns_after_the_validity_of_a_change(api, catalogue, sim):
    from app.catalog.services import prices_for_dealer

    _erp_materials(catalogue)
    east = db.session.scalar(select(Dealer).where(Dealer.code == "DE000001"))
    end = TODAY + timedelta(days=7)
    r = _request(
        api("cs"),
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "price_list": "01",
                "amount": "39.00",
                "valid_from": str(TODAY),
                "valid_to": str(end),
            }
        ],
    )
    assert r.status_code == 201, r.json
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    tea = catalogue["FG-TEA-500"]
    assert prices_for_dealer(east.id, [tea])[tea].amount == 39
    assert prices_for_dealer(east.id, [tea], on=end + timedelta(days=1))[tea].amount == 42.5


def test_a_rejection_keeps_the_reason_and_changes_nothing(api, catalogue):
    cs = api("cs")
    r = _request(
        cs,
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "price_list": "01",
                "amount": "30.00",
                "valid_from": str(TODAY),
            }
        ],
    )
    director = api("director")
    task = _task(director, "director_review")
    no_reason = director.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "reject"}})
    assert no_reason.status_code == 422 and "comment" in no_reason.json["errors"]
    _complete(director, "director_review", decision="reject", comment="降价幅度过大")
    rejected = cs.get(f"/api/v1/price-changes/{r.json['id']}").json
    assert rejected["status"] == "rejected" and rejected["decision_comment"] == "降价幅度过大"
    assert _preview_price(api("dealer_east"), catalogue["FG-TEA-500"]) == "42.50"


def test_an_erp_rejection_goes_back_to_the_requester_who_corrects_and_resubmits(api, catalogue, sim):
    cs = api("cs")
    # FG-TEA-500 is not a material of the ERP: it refuses the record (ZDF040)
    r = _request(
        cs,
        [
            {
                "condition_type": "K004",
                "product_id": catalogue["FG-TEA-500"],
                "amount": "1.50",
                "valid_from": str(TODAY),
            }
        ],
    )
    change_id = r.json["id"]
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    refused = cs.get(f"/api/v1/price-changes/{change_id}").json
    assert refused["status"] == "erp_error" and "ZDF040" in refused["erp_error"]

    _erp_materials(catalogue)
    bad = cs.client.put(
        f"/api/v1/price-changes/{change_id}/lines",
        headers=cs.headers,
        json={
            "lines": [
                {"condition_type": "K004", "product_id": 999999, "amount": "1.50", "valid_from": str(TODAY)}
            ]
        },
    )
    assert bad.status_code == 422 and "product_id" in bad.json["errors"]["lines"]["0"]
    fixed = cs.client.put(
        f"/api/v1/price-changes/{change_id}/lines",
        headers=cs.headers,
        json={
            "lines": [
                {
                    "condition_type": "K004",
                    "product_id": catalogue["FG-TEA-500"],
                    "amount": "1.50",
                    "valid_from": str(TODAY),
                }
            ]
        },
    )
    assert fixed.status_code == 200, fixed.json
    _complete(cs, "fix_change", fix_decision="resubmit")
    assert cs.get(f"/api/v1/price-changes/{change_id}").json["status"] == "pending"
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    assert cs.get(f"/api/v1/price-changes/{change_id}").json["status"] == "applied"
    k004 = _erp_conditions(condition_type="K004", material="DF-BV-3001")
    assert [(c["sales_org"], c["amount"]) for c in k004] == [("1000", "1.50"), ("2000", "1.50")]
    # an applied change cannot be corrected any more
    again = cs.client.put(
        f"/api/v1/price-changes/{change_id}/lines",
        headers=cs.headers,
        json={
            "lines": [
                {
                    "condition_type": "K004",
                    "product_id": catalogue["FG-TEA-500"],
                    "amount": "2.00",
                    "valid_from": str(TODAY),
                }
            ]
        },
    )
    assert again.status_code == 409


def test_the_requester_may_cancel_a_change_the_erp_refused(api, catalogue, sim):
    cs = api("cs")
    r = _request(
        cs,
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "amount": "40.00",
                "valid_from": str(TODAY),
            }
        ],
    )
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    _complete(cs, "fix_change", fix_decision="cancel", fix_comment="物料未在 ERP 建立")
    cancelled = cs.get(f"/api/v1/price-changes/{r.json['id']}").json
    assert cancelled["status"] == "cancelled" and cancelled["decision_comment"] == "物料未在 ERP 建立"


def test_bad_lines_are_refused_per_field_and_nothing_is_stored(api, catalogue):
    cs = api("cs")
    r = _request(
        cs,
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "amount": "-5",
                "valid_from": str(TODAY),
            },
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "amount": "5",
                "valid_from": str(TODAY),
                "valid_to": str(TODAY - timedelta(days=1)),
            },
            {
                "condition_type": "ZZ99",
                "product_id": catalogue["FG-TEA-500"],
                "amount": "5",
                "valid_from": "tomorrow",
            },
        ],
    )
    assert r.status_code == 422
    lines = r.json["errors"]["lines"]
    assert "amount" in lines["0"] and "valid_to" in lines["1"]
    assert {"condition_type", "valid_from"} <= set(lines["2"])
    unknown = _request(
        cs,
        [
            {"condition_type": "PR00", "product_id": 999999, "amount": "5", "valid_from": str(TODAY)},
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "price_list": "ZZ",
                "amount": "5",
                "valid_from": str(TODAY),
            },
            {"condition_type": "K007", "amount": "5", "valid_from": str(TODAY)},
        ],
    )
    assert unknown.status_code == 422
    lines = unknown.json["errors"]["lines"]
    assert "product_id" in lines["0"] and "price_list" in lines["1"] and "dealer_id" in lines["2"]
    assert cs.get("/api/v1/price-changes").json == []


def test_a_double_submit_requests_one_change_and_only_staff_see_changes(api, catalogue):
    cs = api("cs")
    line = {
        "condition_type": "PR00",
        "product_id": catalogue["FG-TEA-500"],
        "amount": "41.00",
        "valid_from": str(TODAY),
        "price_list": "01",
    }
    first = _request(cs, [line], key="pc-key-000001")
    second = _request(cs, [line], key="pc-key-000001")
    assert first.status_code == 201 and second.status_code == 200
    assert second.json["id"] == first.json["id"] and len(cs.get("/api/v1/price-changes").json) == 1
    assert _request(api("admin"), [line], key="pc-key-000001").status_code == 409
    dealer = api("dealer_east")
    assert dealer.get("/api/v1/price-changes").status_code == 403
    assert dealer.get(f"/api/v1/price-changes/{first.json['id']}").status_code == 403
    assert _request(api("marketing"), [line]).status_code == 403
    assert api("director").get(f"/api/v1/price-changes/{first.json['id']}").status_code == 200
    assert cs.get("/api/v1/price-changes/999999").status_code == 404


def test_price_change_pages(login, catalogue):
    cs = login("cs")
    page = cs.get("/pricing/changes/new")
    assert page.status_code == 200
    key = uuid.uuid4().hex
    bad = cs.post(
        "/pricing/changes/new",
        data={
            "reason": "调价",
            "submit_key": key,
            "condition_type[]": ["PR00"],
            "product[]": ["NOPE-1"],
            "amount[]": ["-1"],
            "valid_from[]": [str(TODAY)],
        },
    )
    assert bad.status_code == 422
    assert "A price must be greater than zero" in bad.get_data(as_text=True)
    ok = cs.post(
        "/pricing/changes/new",
        data={
            "reason": "调价",
            "submit_key": key,
            "condition_type[]": ["PR00"],
            "product[]": ["FG-TEA-500"],
            "price_list[]": ["01"],
            "amount[]": ["43.00"],
            "valid_from[]": [str(TODAY)],
        },
    )
    assert ok.status_code == 302, ok.get_data(as_text=True)[:2000]
    detail = cs.get(ok.headers["Location"]).get_data(as_text=True)
    assert "42.50" in detail and "43.00" in detail
    listing = cs.get("/pricing").get_data(as_text=True)
    assert "PC" in listing and 'data-testid="price-change-row"' in listing
    assert login("dealer_east").get("/pricing").status_code == 403


def test_a_big_change_is_written_by_several_jobs_in_turn(api, app, catalogue, sim, monkeypatch):
    from app.jobs.models import Job
    from app.pricing import operations

    _erp_materials(catalogue)
    monkeypatch.setattr(operations, "ERP_BATCH", 1)
    monkeypatch.setitem(app.config, "PRICE_ERP_WRITE_SECONDS", 0)  # one batch per job
    days = [TODAY + timedelta(days=n) for n in range(3)]
    r = _request(
        api("cs"),
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-COLA-330"],
                "sales_org": "1000",
                "distr_chan": "10",
                "amount": str(50 + n),
                "valid_from": str(day),
                "valid_to": str(day),
            }
            for n, day in enumerate(days)
        ],
    )
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    change = api("cs").get(f"/api/v1/price-changes/{r.json['id']}").json
    assert change["status"] == "applied" and len(change["erp_condition_numbers"]) == 3
    writes = db.session.scalars(select(Job).where(Job.operation == "pricing.write_to_erp")).all()
    assert len(writes) == 3 and {j.status for j in writes} == {"done"}
    amounts = [
        _erp_conditions(
            condition_type="PR00", material="DF-BV-1001", sales_org="1000", distr_chan="10", valid_on=str(day)
        )[0]["amount"]
        for day in days
    ]
    assert amounts == ["50.00", "51.00", "52.00"]


def test_the_requester_corrects_a_refused_change_on_its_page(api, login, catalogue, sim):
    cs_api = api("cs")
    r = _request(
        cs_api,
        [
            {
                "condition_type": "PR00",
                "product_id": catalogue["FG-TEA-500"],
                "price_list": "01",
                "sales_org": "1000",
                "distr_chan": "10",
                "amount": "40.00",
                "valid_from": str(TODAY),
            }
        ],
    )
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    page_url = f"/pricing/changes/{r.json['id']}"
    assert 'id="price-change-correct"' not in login("director").get(page_url).get_data(as_text=True)
    cs = login("cs")
    page = cs.get(page_url).get_data(as_text=True)
    assert 'id="price-change-correct"' in page and 'value="FG-TEA-500"' in page and "ZDF040" in page
    row = {
        "condition_type[]": ["PR00"],
        "product[]": ["DF-BV-3001"],
        "price_list[]": ["01"],
        "sales_org[]": ["1000"],
        "distr_chan[]": ["10"],
        "valid_from[]": [str(TODAY)],
    }
    assert cs.post(page_url, data=row | {"amount[]": ["0"]}).status_code == 422
    _erp_materials(catalogue)
    saved = cs.post(page_url, data=row | {"amount[]": ["40.50"]})
    assert saved.status_code == 302
    _complete(cs_api, "fix_change", fix_decision="resubmit")
    _complete(api("director"), "director_review", decision="approve", comment="ok")
    done = cs_api.get(f"/api/v1/price-changes/{r.json['id']}").json
    assert done["status"] == "applied" and [ln["amount"] for ln in done["lines"]] == ["40.50"]
    assert cs.post(page_url, data=row | {"amount[]": ["41.00"]}).status_code == 409


def test_an_api_submit_key_cannot_take_an_imports_key(api, catalogue):
    line = {
        "condition_type": "PR00",
        "product_id": catalogue["FG-TEA-500"],
        "amount": "41.00",
        "valid_from": str(TODAY),
    }
    r = _request(api("cs"), [line], key="import:1")
    assert r.status_code == 422 and "submit_key" in r.json["errors"]
