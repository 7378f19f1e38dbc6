"""Steps 1–5 of dealer admission through the real pages, in Debian's chromium.

A real HTTP server serves the app; a real `flask worker` process runs the archive service task.
"""

import time

import pytest

from tests.browser.conftest import login as _login
from tests.conftest import _uscc, tiny_png

pytestmark = pytest.mark.browser


def _approve(browser, base, username, extra=None):
    page = _login(browser, base, username)
    page.goto(f"{base}/inbox?scope=group")
    page.locator("[data-testid=task-row] a").first.click()
    page.click("#claim-btn")
    page.select_option("[name=decision]", "approve")
    page.fill("[name=comment]", f"approved by {username}")
    for name, value in (extra or {}).items():
        if page.locator(f"select[name={name}]").count():
            page.select_option(f"[name={name}]", value)
        else:
            page.fill(f"[name={name}]", value)
    page.click("#submit-task")
    page.wait_for_url(lambda url: "/inbox" in url)
    page.context.close()


def test_admission_through_the_pages(live_server, worker, browser, sim, tmp_path):
    base = live_server
    licence = tmp_path / "licence.png"
    licence.write_bytes(tiny_png())

    # 1. The applicant applies for a company in East.
    page = _login(browser, base, "applicant")
    page.goto(f"{base}/start")
    page.click("#start-dealer_admission")
    for name, value in {"company_name": "宁波海鲜食品有限公司", "city": "宁波", "uscc": _uscc(),
                        "legal_representative": "陈一", "contact_name": "陈二",
                        "contact_phone": "13812345678", "requested_credit_limit": "200000",
                        "bank_name": "宁波银行", "bank_account": "6230580000123456",
                        "shipping_addresses-0-address": "宁波市鄞州区 1 号"}.items():
        page.fill(f"[name='{name}']", value)
    page.select_option("[name=region]", "east")
    page.select_option("[name=dealer_type]", "tier1")
    page.select_option("[name=level]", "B")
    page.set_input_files("[name=business_licence]", str(licence))
    page.click("#submit-start")
    page.wait_for_url(lambda url: "/instances/" in url)
    instance_url = page.url
    assert page.get_attribute("#instance-status", "data-status") == "running"

    # 2. Only East's regional manager sees it.
    south = _login(browser, base, "mgr_south")
    south.goto(f"{base}/inbox?scope=group")
    assert south.locator("[data-testid=task-row]").count() == 0
    south.context.close()
    _approve(browser, base, "mgr_east")

    # 3. Finance sets the limit and terms (level B, 200k: no director needed).
    _approve(browser, base, "finance", {"approved_credit_limit": "200000",
                                        "payment_terms": "net30"})

    # 5. The worker archives the dealer; the applicant sees the outcome.
    deadline = time.time() + 30
    while time.time() < deadline:
        page.goto(instance_url)
        if page.get_attribute("#instance-status", "data-status") == "completed":
            break
        time.sleep(0.5)
    assert page.get_attribute("#instance-status", "data-status") == "completed"
    assert page.get_attribute("#instance-outcome", "data-outcome") == "approved"
    assert page.inner_text("#dealer-code").startswith("DE")
    assert sim.store.count_customers() >= 1 and sim.store.customer("0000100000") is not None
    page.screenshot(path=str(tmp_path / "outcome.png"))
