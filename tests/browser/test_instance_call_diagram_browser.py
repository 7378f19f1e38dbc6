"""The instance diagram drills down from a call activity into the called process, and back."""

import pytest

from tests.browser.conftest import login as _login
from tests.integration.call_models import CHILD, PARENT, deploy_call_models

pytestmark = pytest.mark.browser


def test_user_opens_the_called_process_of_a_call_activity_and_returns(live_server, browser, api):
    deploy_call_models()
    r = api("analyst").post(f"/api/v1/processes/{PARENT}/instances", json={})
    assert r.status_code == 201, r.json
    instance_id = r.json["id"]
    page = _login(browser, live_server, "analyst")
    page.goto(f"{live_server}/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-loaded=true]")
    canvas = "#instance-canvas .djs-element"
    assert page.locator(f"{canvas}.df-active[data-element-id=run_child]").count() == 1
    assert page.locator("#diagram-back").is_hidden()
    assert page.locator("#diagram-path").inner_text() == PARENT

    page.click("[data-testid=open-called][data-element=run_child]")
    page.wait_for_selector(f"#instance-diagram[data-loaded=true][data-process={CHILD}]")
    assert page.locator(f"{canvas}[data-element-id=child_review]").count() == 1
    assert page.locator(f"{canvas}.df-active[data-element-id=child_review]").count() == 1
    assert page.locator(f"{canvas}.df-completed[data-element-id=child_start]").count() == 1
    assert page.locator(f"{canvas}[data-element-id=run_child]").count() == 0
    assert page.locator("#diagram-path").inner_text() == f"{PARENT} › {CHILD}"
    assert PARENT in page.locator("#diagram-back").inner_text()

    page.click("#diagram-back")
    page.wait_for_selector(f"#instance-diagram[data-loaded=true][data-process={PARENT}]")
    assert page.locator(f"{canvas}.df-active[data-element-id=run_child]").count() == 1
    assert page.locator("#diagram-back").is_hidden()
