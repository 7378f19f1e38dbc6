"""On a phone-sized screen the inspector fills in a checklist with a photo (timed by its
EXIF); the low score opens the dealer's corrective action, which the dealer finds in the inbox."""

import io
from datetime import datetime
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select

from app.dealers.models import Dealer
from app.extensions import db
from app.stores.inspections import generate_inspections
from app.stores.models import Inspection, InspectionPlan, Store, StorePhoto
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2, "locale": "en-US"}


def _login(browser, base, username):
    return login(browser, base, username, **PHONE)


def _store_with_inspection() -> int:
    dealer = db.session.scalar(select(Dealer).where(Dealer.code == "DE000001"))
    store = Store(code="SE000777", name="静安标准店", dealer_id=dealer.id, region="east",
                  status="active", city="上海", address="南京西路 1 号", store_type="standard",
                  area_m2=Decimal("95"), budget_total=Decimal("0"))
    db.session.add(store)
    db.session.add(InspectionPlan(name="月度", store_type="standard", every_months=1,
                                  start_month="2026-01", due_days=20, threshold=70,
                                  created_by="test"))
    db.session.flush()
    generate_inspections("2026-11")
    inspection_id = db.session.scalar(select(Inspection.id))
    db.session.commit()  # release the database before the server writes to it
    return inspection_id


def test_inspector_fills_in_the_checklist_on_a_phone(live_server, browser, tmp_path):
    base = live_server
    inspection_id = _store_with_inspection()
    photo = tmp_path / "counter.jpg"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:11:03 09:15:00"  # DateTimeOriginal, local (UTC+8)
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 140, 200)).save(out, "JPEG", exif=exif)
    photo.write_bytes(out.getvalue())

    page = _login(browser, base, "inspector")
    page.goto(f"{base}/inspections")
    page.click(f"[data-inspection-id='{inspection_id}'] a")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    for item, score in (("hygiene", "4"), ("display", "5"), ("service", "7"),
                        ("decoration", "6")):
        page.fill(f"#score_{item}", score)
    page.fill("#note_hygiene", "Dust on the shelves")
    page.set_input_files("#photo-input", str(photo))
    page.wait_for_selector("[data-testid=photo-ok]")
    assert "2026-11-03 01:15 UTC (camera time (EXIF))" in page.inner_text("#photo-list")
    page.click("#inspection-submit")
    page.wait_for_selector("#inspection-result")
    assert "2026-11-03 01:15 UTC" in page.inner_text("#inspection-result")
    assert page.inner_text("#inspection-score") == "55"
    assert "open" in page.inner_text("#corrective-status")
    page.screenshot(path=str(tmp_path / "inspection.png"))
    page.context.close()

    db.session.remove()
    [kept] = db.session.scalars(select(StorePhoto).where(
        StorePhoto.inspection_id == inspection_id)).all()
    assert (kept.taken_at, kept.taken_at_source) == (datetime(2026, 11, 3, 1, 15), "exif")
    db.session.commit()

    dealer = _login(browser, base, "dealer_east")
    dealer.goto(f"{base}/inbox")
    rows = dealer.locator("[data-testid=task-row]")
    assert rows.count() == 1 and "Corrective action" in rows.first.inner_text()
    dealer.context.close()
