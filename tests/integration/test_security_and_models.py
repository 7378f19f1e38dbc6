"""CSRF, deploy through the API and CLI, Camunda/Flowable assignment attributes."""

import io
from pathlib import Path

from app.core.models import User
from app.engine.services import deploy_files
from app.extensions import db
from app.tasks.services import inbox, start_instance

MIWG = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "miwg"


def test_csrf_is_enforced_on_pages_and_cookie_api_calls(app, api):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        c = app.test_client()
        assert c.post("/login", data={"username": "admin", "password": "demo"}).status_code == 400
        page = c.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        r = c.post("/login", data={"username": "admin", "password": "demo", "csrf_token": token})
        assert r.status_code == 302
        # The session cookie alone does not authorise an API write …
        assert c.post("/api/v1/incidents/1/retry").status_code == 403
        # … a bearer token does (404: there is no such incident).
        assert api("admin").post("/api/v1/incidents/1/retry").status_code == 404
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


BAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
<bpmn:process id="nobody" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:userTask id="orphan" name="Orphan"/><bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="orphan"/>
  <bpmn:sequenceFlow id="f2" sourceRef="orphan" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_deploy_api_is_for_analysts_and_answers_located_problems(api):
    files = {"files": (io.BytesIO(BAD), "nobody.bpmn")}
    assert api("mgr_east").post("/api/v1/processes/deploy", data=files,
                                content_type="multipart/form-data").status_code == 403
    r = api("analyst").post("/api/v1/processes/deploy",
                            data={"files": (io.BytesIO(BAD), "nobody.bpmn")},
                            content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["code"] == "invalid_process"
    [p] = r.json["problems"]
    assert (p["file"], p["element"], p["line"]) == ("nobody.bpmn", "orphan", 4)
    assert "nobody" not in [x["key"] for x in api("analyst").get("/api/v1/processes").json]


def test_processes_check_prints_a_table_for_the_miwg_models(app):
    result = app.test_cli_runner().invoke(args=["processes", "check", str(MIWG)])
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["file", "result", "reason"]
    rows = [ln for ln in lines if ln.endswith((".bpmn",)) or ".bpmn " in ln]
    assert len(rows) == len(list(MIWG.glob("*.bpmn")))
    assert all(" ok " in r or " rejected " in r for r in rows)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1)


FLOWABLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:flowable="http://flowable.org/bpmn" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="d" targetNamespace="t">
<bpmn:process id="assign" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="by_users" flowable:candidateUsers="finance,director"/>
  <bpmn:userTask id="by_expr" camunda:assignee="${reviewer}"/>
  <bpmn:endEvent id="e"/>
  <bpmn:scriptTask id="pick"><bpmn:script>reviewer = 'cs'</bpmn:script></bpmn:scriptTask>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="by_users"/>
  <bpmn:sequenceFlow id="f2" sourceRef="by_users" targetRef="pick"/>
  <bpmn:sequenceFlow id="f3" sourceRef="pick" targetRef="by_expr"/>
  <bpmn:sequenceFlow id="f4" sourceRef="by_expr" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def test_flowable_candidate_users_and_camunda_assignee_expression(app):
    from app.tasks.services import claim_task, complete_task

    deploy_files({"assign.bpmn": FLOWABLE}, "test")
    start_instance("assign", User.by_username("admin"), None)
    finance, director, cs = (User.by_username(u) for u in ("finance", "director", "cs"))
    [task] = inbox(finance, "group")
    assert [t.id for t in inbox(director, "group")] == [task.id]
    assert inbox(cs, "group") == []
    claim_task(task, finance)
    complete_task(task, finance, {})
    [mine] = inbox(cs, "mine")
    assert mine.bpmn_id == "by_expr"
    db.session.commit()
