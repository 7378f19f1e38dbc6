"""Excel import of base prices (per-row error report, all-or-nothing or good rows, background
run with progress) and price-list export (a dealer only ever gets its own prices)."""

import io
from datetime import date, timedelta

from openpyxl import Workbook, load_workbook

from app.catalog.models import Product
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.pricing.imports import HEADER, run_queued_imports

TODAY = date.today()
SOON = TODAY + timedelta(days=3)


def xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, content: bytes, policy=None, name="prices.xlsx", reason="春季价格表"):
    data = {"file": (io.BytesIO(content), name), "reason": reason}
    if policy:
        data["policy"] = policy
    return client.post("/api/v1/price-imports", data=data, content_type="multipart/form-data")


MIXED = [
    ("FG-TEA-500", "01", 43.5, "CNY", SOON, None),  # row 2: good
    ("NO-SUCH-1", "01", 10, "CNY", SOON, None),  # row 3: unknown product
    ("FG-COLA-330", "", -1, "CNY", SOON, None),  # row 4: amount ≤ 0
    ("FG-COLA-330", "", "abc", "CNY", SOON, None),  # row 5: not a number
    ("FG-COLA-330", "", 60, "CNY", "2026-13-40", None),  # row 6: bad date
    ("FG-COLA-330", "", 60, "CNY", SOON, TODAY),  # row 7: to < from
    ("FG-TEA-500", "01", 44, "CNY", SOON, None),  # row 8: duplicate of row 2
    ("FG-TEA-500", "77", 44, "CNY", SOON, None),  # row 9: unknown price list
    ("FG-COLA-330", None, "61.00", None, SOON.isoformat(), None),  # row 10: good (text cells)
]


def test_a_bad_row_stops_the_whole_import_by_default_and_every_row_is_named(api, catalogue):
    cs = api("cs")
    r = upload(cs, xlsx(MIXED))
    assert r.status_code == 202, r.json
    assert r.json["status"] == "queued"
    assert run_queued_imports() == {"imports": 1}
    status = cs.get(f"/api/v1/price-imports/{r.json['id']}").json
    assert status["status"] == "invalid" and status["price_change_id"] is None
    assert status["processed"] == status["total"] == 9 and status["good_rows"] == 2
    errors = cs.get(f"/api/v1/price-imports/{r.json['id']}/errors").json
    assert [(e["row"], e["column"]) for e in errors] == [
        (3, "product code"),
        (4, "amount"),
        (5, "amount"),
        (6, "valid from"),
        (7, "valid to"),
        (8, "product code"),
        (9, "price list"),
    ]
    assert "Duplicate of row 2" in errors[5]["reason"]
    assert cs.get("/api/v1/price-changes").json == []  # nothing half-applied

    report = cs.get(f"/api/v1/price-imports/{r.json['id']}/errors.xlsx")
    assert report.status_code == 200
    sheet = load_workbook(io.BytesIO(report.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "Error" and rows[1][-1] in (None, "")
    assert "Unknown product NO-SUCH-1" in rows[2][-1] and "price list" in rows[8][-1]

    page = api("cs").get(f"/api/v1/price-imports/{r.json['id']}")
    assert page.status_code == 200


def test_the_good_rows_become_a_price_change_approved_and_written_like_any_other(api, catalogue, sim):
    db.session.get(Product, catalogue["FG-COLA-330"]).material_number = "DF-BV-1001"
    db.session.get(Product, catalogue["FG-TEA-500"]).material_number = "DF-BV-3001"
    db.session.commit()
    rows = [
        (("DF-BV-3001",) + r[1:])
        if r[0] == "FG-TEA-500"
        else (("DF-BV-1001",) + r[1:])
        if r[0] == "FG-COLA-330"
        else r
        for r in MIXED
    ]
    cs = api("cs")
    r = upload(cs, xlsx(rows), policy="good_rows")
    assert r.status_code == 202, r.json
    run_queued_imports()
    status = cs.get(f"/api/v1/price-imports/{r.json['id']}").json
    assert status["status"] == "done" and status["error_count"] == 7
    change = cs.get(f"/api/v1/price-changes/{status['price_change_id']}").json
    assert change["source"] == "import" and change["status"] == "pending"
    assert sorted((ln["material_number"], ln["sales_org"], ln["amount"]) for ln in change["lines"]) == [
        ("DF-BV-1001", "1000", "61.00"),
        ("DF-BV-1001", "2000", "61.00"),
        ("DF-BV-3001", "1000", "43.50"),
        ("DF-BV-3001", "2000", "43.50"),
    ]
    director = api("director")
    [task] = [t for t in director.get("/api/v1/tasks?scope=group").json if t["bpmn_id"] == "director_review"]
    director.post(f"/api/v1/tasks/{task['id']}/claim")
    director.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve", "comment": "ok"}}
    )
    run_due_jobs("test")
    assert cs.get(f"/api/v1/price-changes/{change['id']}").json["status"] == "applied"
    # the same file uploaded again is a new import (a new change), never a replay of the old one
    assert run_queued_imports() == {"imports": 0}


def test_uploads_that_are_not_price_workbooks_are_refused(api, app, catalogue):
    cs = api("cs")
    text = upload(cs, b"product,amount\nFG-TEA-500,4\n", name="prices.csv")
    assert text.status_code == 422 and "file" in text.json["errors"]
    fake_zip = upload(cs, b"PK\x03\x04 not really a workbook")
    assert fake_zip.status_code == 422 and "file" in fake_zip.json["errors"]
    missing = upload(cs, xlsx([("FG-TEA-500",)], header=("Product code",)))
    assert missing.status_code == 422 and "amount" in missing.json["errors"]["file"][0]
    none = cs.post("/api/v1/price-imports", data={"reason": "x"}, content_type="multipart/form-data")
    assert none.status_code == 422 and "file" in none.json["errors"]
    policy = upload(cs, xlsx(MIXED[:1]), policy="some")
    assert policy.status_code == 422 and "policy" in policy.json["errors"]
    no_reason = upload(cs, xlsx(MIXED[:1]), reason="")
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    saved = app.config["PRICE_IMPORT_MAX_BYTES"]
    app.config["PRICE_IMPORT_MAX_BYTES"] = 2048
    try:
        big = upload(cs, xlsx(MIXED * 40))
        assert big.status_code == 422 and "larger" in big.json["errors"]["file"][0]
    finally:
        app.config["PRICE_IMPORT_MAX_BYTES"] = saved
    assert upload(api("dealer_east"), xlsx(MIXED[:1])).status_code == 403
    assert run_queued_imports() == {"imports": 0}  # nothing was queued


def test_twenty_thousand_rows_are_checked_in_the_background(api, catalogue):
    cs = api("cs")
    start = date(2027, 1, 1)
    rows = [
        ("FG-TEA-500", "01", 40 + (n % 100) / 10, "CNY", start + timedelta(days=n), None)
        for n in range(19_999)
    ]
    rows.append(("FG-TEA-500", "01", 0, "CNY", start, None))
    r = upload(cs, xlsx(rows))
    assert r.status_code == 202, r.json
    run_queued_imports()
    status = cs.get(f"/api/v1/price-imports/{r.json['id']}").json
    assert status["total"] == status["processed"] == 20_000
    assert status["status"] == "invalid" and status["error_count"] == 1
    [error] = cs.get(f"/api/v1/price-imports/{r.json['id']}/errors").json
    assert error["row"] == 20_001 and error["column"] == "amount"


def test_import_pages_show_progress_and_errors(login, catalogue):
    cs = login("cs")
    assert cs.get("/pricing/imports/new").status_code == 200
    bad = cs.post(
        "/pricing/imports/new",
        data={"file": (io.BytesIO(b"hello"), "x.txt"), "reason": "r"},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    ok = cs.post(
        "/pricing/imports/new",
        data={"file": (io.BytesIO(xlsx(MIXED)), "p.xlsx"), "reason": "r"},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    queued = cs.get(ok.headers["Location"]).get_data(as_text=True)
    assert 'id="import-bar"' in queued and 'data-status="queued"' in queued
    run_queued_imports()
    done = cs.get(ok.headers["Location"]).get_data(as_text=True)
    assert done.count('data-testid="import-error"') == 7 and 'id="download-errors"' in done


def test_staff_export_any_price_list_a_dealer_only_its_own(api, login, catalogue):
    def sheet(response):
        assert response.status_code == 200, response.data[:300]
        return list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))

    staff = sheet(api("cs").get("/api/v1/price-lists/export.xlsx?price_list=01"))
    assert staff[0][:3] == ("Product code", "Price list", "Amount")
    assert [(r[0], r[1], float(r[2])) for r in staff[1:]] == [("FG-TEA-500", "01", 42.5)]
    south = sheet(api("finance").get("/api/v1/price-lists/export.xlsx?price_list=02"))
    assert [float(r[2]) for r in south[1:]] == [39.9]
    base = sheet(api("cs").get("/api/v1/price-lists/export.xlsx"))
    assert {r[0] for r in base[1:]} == {"FG-TEA-500", "FG-COLA-330", "FG-CHIPS-70"}

    dealer = api("dealer_east")
    own = sheet(dealer.get("/api/v1/price-lists/export.xlsx"))
    prices = {r[0]: float(r[4]) for r in own[1:]}
    assert prices == {"FG-TEA-500": 42.5, "FG-COLA-330": 58.0}  # never 39.90 (02) or 36.00 (south)
    flat = repr(own)
    assert "39.9" not in flat and "FG-CHIPS-70" not in flat
    assert dealer.get("/api/v1/price-lists/export.xlsx?price_list=02").status_code == 404
    assert api("applicant").get("/api/v1/price-lists/export.xlsx").status_code == 403
    page = login("dealer_east").get("/pricing/export").get_data(as_text=True)
    assert "01" in page and "02" not in page.split('id="price-export-form"')[1]
