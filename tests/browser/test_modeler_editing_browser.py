"""Editing in the modeler: unsaved-changes guard, Ctrl+S deploy with a change summary, element
search, and processes whose key looks like an editor route (Debian's chromium, bpmn-js)."""

import pytest
from sqlalchemy import func, select

from app.engine.models import ProcessVersion
from app.extensions import db
from tests.browser.conftest import login as _login

pytestmark = pytest.mark.browser
KEY = "store_suspension"


def _latest(key: str = KEY) -> int | None:
    db.session.remove()
    try:
        return db.session.scalar(select(func.max(ProcessVersion.version))
                                 .where(ProcessVersion.process_key == key))
    finally:
        db.session.remove()


def _open(page, base: str, key: str = KEY, query: str = "") -> None:
    page.goto(f"{base}/modeler/processes/{key}{query}")
    page.wait_for_selector("#modeler[data-loaded=true]")


def _rename(page, element: str, name: str) -> None:
    page.evaluate("""([id, name]) => {
        const m = window.dealerflowModeler;
        m.get('modeling').updateLabel(m.get('elementRegistry').get(id), name);
    }""", [element, name])


def _dialogs(page) -> list:
    """Record every dialog's type; dismiss them unless the test accepts the next one."""
    seen = []

    def handle(dialog):
        seen.append(dialog.type)
        dialog.accept() if getattr(page, "_accept_next", False) else dialog.dismiss()
        page._accept_next = False

    page.on("dialog", handle)
    return seen


def test_unsaved_edits_are_flagged_and_leaving_asks_first(live_server, browser):
    base = live_server
    page = _login(browser, base, "analyst")
    dialogs = _dialogs(page)
    _open(page, base)
    indicator = page.locator("#unsaved-indicator")
    assert indicator.is_hidden() and page.locator("#modeler").get_attribute("data-dirty") == "false"
    page.click(".crumbs a")  # nothing edited: leaves without a question
    page.wait_for_url(f"{base}/modeler")
    assert dialogs == []

    _open(page, base)
    _rename(page, "manager_review", "Manager review (edited)")
    assert indicator.is_visible() and "Unsaved changes" in indicator.inner_text()
    page.click(".crumbs a")  # in-app link: confirm, dismissed → stays with the edit
    assert dialogs == ["confirm"]
    assert page.url.endswith(f"/modeler/processes/{KEY}") and indicator.is_visible()
    page.close(run_before_unload=True)  # closing the tab: the browser's leave warning
    page.wait_for_timeout(300)
    assert dialogs == ["confirm", "beforeunload"] and not page.is_closed()

    page.evaluate("window.dealerflowModeler.get('commandStack').undo()")  # back to the saved
    assert indicator.is_hidden()
    _rename(page, "manager_review", "Manager review (v2)")
    page.click("#deploy-btn")
    page.wait_for_selector("#deploy-dialog[open]")
    page.click("#deploy-confirm")
    page.wait_for_function("document.querySelector('#modeler').dataset.version === '2'")
    assert indicator.is_hidden() and _latest() == 2

    _rename(page, "ops_review", "Ops review (draft)")
    with page.expect_download() as download:
        page.click("#download-btn")
    assert "Ops review (draft)" in open(download.value.path(), encoding="utf-8").read()
    assert indicator.is_hidden()  # downloaded: nothing left to lose

    before = len(dialogs)
    page.reload()  # clean: reloads without a question, now with version 2 in the history
    page.wait_for_selector("#modeler[data-loaded=true]")
    assert len(dialogs) == before
    _rename(page, "ops_review", "Ops review (draft 2)")
    page._accept_next = True  # opening another version: confirm, accepted → it opens
    page.click("[data-testid=version-row][data-version='1'] a:has-text('View')")
    page.wait_for_url(f"{base}/modeler/processes/{KEY}?version=1")
    assert dialogs[-1] == "confirm"
    page.wait_for_selector("#modeler[data-loaded=true]")
    assert page.locator("#read-only-note").is_visible()


def test_ctrl_s_validates_shows_the_changes_and_deploys_on_confirmation(live_server, browser):
    base = live_server
    page = _login(browser, base, "analyst")
    _open(page, base)
    page.keyboard.press("Control+s")  # no edit: the round trip through bpmn-js is no change
    page.wait_for_selector("#deploy-dialog[open]")
    assert "Compared with version 1: 0 added, 0 removed, 0 changed" in \
        page.locator("#diff-summary").inner_text()
    assert page.locator("#diff-none").is_visible()
    page.click("#deploy-cancel")
    assert page.locator("#modeler-status").inner_text() == "Not deployed."

    page.evaluate("""() => {
        const m = window.dealerflowModeler, reg = m.get('elementRegistry');
        m.get('modeling').updateProperties(reg.get('manager_review'), {'camunda:formKey': 'nope'});
    }""")
    page.keyboard.press("Control+s")  # invalid: problems, no confirmation
    page.wait_for_selector("[data-testid=problem][data-element=manager_review]")
    assert page.locator("#deploy-dialog").get_attribute("open") is None
    page.evaluate("window.dealerflowModeler.get('commandStack').undo()")

    page.evaluate("""() => {
        const m = window.dealerflowModeler, reg = m.get('elementRegistry');
        const modeling = m.get('modeling');
        modeling.updateLabel(reg.get('manager_review'), 'Manager review (v2)');
        modeling.removeElements([reg.get('end_rejected')]);
        modeling.appendShape(reg.get('mark_rejected'), {type: 'bpmn:EndEvent'});
    }""")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#deploy-dialog[open]")
    summary = page.locator("#diff-summary").inner_text()
    assert "Compared with version 1: 2 added, 2 removed" in summary
    removed = page.locator("[data-testid=diff-removed]")
    assert sorted(removed.evaluate_all("els => els.map(e => e.dataset.element)")) == [
        "end_rejected", "flow_to_rejected"]
    added = page.locator("[data-testid=diff-added]").all_inner_texts()
    assert any(a.startswith("End event · ") for a in added), added
    assert any(a.startswith("Sequence flow · ") for a in added), added
    assert not any("endEvent" in a or "sequenceFlow" in a for a in added), added
    assert " · User task · manager_review" in changed_text(page)
    changed = page.locator("[data-testid=diff-changed][data-element=manager_review]")
    assert "Manager review (v2)" in changed.inner_text()
    page.click("#deploy-cancel")
    assert _latest() == 1 and page.locator("#unsaved-indicator").is_visible()

    page.keyboard.press("Control+s")
    page.wait_for_selector("#deploy-dialog[open]")
    page.evaluate("window.samePage = true")
    page.click("#deploy-confirm")
    page.wait_for_function("document.querySelector('#modeler').dataset.version === '2'")
    assert _latest() == 2 and page.locator("#unsaved-indicator").is_hidden()
    assert page.locator("#current-version").inner_text() == "latest: 2"
    # The version table follows without a reload: version 2 on top and shown, 1 viewable.
    page.wait_for_selector("[data-testid=version-row][data-version='2']")
    rows = page.locator("[data-testid=version-row]")
    assert rows.evaluate_all("els => els.map(e => e.dataset.version)") == ["2", "1"]
    assert "Shown" in rows.nth(0).inner_text() and "analyst" in rows.nth(0).inner_text()
    assert rows.nth(1).locator("a:has-text('View')").count() == 1
    assert page.evaluate("window.samePage") is True


def changed_text(page) -> str:
    return page.locator("[data-testid=diff-changed][data-element=manager_review]").inner_text()


def test_analyst_finds_an_element_by_name_or_id(live_server, browser):
    base = live_server
    page = _login(browser, base, "analyst")
    _open(page, base)
    for query, element, opener in (("ops_rev", "ops_review", "button"),
                                   ("Regional manager", "lane_manager", "keyboard")):
        if opener == "button":
            page.click("#search-btn")
        else:
            page.click("#canvas")
            page.keyboard.press("Control+f")
        box = page.locator(".djs-search-input input")
        box.press_sequentially(query)
        page.wait_for_selector(".djs-search-result")
        box.press("Enter")
        selected = page.evaluate("window.dealerflowModeler.get('selection').get().map(e => e.id)")
        assert selected == [element], query


def test_a_process_keyed_new_opens_and_new_diagrams_still_start_empty(live_server, browser):
    base = live_server
    page = _login(browser, base, "analyst")
    page.goto(f"{base}/modeler/new")
    page.wait_for_selector("#modeler[data-loaded=true]")
    page.evaluate("""() => {
        const m = window.dealerflowModeler, modeling = m.get('modeling');
        modeling.updateProperties(m.get('canvas').getRootElement(), {id: 'new', name: 'The new one'});
        modeling.appendShape(m.get('elementRegistry').get('StartEvent_1'), {type: 'bpmn:EndEvent'});
    }""")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#deploy-dialog[open]")
    assert "new is a new process" in page.locator("#diff-summary").inner_text()
    page.click("#deploy-confirm")
    page.wait_for_url(f"{base}/modeler/processes/new")
    assert _latest("new") == 1 and page.locator("#unsaved-indicator").is_hidden()
    page.wait_for_selector("#version-history [data-testid=version-row][data-version='1']")
    assert "Shown" in page.locator("[data-testid=version-row]").inner_text()

    page.goto(f"{base}/modeler")
    page.click("[data-process-key=new] a")
    page.wait_for_selector("#modeler[data-loaded=true]")
    assert page.locator("#modeler").get_attribute("data-key") == "new"
    assert page.evaluate("window.dealerflowModeler.get('canvas').getRootElement().id") == "new"
    page.goto(f"{base}/modeler/new")
    page.wait_for_selector("#modeler[data-loaded=true]")
    assert page.locator("#modeler").get_attribute("data-key") == ""

    page.goto(f"{base}/modeler/processes/bad$key")
    assert "is not a valid process key" in page.content()
