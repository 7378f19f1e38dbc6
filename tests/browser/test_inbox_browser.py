"""Batch approval from the inbox in Debian's chromium: the progress bar moves chunk by chunk
and every row reports its result (one task taken by someone else in the meantime: 409)."""

import pytest

from app.extensions import db
from app.tasks.models import HumanTask
from tests.browser.conftest import login as _login
from tests.integration.oa_helpers import add_user, deploy_models, start

pytestmark = pytest.mark.browser


def test_batch_approve_shows_progress_and_row_results(live_server, browser, api):
    base = live_server
    deploy_models()
    add_user("finance2", ["finance"])
    instances = [start(api("storeops"), "oa_chain", title=f"Claim {n}", amount=n)["id"]
                 for n in range(45)]
    page = _login(browser, base, "finance")
    page.goto(f"{base}/inbox?scope=group")
    boxes = page.locator("#task-table input[name=task_ids]")
    assert boxes.count() == 45
    for i in range(45):
        boxes.nth(i).check()
    # Someone else takes one of them before the batch runs.
    taken = db.session.query(HumanTask).filter_by(instance_id=instances[0], status="open").one()
    assert api("finance2").post(f"/api/v1/tasks/{taken.id}/claim").status_code == 200
    page.fill("#batch-form input[name=comment]", "ok")
    page.click("#batch-approve-btn")
    page.wait_for_function("document.querySelectorAll('[data-testid=batch-row]').length == 45")
    assert page.locator("#batch-progress").get_attribute("max") == "45"
    page.wait_for_function("document.getElementById('batch-progress').value == 45")
    assert page.locator("[data-testid=batch-row][data-ok=yes]").count() == 44
    failed = page.locator("[data-testid=batch-row][data-ok=no]")
    assert failed.count() == 1 and failed.get_attribute("data-task-id") == str(taken.id)
    assert "409" in failed.inner_text()
    assert "44 approved, 1 not approved" in page.locator("#batch-status").inner_text()
