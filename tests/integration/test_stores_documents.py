"""Store documents, photo times from EXIF, and editing / deactivating inspection plans."""

import functools
import io
import zipfile
from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import select

from app.audit.services import verify_chain
from app.extensions import db
from app.stores.inspections import generate_inspections
from app.stores.models import (
    Inspection,
    InspectionPlan,
    StoreDocument,
    StoreEvent,
    StorePhoto,
)
from app.stores.photos import exif_taken_at
from tests.conftest import tiny_png

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def make_store(make_store):
    """The shared store factory (tests/integration/conftest.py), stores opening by default."""
    return functools.partial(make_store, status="opening", name="测试门店")


def office_file(main_part: str) -> bytes:
    """A minimal Office Open XML package (a ZIP with the content-types part and a main part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        package.writestr(main_part, '<?xml version="1.0"?><root/>')
    return out.getvalue()


def jpeg_with_exif(taken: str, offset: str | None = None) -> bytes:
    """A JPEG whose EXIF DateTimeOriginal (and optionally OffsetTimeOriginal) is ``taken``."""
    exif = Image.Exif()
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = taken  # DateTimeOriginal
    if offset:
        exif_ifd[0x9011] = offset  # OffsetTimeOriginal
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _upload(client, store_id, content, filename, kind="lease_contract", **form):
    return client.post(f"/api/v1/stores/{store_id}/documents", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), filename), "kind": kind, **form})


def _delete(client, path):
    return client.client.delete(path, headers=client.headers)


def _patch(client, path, body):
    return client.client.patch(path, json=body, headers=client.headers)


# -- documents --------------------------------------------------------------------------------

def test_documents_are_filed_listed_downloaded_in_scope_and_deleted_with_history(api,
                                                                                 make_store):
    store_id = make_store()
    dealer = api("dealer_east")
    r = _upload(dealer, store_id, PDF, "../../租赁合同.html", milestone="lease_signed",
                note="三年租期")
    assert r.status_code == 201, r.json
    lease = r.json
    # The type comes from the bytes and the name is cleaned: no directories, a PDF extension.
    assert lease["content_type"] == "application/pdf" and lease["filename"] == "租赁合同.pdf"
    assert lease["milestone"] == "lease_signed" and lease["uploaded_by"] == "dealer_east"
    r = _upload(dealer, store_id, office_file("xl/workbook.xml"), "发票清单.xlsx", kind="invoice")
    assert r.status_code == 201 and r.json["content_type"].endswith("spreadsheetml.sheet")
    r = _upload(api("storeops"), store_id, office_file("word/document.xml"), "验收报告.docx",
                kind="acceptance_report", milestone="acceptance")
    assert r.status_code == 201 and r.json["content_type"].endswith("wordprocessingml.document")
    report = r.json

    detail = dealer.get(f"/api/v1/stores/{store_id}").json
    assert [d["kind"] for d in detail["documents"]] == ["lease_contract", "invoice",
                                                        "acceptance_report"]
    r = dealer.get(f"/api/v1/stores/{store_id}/documents/{lease['id']}/content")
    assert r.status_code == 200 and r.data == PDF and r.mimetype == "application/pdf"
    r = dealer.get(f"/api/v1/stores/{store_id}/documents/{report['id']}/content")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]

    # Another dealer sees neither the store nor its documents; the store's id does not help.
    south = api("dealer_south")
    for path in (f"/api/v1/stores/{store_id}/documents",
                 f"/api/v1/stores/{store_id}/documents/{lease['id']}/content"):
        assert south.get(path).status_code == 404
    assert _delete(south, f"/api/v1/stores/{store_id}/documents/{lease['id']}").status_code == 404
    other_store = make_store(dealer_code="DS000001")
    assert south.get(f"/api/v1/stores/{other_store}/documents/{lease['id']}/content") \
        .status_code == 404

    # The dealer may not delete store operations' report; store operations may delete anything.
    r = _delete(dealer, f"/api/v1/stores/{store_id}/documents/{report['id']}")
    assert r.status_code == 403
    assert _delete(dealer, f"/api/v1/stores/{store_id}/documents/{lease['id']}").status_code == 204
    assert _delete(dealer, f"/api/v1/stores/{store_id}/documents/{lease['id']}").status_code == 404
    assert dealer.get(f"/api/v1/stores/{store_id}/documents/{lease['id']}/content") \
        .status_code == 404
    assert [d["id"] for d in dealer.get(f"/api/v1/stores/{store_id}/documents").json] == [
        lease["id"] + 1, report["id"]]
    kinds = [e.kind for e in db.session.scalars(select(StoreEvent).where(
        StoreEvent.store_id == store_id).order_by(StoreEvent.id))]
    assert kinds == ["document_added"] * 3 + ["document_deleted"]
    deleted = db.session.get(StoreDocument, lease["id"])
    assert deleted.deleted_by == "dealer_east" and deleted.deleted_at is not None
    assert verify_chain()[1] is None


def test_bad_documents_answer_422_per_field_and_keep_nothing(api, make_store, app):
    store_id = make_store()
    dealer = api("dealer_east")
    r = _upload(dealer, store_id, b"MZ\x90\x00 not a document", "合同.pdf")
    assert r.status_code == 422 and "file" in r.json["errors"]
    r = _upload(dealer, store_id, b"PK\x03\x04 broken zip", "合同.docx")
    assert r.status_code == 422 and "file" in r.json["errors"]
    r = _upload(dealer, store_id, PDF, "合同.pdf", kind="poem", milestone="party")
    assert r.status_code == 422 and set(r.json["errors"]) == {"kind", "milestone"}
    saved = app.config["STORE_DOCUMENT_MAX_BYTES"]
    app.config["STORE_DOCUMENT_MAX_BYTES"] = 1024
    try:
        r = _upload(dealer, store_id, PDF + b"0" * 2048, "big.pdf")
    finally:
        app.config["STORE_DOCUMENT_MAX_BYTES"] = saved
    assert r.status_code == 422 and "file" in r.json["errors"]
    # Other dealers, and roles that only look, may not file documents.
    assert _upload(api("dealer_south"), store_id, PDF, "x.pdf").status_code == 404
    assert _upload(api("inspector"), store_id, PDF, "x.pdf").status_code == 403
    assert db.session.scalar(select(StoreDocument.id)) is None
    assert dealer.get(f"/api/v1/stores/{store_id}").json["documents"] == []


def test_store_page_lists_uploads_and_deletes_documents(login, make_store):
    store_id = make_store()
    page = login("dealer_east")
    r = page.post(f"/stores/{store_id}/documents", content_type="multipart/form-data",
                  data={"file": (io.BytesIO(PDF), "平面图.pdf"), "kind": "floor_plan",
                        "milestone": ""})
    assert r.status_code == 303
    html = page.get(f"/stores/{store_id}").get_data(as_text=True)
    assert "平面图.pdf" in html and 'id="document-form"' in html
    doc = db.session.scalar(select(StoreDocument))
    assert page.get(f"/stores/{store_id}/documents/{doc.id}").data == PDF
    assert login("dealer_south").get(f"/stores/{store_id}/documents/{doc.id}").status_code == 404
    r = page.post(f"/stores/{store_id}/documents", content_type="multipart/form-data",
                  data={"file": (io.BytesIO(b"plain text"), "notes.txt"), "kind": "other"})
    assert r.status_code == 303
    html = page.get(f"/stores/{store_id}").get_data(as_text=True)
    assert 'class="flash error"' in html and "不支持该文件类型" in html
    assert page.post(f"/stores/{store_id}/documents/{doc.id}/delete").status_code == 303
    html = page.get(f"/stores/{store_id}").get_data(as_text=True)
    assert "平面图.pdf" in html  # named in the history only
    assert f"/stores/{store_id}/documents/{doc.id}\"" not in html
    assert page.get(f"/stores/{store_id}/documents/{doc.id}").status_code == 404


# -- photo times ------------------------------------------------------------------------------

def test_photo_time_comes_from_exif_then_the_device_then_the_upload(api, make_store):
    inspector = api("inspector")

    def upload(content, name, **form):
        r = inspector.post("/api/v1/stores/photos", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), name), **form})
        assert r.status_code == 201, r.json
        return r.json

    # EXIF without an offset is local time (UTC+8 by default); the browser's file time loses.
    photo = upload(jpeg_with_exif("2026:11:03 09:15:00"), "shelf.jpg",
                   taken_at="2026-11-20T00:00:00Z")
    assert photo["taken_at"].startswith("2026-11-03T01:15:00")
    assert photo["taken_at_source"] == "exif"
    photo = upload(jpeg_with_exif("2026:11:03 09:15:00", "+02:00"), "shelf2.jpg")
    assert photo["taken_at"].startswith("2026-11-03T07:15:00")
    # No EXIF: the file time the browser sent, else the upload time, marked as such.
    photo = upload(tiny_png(), "floor.png", taken_at="2026-11-04T10:00:00+08:00")
    assert photo["taken_at"].startswith("2026-11-04T02:00") and photo["taken_at_source"] == "device"
    photo = upload(tiny_png(), "floor2.png")
    assert photo["taken_at_source"] == "upload"
    assert datetime.fromisoformat(photo["taken_at"]) > datetime(2026, 1, 1)
    # A camera whose clock was never set does not date the photo.
    assert exif_taken_at(jpeg_with_exif("1970:01:01 00:00:00")) is None
    assert exif_taken_at(b"\xff\xd8\xff\xe0 not really a jpeg") is None


def test_checklist_page_shows_where_each_photo_time_came_from(api, login, make_store):
    store_id = make_store(status="active")
    ops = api("storeops")
    assert ops.post("/api/v1/inspection-plans", json={
        "name": "月度", "store_type": "standard", "start_month": "2026-01"}).status_code == 201
    generate_inspections("2026-12")
    db.session.commit()
    inspector = api("inspector")
    [todo] = inspector.get("/api/v1/inspections?status=open").json
    ids = []
    for content, name in ((jpeg_with_exif("2026:11:03 09:15:00"), "a.jpg"),
                          (tiny_png(), "b.png")):
        r = inspector.post("/api/v1/stores/photos", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), name)})
        ids.append(r.json["attachment_id"])
    items = [{"item": i, "score": 9} for i in ("hygiene", "display", "service", "decoration")]
    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit",
                       json={"items": items, "photos": ids})
    assert r.status_code == 200
    html = login("inspector").get(f"/inspections/{todo['id']}").get_data(as_text=True)
    assert "2026-11-03 01:15 UTC" in html
    assert 'data-time-source="exif"' in html and 'data-time-source="upload"' in html
    store_html = login("storeops").get(f"/stores/{store_id}").get_data(as_text=True)
    assert 'data-time-source="exif"' in store_html
    # The store's dealer opens the inspector's photo from its store page; another dealer not.
    dealer_page = login("dealer_east")
    dealer_html = dealer_page.get(f"/stores/{store_id}").get_data(as_text=True)
    [first] = [p for p in db.session.scalars(select(StorePhoto).where(
        StorePhoto.attachment_id == ids[0]))]
    link = f"/stores/{store_id}/photos/{first.id}"
    assert link in dealer_html
    r = dealer_page.get(link)
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert login("dealer_south").get(link).status_code == 404
    other = make_store(dealer_code="DS000001")
    assert login("dealer_south").get(f"/stores/{other}/photos/{first.id}").status_code == 404


# -- inspection plans -------------------------------------------------------------------------

def _plan(client, **body):
    body = {"name": "月度巡店", "store_type": "standard", "every_months": 1,
            "start_month": "2026-01", "due_days": 20, "threshold": 70} | body
    return client.post("/api/v1/inspection-plans", json=body)


def test_plans_are_edited_under_the_create_rules_and_keep_a_history(api, make_store):
    make_store(status="active")
    ops = api("storeops")
    plan = _plan(ops).json
    flagship = _plan(ops, name="旗舰", store_type="flagship").json
    path = f"/api/v1/inspection-plans/{plan['id']}"

    r = _patch(ops, path, {"every_months": 3, "due_days": 60, "threshold": 80,
                           "checklist": ["hygiene", "display"]})
    assert r.status_code == 200, r.json
    assert (r.json["every_months"], r.json["threshold"], r.json["checklist"]) == (
        3, 80, ["hygiene", "display"])
    # The same overlap rules as creating one; nothing changes on a refusal.
    r = _patch(ops, path, {"every_months": 1})
    assert r.status_code == 422 and "会与下一次巡店重叠" in r.json["errors"]["due_days"][0]
    assert _patch(ops, path, {"every_months": 5}).status_code == 422
    assert _patch(ops, path, {"checklist": []}).status_code == 422
    assert _patch(ops, path, {"checklist": ["smell"]}).status_code == 422
    assert _patch(ops, path, {"threshold": 101}).status_code == 422
    assert _patch(api("dealer_east"), path, {"threshold": 10}).status_code == 403
    assert _patch(ops, "/api/v1/inspection-plans/99999", {"threshold": 10}).status_code == 404
    db.session.expire_all()
    assert db.session.get(InspectionPlan, plan["id"]).every_months == 3

    # Generation follows the new period (quarterly from January) and the new threshold.
    assert generate_inspections("2026-11") == 0
    assert generate_inspections("2026-10") == 1
    db.session.commit()
    assert db.session.scalar(select(Inspection.threshold)) == 80

    # The checklist is the plan's: only its items are scored, and they make the score.
    inspector = api("inspector")
    [todo] = inspector.get("/api/v1/inspections?status=open").json
    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit", json={"items": [
        {"item": "hygiene", "score": 9}, {"item": "service", "score": 9}]})
    assert r.status_code == 422 and "items" in r.json["errors"]
    r = inspector.post(f"/api/v1/inspections/{todo['id']}/submit", json={"items": [
        {"item": "hygiene", "score": 9}, {"item": "display", "score": 7}]})
    assert r.status_code == 200 and r.json["score"] == 80

    # Reactivating or retargeting onto stores another active plan covers is a 409.
    assert _delete(ops, f"/api/v1/inspection-plans/{flagship['id']}").status_code == 200
    assert _plan(ops, name="旗舰二", store_type="flagship").status_code == 201
    r = _patch(ops, f"/api/v1/inspection-plans/{flagship['id']}", {"active": True})
    assert r.status_code == 409 and r.json["code"] == "plan_overlaps"

    history = ops.get(path).json["history"]
    assert [h["action"] for h in history] == ["created", "changed"]
    assert history[1]["actor"] == "storeops"
    assert history[1]["details"]["changes"]["threshold"] == {"from": 70, "to": 80}


def test_a_deactivated_plan_generates_nothing_until_reactivated(api, make_store):
    store_id = make_store(status="active")
    ops = api("storeops")
    plan = _plan(ops).json
    own = _plan(ops, name="单店", store_type=None, store_id=store_id).json
    r = _delete(ops, f"/api/v1/inspection-plans/{own['id']}")
    assert r.status_code == 200 and r.json["active"] is False
    # The type plan takes the store back once its own plan is off.
    assert generate_inspections("2026-12") == 1
    db.session.commit()
    assert db.session.scalar(select(Inspection.plan_id)) == plan["id"]
    assert _delete(ops, f"/api/v1/inspection-plans/{plan['id']}").status_code == 200
    assert generate_inspections("2027-01") == 0
    r = _patch(ops, f"/api/v1/inspection-plans/{plan['id']}", {"active": True})
    assert r.status_code == 200 and r.json["active"] is True
    assert generate_inspections("2027-01") == 1
    events = [e.kind for e in db.session.scalars(select(StoreEvent).where(
        StoreEvent.store_id == store_id))]
    assert "plan_deactivated" in events
    assert [h["action"] for h in ops.get(f"/api/v1/inspection-plans/{plan['id']}").json[
        "history"]] == ["created", "deactivated", "activated"]


def test_plans_page_edits_and_deactivates(login, api, make_store):
    ops = api("storeops")
    plan = _plan(ops).json
    page = login("storeops")
    html = page.get("/inspections/plans").get_data(as_text=True)
    assert f'id="plan-{plan["id"]}"' in html and 'value="deactivate"' in html
    r = page.post(f"/inspections/plans/{plan['id']}", data={
        "action": "save", "name": "双月巡店", "every_months": "2", "due_days": "30",
        "threshold": "75", "checklist": ["hygiene", "service", "display"]})
    assert r.status_code == 303
    db.session.expire_all()
    saved = db.session.get(InspectionPlan, plan["id"])
    assert (saved.name, saved.every_months, saved.threshold) == ("双月巡店", 2, 75)
    assert saved.checklist == ["hygiene", "display", "service"]
    r = page.post(f"/inspections/plans/{plan['id']}", data={
        "action": "save", "name": "x", "every_months": "1", "due_days": "45", "threshold": "75",
        "checklist": ["hygiene"]})
    assert r.status_code == 422  # shown beside the field, with what was typed
    html = r.get_data(as_text=True)
    assert 'data-error="due_days"' in html and "会与下一次巡店重叠" in html and 'value="45"' in html
    page.post(f"/inspections/plans/{plan['id']}", data={"action": "deactivate"})
    db.session.expire_all()
    assert db.session.get(InspectionPlan, plan["id"]).active is False
    html = page.get("/inspections/plans").get_data(as_text=True)
    assert 'data-active="false"' in html and 'value="activate"' in html
    # Someone who only looks sees the plans but no forms; a dealer cannot change them.
    assert 'value="deactivate"' not in login("inspector").get("/inspections/plans") \
        .get_data(as_text=True)
    assert login("dealer_east").post(f"/inspections/plans/{plan['id']}",
                                     data={"action": "activate"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(InspectionPlan, plan["id"]).active is False
