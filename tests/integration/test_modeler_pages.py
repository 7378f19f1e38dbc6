"""The BPMN modeler pages: process list, editing, validating and deploying, and diagrams."""

from sqlalchemy import func, select

from app.engine.models import ProcessVersion
from app.extensions import db

KEY = "store_suspension"


def _latest(key: str = KEY) -> int:
    db.session.remove()
    return db.session.scalar(select(func.max(ProcessVersion.version))
                             .where(ProcessVersion.process_key == key))


def _xml(client, key: str = KEY) -> str:
    r = client.get(f"/modeler/processes/{key}/download")
    assert r.status_code == 200
    return r.data.decode()


def _post(client, path: str, xml: str, filename: str = f"{KEY}.bpmn", key=KEY):
    return client.post(path, json={"xml": xml, "filename": filename, "key": key},
                       headers={"Accept": "application/json"})


def test_analyst_and_admin_see_the_process_list_others_are_refused(login):
    analyst = login("analyst")
    page = analyst.get("/modeler").data.decode()
    assert 'data-process-key="store_suspension"' in page
    assert 'data-process-key="dealer_admission"' in page and 'id="new-diagram"' in page
    assert 'id="nav-modeler"' in page and "流程模型" in page and "运行中实例" in page
    assert login("admin").get("/modeler").status_code == 200
    for user in ("mgr_east", "finance", "applicant", "dealer_east"):
        client = login(user)
        assert client.get("/modeler").status_code == 403, user
        assert client.get(f"/modeler/{KEY}").status_code == 403, user
        assert _post(client, "/modeler/deploy", "<x/>").status_code == 403, user
        assert 'id="nav-modeler"' not in client.get("/inbox").data.decode()


def test_modeler_page_embeds_the_latest_xml_and_its_history(login):
    analyst = login("analyst")
    page = analyst.get(f"/modeler/processes/{KEY}").data.decode()
    assert 'id="canvas"' in page and 'id="deploy-btn"' in page and 'id="validate-btn"' in page
    assert "bpmn-modeler.production.min.js" in page
    assert 'data-testid="version-row" data-version="1"' in page
    assert "spiffworkflow:serviceTaskOperator" in page  # the XML travels intact to the editor
    assert analyst.get("/modeler/processes/no_such_process").status_code == 404
    assert analyst.get(f"/modeler/processes/{KEY}?version=9").status_code == 404
    r = analyst.get(f"/modeler/processes/{KEY}/download")
    assert r.headers["Content-Disposition"] == f'attachment; filename="{KEY}.bpmn"'
    assert b'camunda:candidateStarterGroups="dealer,store_ops"' in r.data


def test_deploy_through_the_page_creates_a_new_version_and_old_ones_open_read_only(login):
    analyst = login("analyst")
    xml = _xml(analyst).replace('name="门店停业 Store suspension" isExecutable',
                                'name="门店停业 Store suspension v2" isExecutable')
    r = _post(analyst, "/modeler/check", xml)
    assert r.status_code == 200 and r.json["ok"] is True
    assert _latest() == 1
    r = _post(analyst, "/modeler/deploy", xml)
    assert r.status_code == 200, r.json
    mine = next(d for d in r.json["deployed"] if d["process_key"] == KEY)
    assert mine == {"process_key": KEY, "version": 2, "created": True,
                    "filename": f"{KEY}.bpmn"}
    assert _latest() == 2
    version = db.session.scalar(select(ProcessVersion).where(
        ProcessVersion.process_key == KEY, ProcessVersion.version == 2))
    assert version.deployed_by == "analyst" and version.name.endswith("v2")

    again = _post(analyst, "/modeler/deploy", xml)
    assert again.status_code == 200 and again.json["deployed"][0]["created"] is False
    assert _latest() == 2

    old = analyst.get(f"/modeler/processes/{KEY}?version=1").data.decode()
    assert 'id="read-only-note"' in old and 'id="deploy-btn"' not in old
    assert "bpmn-navigated-viewer.production.min.js" in old
    assert b"v2" not in analyst.get(f"/modeler/processes/{KEY}/download?version=1").data
    listing = analyst.get("/modeler").data.decode()
    row = listing.split(f'data-process-key="{KEY}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num" data-testid="latest-version">2</td>' in row


def test_an_invalid_model_lists_located_problems_and_deploys_nothing(login):
    analyst = login("analyst")
    xml = _xml(analyst).replace('camunda:formKey="store_review"',
                                'camunda:formKey="no_such_form"', 1)
    r = _post(analyst, "/modeler/check", xml)
    assert r.status_code == 200 and r.json["ok"] is False
    problem = r.json["problems"][0]
    assert problem["file"] == f"{KEY}.bpmn" and problem["element"] == "manager_review"
    assert isinstance(problem["line"], int) and problem["line"] > 1
    r = _post(analyst, "/modeler/deploy", xml)
    assert r.status_code == 422
    assert r.json["problems"][0]["element"] == "manager_review"
    assert _latest() == 1
    broken = _post(analyst, "/modeler/deploy", "<bpmn:definitions")
    assert broken.status_code == 422 and broken.json["problems"][0]["file"] == f"{KEY}.bpmn"
    assert _latest() == 1


def test_bad_input_is_a_422_per_field(login):
    analyst = login("analyst")
    r = _post(analyst, "/modeler/deploy", "", filename="../etc/passwd")
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"xml", "filename"}
    r = analyst.post("/modeler/check", data="not json", headers={"Accept": "application/json"})
    assert r.status_code == 422 and "xml" in r.json["errors"]


def test_a_new_diagram_deploys_as_a_new_process(login):
    analyst = login("analyst")
    page = analyst.get("/modeler/new").data.decode()
    assert 'id="canvas"' in page and 'data-key=""' in page
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="hello_flow" name="Hello" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
    r = _post(analyst, "/modeler/deploy", xml, filename="hello_flow.bpmn", key=None)
    assert r.status_code == 200, r.json
    assert r.json["deployed"] == [{"process_key": "hello_flow", "version": 1, "created": True,
                                   "filename": "hello_flow.bpmn"}]
    assert 'data-process-key="hello_flow"' in analyst.get("/modeler").data.decode()


def test_instance_diagram_marks_done_and_current_elements(login, api, admission_data):
    applicant = api("applicant")
    r = applicant.post("/api/v1/processes/dealer_admission/instances",
                       json={"data": admission_data()})
    assert r.status_code == 201, r.json
    instance_id = r.json["id"]
    r = applicant.get(f"/api/v1/instances/{instance_id}/diagram")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["process_key"] == "dealer_admission" and body["version"] == 1
    assert "<bpmn:definitions" in body["xml"] or "definitions" in body["xml"]
    states = body["elements"]
    open_task = next(t for t in api("admin").get(f"/api/v1/instances/{instance_id}").json["tasks"]
                     if t["status"] == "open")
    assert states[open_task["bpmn_id"]] == "active"
    assert "completed" in states.values()
    assert api("finance").get(f"/api/v1/instances/{instance_id}/diagram").status_code == 404
    assert api("dealer_east").get(f"/api/v1/instances/{instance_id}/diagram").status_code == 403
    page = login("applicant").get(f"/instances/{instance_id}").data.decode()
    assert 'id="instance-diagram"' in page and "diagram.js" in page


def test_instance_diagram_marks_an_open_incident(api, admission_data):
    from app.jobs.models import Incident, Job

    r = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                              json={"data": admission_data()})
    instance_id = r.json["id"]
    job = Job(instance_id=instance_id, bpmn_id="archive_dealer", operation="erp.create",
              status="failed", idempotency_key=f"test-{instance_id}")
    db.session.add(job)
    db.session.flush()
    db.session.add(Incident(job_id=job.id, instance_id=instance_id, operation="erp.create",
                            error="ERP down"))
    db.session.commit()
    elements = api("admin").get(f"/api/v1/instances/{instance_id}/diagram").json["elements"]
    assert elements["archive_dealer"] == "incident"
    db.session.execute(Incident.__table__.update().values(status="resolved"))
    db.session.commit()
    elements = api("admin").get(f"/api/v1/instances/{instance_id}/diagram").json["elements"]
    assert "archive_dealer" not in elements


NEW_KEY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="{key}" name="Named {key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_processes_keyed_like_the_editor_routes_open_and_bad_keys_are_refused(login, api):
    analyst = login("analyst")
    for key in ("new", "check", "deploy"):
        r = _post(analyst, "/modeler/deploy", NEW_KEY_XML.format(key=key),
                  filename=f"{key}.bpmn", key=None)
        assert r.status_code == 200, r.json
        page = analyst.get(f"/modeler/processes/{key}")
        assert page.status_code == 200, key
        text = page.data.decode()
        assert f'data-key="{key}"' in text and f"Named {key}" in text
        download = analyst.get(f"/modeler/processes/{key}/download")
        assert download.headers["Content-Disposition"] == f'attachment; filename="{key}.bpmn"'
        assert f'href="/modeler/processes/{key}"' in analyst.get("/modeler").data.decode()
    assert 'data-key=""' in analyst.get("/modeler/new").data.decode()  # still the new diagram
    # Earlier editor links lead to the editor's address.
    r = analyst.get(f"/modeler/{KEY}?version=1")
    assert r.status_code == 301 and r.headers["Location"].endswith(
        f"/modeler/processes/{KEY}?version=1")
    # An instance of the process keyed "new" starts through the API too.
    assert api("analyst").post("/api/v1/processes/new/instances", json={}).status_code == 201

    for bad in ("9lives", "bad key", "a$b", "x" * 101):
        r = analyst.get(f"/modeler/processes/{bad}", headers={"Accept": "application/json"})
        assert r.status_code == 400, bad
        assert r.json["code"] == "invalid_process_key"
        assert "不是有效的流程键" in r.json["detail"] and bad[:20] in r.json["detail"]
    r = _post(analyst, "/modeler/check", NEW_KEY_XML.format(key="ok"), filename="ok.bpmn",
              key="bad key")
    assert r.status_code == 422 and "不是有效的流程键" in r.json["errors"]["key"][0]
    assert analyst.get("/modeler/processes/有效_流程").status_code == 404  # valid, not deployed
    page = analyst.get(f"/modeler/processes/{KEY}").data.decode()  # the Chinese UI
    assert "有未保存的修改" in page and "查找元素" in page and "部署此流程图？" in page
    r = analyst.get("/modeler/processes/bad key")
    assert r.status_code == 400 and "不是有效的流程键" in r.data.decode()


def test_the_change_summary_compares_the_edit_with_the_latest_version(login, api):
    analyst = login("analyst")
    xml = _xml(analyst)
    r = _post(analyst, "/modeler/diff", xml)
    assert r.status_code == 200, r.json
    assert r.json == {"ok": True, "process_key": KEY, "base_version": 1, "running": 0,
                      "added": [], "removed": [], "changed": []}
    edited = xml.replace('name="门店停业 Store suspension" isExecutable',
                         'name="门店停业 Store suspension v2" isExecutable')
    r = _post(analyst, "/modeler/diff", edited)
    assert [c["id"] for c in r.json["changed"]] == [KEY]

    # A new diagram whose process exists already is compared with that process.
    r = _post(analyst, "/modeler/diff", edited, filename="copy.bpmn", key=None)
    assert r.json["process_key"] == KEY and r.json["base_version"] == 1
    r = _post(analyst, "/modeler/diff", NEW_KEY_XML.format(key="brand_new"),
              filename="brand_new.bpmn", key=None)
    assert r.json["base_version"] is None and r.json["removed"] == []
    assert {a["id"] for a in r.json["added"]} == {"brand_new", "start", "f1", "end"}

    r = _post(analyst, "/modeler/diff", "<bpmn:definitions")
    assert r.status_code == 200 and r.json["ok"] is False
    assert r.json["problems"][0]["file"] == f"{KEY}.bpmn"
    r = _post(analyst, "/modeler/diff", "", filename="../x")
    assert r.status_code == 422 and set(r.json["errors"]) == {"xml", "filename"}
    for user in ("mgr_east", "dealer_east"):
        assert _post(login(user), "/modeler/diff", xml).status_code == 403


def test_the_change_summary_counts_running_instances(login, api, admission_data):
    r = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                              json={"data": admission_data()})
    assert r.status_code == 201, r.json
    analyst = login("analyst")
    xml = _xml(analyst, "dealer_admission")
    r = _post(analyst, "/modeler/diff", xml, filename="dealer_admission.bpmn",
              key="dealer_admission")
    assert r.json["running"] == 1 and r.json["base_version"] == 1


def test_the_change_summary_names_element_types_in_the_users_language(login):
    analyst = login("analyst")
    r = _post(analyst, "/modeler/diff", NEW_KEY_XML.format(key="brand_new"),
              filename="brand_new.bpmn", key=None)
    labels = {a["id"]: (a["type"], a["type_label"]) for a in r.json["added"]}
    assert labels == {"brand_new": ("process", "流程"), "start": ("startEvent", "开始事件"),
                      "f1": ("sequenceFlow", "顺序流"), "end": ("endEvent", "结束事件")}
    xml = _xml(analyst).replace('name="门店停业 Store suspension" isExecutable',
                                'name="v2" isExecutable')
    r = analyst.post("/modeler/diff", json={"xml": xml, "filename": f"{KEY}.bpmn", "key": KEY},
                     headers={"Accept": "application/json", "Accept-Language": "en"})
    assert [(c["type"], c["type_label"]) for c in r.json["changed"]] == [("process", "Process")]


def test_the_version_table_alone_marks_the_version_shown(login):
    analyst = login("analyst")
    edited = _xml(analyst).replace('name="门店停业 Store suspension" isExecutable',
                                   'name="门店停业 Store suspension v2" isExecutable')
    assert _post(analyst, "/modeler/deploy", edited).json["ok"] is True
    html = analyst.get(f"/modeler/processes/{KEY}/versions?shown=2").data.decode()
    assert html.count('data-testid="version-row"') == 2 and 'id="version-history"' in html
    shown = html.split('data-version="2"')[1].split("</tr>")[0]
    assert "<strong>" in shown and f"/modeler/processes/{KEY}?version=1" in html
    assert analyst.get("/modeler/processes/brand_new/versions").status_code == 404
    assert login("finance").get(f"/modeler/processes/{KEY}/versions").status_code == 403
