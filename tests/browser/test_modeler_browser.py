"""The BPMN modeler and the instance diagram in Debian's chromium (bpmn-js from npm)."""

import pytest
from sqlalchemy import func, select

from app.engine.models import ProcessVersion
from app.extensions import db
from tests.browser.conftest import login as _login

pytestmark = pytest.mark.browser
KEY = "store_suspension"


def _latest() -> int:
    """The latest deployed version (the session is closed again: the live server writes)."""
    db.session.remove()
    try:
        return db.session.scalar(select(func.max(ProcessVersion.version))
                                 .where(ProcessVersion.process_key == KEY))
    finally:
        db.session.remove()


def _set_form_key(page, element: str, form_key: str) -> None:
    page.evaluate("""([id, key]) => {
        const m = window.dealerflowModeler;
        m.get('modeling').updateProperties(m.get('elementRegistry').get(id),
                                           {'camunda:formKey': key});
    }""", [element, form_key])


def test_analyst_validates_and_deploys_a_process_in_the_modeler(live_server, browser):
    base = live_server
    page = _login(browser, base, "analyst")
    page.goto(f"{base}/modeler")
    page.click(f"a[href='/modeler/processes/{KEY}']")
    page.wait_for_selector("#modeler[data-loaded=true]")
    assert page.evaluate("window.dealerflowModeler.get('elementRegistry').getAll().length") > 10
    assert page.locator("#canvas .djs-element").count() > 0

    # Our spiffworkflow / camunda extensions survive bpmn-js's load → save round trip.
    saved = page.evaluate("window.dealerflowModeler.saveXML({format: true}).then(r => r.xml)")
    assert 'camunda:candidateStarterGroups="dealer,store_ops"' in saved
    assert 'camunda:formKey="store_review"' in saved
    assert '<spiffworkflow:serviceTaskOperator id="stores.suspend" resultVariable="change">' in saved
    assert "<spiffworkflow:parameter " in saved

    page.click("#validate-btn")
    page.wait_for_selector("#modeler-status[data-state=success]")
    assert page.locator("[data-testid=problem]").count() == 0

    # A form that does not exist: located problem, highlighted element, nothing deployed.
    _set_form_key(page, "manager_review", "no_such_form")
    page.click("#deploy-btn")
    page.wait_for_selector("#modeler-status[data-state=error]")
    problem = page.locator("[data-testid=problem]").first
    assert problem.get_attribute("data-element") == "manager_review"
    assert f"{KEY}.bpmn" in problem.inner_text()
    assert page.locator(".djs-element.df-problem[data-element-id=manager_review]").count() == 1
    assert _latest() == 1

    _set_form_key(page, "manager_review", "store_review")
    page.evaluate("""() => {
        const m = window.dealerflowModeler;
        m.get('modeling').updateLabel(m.get('elementRegistry').get('start'), 'Request (v2)');
    }""")
    page.click("#deploy-btn")
    page.wait_for_selector("#deploy-dialog[open]")
    page.click("#deploy-confirm")
    page.wait_for_selector("#modeler-status[data-state=success]")
    page.wait_for_function("document.querySelector('#modeler-status').innerText.includes('2')")
    assert page.locator("#current-version").get_attribute("data-version") == "2"
    assert "2" in page.locator("#modeler-status").inner_text()
    assert page.locator(".djs-element.df-problem").count() == 0
    assert _latest() == 2
    page.goto(f"{base}/modeler")
    assert page.locator(f"[data-process-key={KEY}] [data-testid=latest-version]").inner_text() == "2"


def test_instance_page_shows_the_diagram_with_the_current_task(live_server, browser, api,
                                                               admission_data):
    base = live_server
    r = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                              json={"data": admission_data()})
    assert r.status_code == 201, r.json
    instance_id = r.json["id"]
    current = next(t["bpmn_id"] for t in r.json["tasks"] if t["status"] == "open")
    page = _login(browser, base, "applicant")
    page.goto(f"{base}/instances/{instance_id}")
    page.wait_for_selector("#instance-diagram[data-loaded=true]")
    assert page.locator(f"#instance-canvas .djs-element.df-active[data-element-id={current}]"
                        ).count() == 1
    assert page.locator("#instance-canvas .djs-element.df-completed").count() > 0
