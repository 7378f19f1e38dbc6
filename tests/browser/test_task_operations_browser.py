"""Add a signer before oneself, return to the applicant, resubmit and jump straight back —
through the real pages in Debian's chromium, on a small model (tests/integration/bpmn)."""


import pytest

from tests.browser.conftest import login as _login
from tests.integration.oa_helpers import add_user, complete, deploy_models, group, start

pytestmark = pytest.mark.browser


def test_add_signer_before_then_return_to_applicant_and_jump_back(live_server, browser, api):
    base = live_server
    deploy_models()
    add_user("director2", ["sales_director"])
    inst = start(api("storeops"), "oa_chain", amount=300)
    [check] = group(api("finance"), inst["id"])
    api("finance").post(f"/api/v1/tasks/{check['id']}/claim")
    complete(api("finance"), check["id"], decision="approve")
    [review] = group(api("director"), inst["id"])

    # The director claims the review and adds director2 before itself.
    director = _login(browser, base, "director")
    director.goto(f"{base}/tasks/{review['id']}")
    director.click("#claim-btn")
    director.click("#op-add-signers summary")
    director.fill("#signer-users", "director2")
    director.select_option("#signer-position", "before")
    director.fill("#op-add-signers textarea[name=comment]", "please check the amount first")
    director.click("#add-signers-btn")
    director.wait_for_load_state()
    assert director.get_attribute("#task-status", "class").endswith("badge-waiting")

    # The added signer approves from its inbox; the task comes back to the director.
    signer = _login(browser, base, "director2")
    signer.goto(f"{base}/inbox")
    signer.locator("[data-testid=task-row] a").first.click()
    assert signer.locator("#signer-info").count() == 1
    signer.select_option("#decision", "approve")
    signer.fill("#plain-comment", "amount is right")
    signer.click("#submit-task")
    signer.wait_for_url(lambda url: "/inbox" in url)
    signer.context.close()

    director.goto(f"{base}/tasks/{review['id']}")
    assert "badge-open" in director.get_attribute("#task-status", "class")
    assert director.locator("[data-testid=timeline-item][data-outcome=approve]").count() >= 2

    # The director returns the instance to the applicant.
    director.click("#op-return summary")
    director.select_option("#return-to", "initiator")
    director.fill("#op-return textarea[name=comment]", "attach the invoice")
    director.click("#return-btn")
    director.wait_for_url(lambda url: "/inbox" in url)

    # The applicant resubmits; the finance check is skipped and the director has it again.
    owner = _login(browser, base, "storeops")
    owner.goto(f"{base}/inbox")
    owner.locator("[data-testid=task-row] a").first.click()
    owner.fill("#plain-comment", "invoice attached")
    owner.click("#submit-task")
    owner.wait_for_url(lambda url: "/inbox" in url)
    owner.goto(f"{base}/instances/{inst['id']}")
    outcomes = owner.locator("[data-testid=timeline-item]").evaluate_all(
        "items => items.map(i => i.dataset.bpmnId + ':' + i.dataset.outcome)")
    assert "check:skipped" in outcomes and outcomes[-1] == "review:open"
    owner.context.close()

    director.goto(f"{base}/inbox?scope=group")
    director.locator("[data-testid=task-row] a").first.click()
    assert "Director review" in director.inner_text("#task-name")
    assert group(api("finance"), inst["id"]) == []
    director.context.close()
