"""Customer service imports base prices in Debian's chromium: upload → a real `flask worker`
checks the rows in the background while the progress bar moves → the bad rows are listed with
their reasons → the good rows wait for approval as one price change."""

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook

from app.extensions import db
from app.pricing.imports import HEADER
from tests.browser.conftest import login as _login
from tests.integration.conftest import catalogue  # noqa: F401, F811  (the commerce fixture)

pytestmark = pytest.mark.browser


def _workbook(path, rows: int) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(list(HEADER))
    start = date(2030, 1, 1)
    for n in range(rows):
        sheet.append(
            ["FG-TEA-500", "01", 40 + n % 7, "CNY", start + timedelta(days=n), start + timedelta(days=n)]
        )
    sheet.append(["NO-SUCH-9", "01", 40, "CNY", start, None])
    sheet.append(["FG-COLA-330", "", -3, "CNY", start, None])
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())


def test_an_import_shows_progress_errors_and_its_price_change(
    live_server, worker, browser, catalogue, tmp_path  # noqa: F811
):
    base = live_server
    db.session.commit()  # end the fixture's read transaction: the server and worker write
    source = tmp_path / "prices.xlsx"
    _workbook(source, 3000)
    cs = _login(browser, base, "cs")
    cs.goto(f"{base}/pricing")
    cs.click("#new-price-import")
    cs.set_input_files("#import-file", str(source))
    cs.check("input[name=policy][value=good_rows]")
    cs.fill("#import-reason", "2030 daily prices")
    cs.click("#upload-import")
    cs.wait_for_selector("#import-bar")
    # the worker's periodic job picks it up; the page polls and reloads when it is finished
    cs.wait_for_selector("#import-change", timeout=90_000)
    assert cs.locator("#import-processed").inner_text() == "3002"
    errors = cs.locator("[data-testid=import-error]")
    assert errors.count() == 2
    assert "NO-SUCH-9" in errors.nth(0).inner_text() and "greater than zero" in errors.nth(1).inner_text()
    assert cs.locator("#download-errors").is_visible()
    cs.click("#import-change")
    assert "Waiting for approval" in cs.locator("#price-change-status").inner_text()
    # 3,000 rows, each in both sales areas the tea is sold in
    assert "6000" in cs.locator("h2").first.inner_text()
