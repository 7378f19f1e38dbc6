"""Instance diagrams drill down from a call activity into the run of the process it called."""

from sqlalchemy import select

from app.extensions import db
from app.jobs.models import Incident, Job
from app.tasks.models import HumanTask
from tests.integration.call_models import CHILD, PARENT, deploy_call_models


def _start(api) -> int:
    deploy_call_models()
    r = api("analyst").post(f"/api/v1/processes/{PARENT}/instances", json={})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _engine_task(instance_id: int, bpmn_id: str) -> str:
    return db.session.scalar(select(HumanTask.engine_task_id).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id))


def _complete(client, instance_id: int, bpmn_id: str) -> None:
    task = next(t for t in client.get("/api/v1/tasks?scope=group").json
                if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id)
    assert client.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}})
    assert r.status_code == 200, r.json


def test_the_parent_diagram_names_the_called_run_and_the_child_diagram_shows_its_states(api):
    instance_id = _start(api)
    admin = api("admin")
    body = admin.get(f"/api/v1/instances/{instance_id}/diagram").json
    assert body["process_key"] == PARENT and body["subprocess_id"] is None
    assert body["parent"] is None
    # The child's elements are not mixed into the parent's diagram.
    assert body["elements"]["start"] == "completed"
    assert body["elements"]["run_child"] == "active"
    assert not {"child_start", "child_review"} & set(body["elements"])
    [child] = body["call_activities"]["run_child"]
    assert child["process_key"] == CHILD and child["state"] == "active"

    r = admin.get(f"/api/v1/instances/{instance_id}/subprocesses/{child['id']}/diagram")
    assert r.status_code == 200, r.json
    sub = r.json
    assert sub["process_key"] == CHILD and sub["subprocess_id"] == child["id"]
    assert 'id="call_child"' in sub["xml"] and sub["diagram_id"]
    assert sub["elements"]["child_start"] == "completed"
    assert sub["elements"]["child_review"] == "active"
    assert "run_child" not in sub["elements"] and sub["call_activities"] == {}
    assert sub["parent"] == {"subprocess_id": None, "element": "run_child"}

    _complete(api("finance"), instance_id, "child_review")
    body = admin.get(f"/api/v1/instances/{instance_id}/diagram").json
    assert body["elements"]["run_child"] == "completed"
    assert body["elements"]["wrap_up"] == "active"
    assert body["call_activities"]["run_child"][0]["state"] == "completed"
    sub = admin.get(f"/api/v1/instances/{instance_id}/subprocesses/{child['id']}/diagram").json
    assert sub["elements"]["child_review"] == "completed"
    assert sub["elements"]["child_end"] == "completed"


def test_an_incident_inside_the_called_run_marks_it_and_its_call_activity(api):
    instance_id = _start(api)
    admin = api("admin")
    child_id = admin.get(f"/api/v1/instances/{instance_id}/diagram"
                         ).json["call_activities"]["run_child"][0]["id"]
    engine_task = _engine_task(instance_id, "child_review")
    job = Job(instance_id=instance_id, bpmn_id="child_review", engine_task_id=engine_task,
              operation="erp.create", status="failed", idempotency_key=f"test-{instance_id}")
    db.session.add(job)
    db.session.flush()
    db.session.add(Incident(job_id=job.id, instance_id=instance_id, operation="erp.create",
                            error="ERP down"))
    db.session.commit()
    body = admin.get(f"/api/v1/instances/{instance_id}/diagram").json
    assert body["elements"]["run_child"] == "incident"
    assert "child_review" not in body["elements"]
    assert body["call_activities"]["run_child"][0]["state"] == "incident"
    sub = admin.get(f"/api/v1/instances/{instance_id}/subprocesses/{child_id}/diagram").json
    assert sub["elements"]["child_review"] == "incident"


def test_called_runs_are_scoped_like_the_instance_and_unknown_runs_answer_404(api):
    instance_id = _start(api)
    child_id = api("admin").get(f"/api/v1/instances/{instance_id}/diagram"
                                ).json["call_activities"]["run_child"][0]["id"]
    path = f"/api/v1/instances/{instance_id}/subprocesses/{child_id}/diagram"
    assert api("analyst").get(path).status_code == 200  # the starter
    assert api("dealer_east").get(path).status_code == 403
    assert api("mgr_east").get(path).status_code == 404
    for bad in ("not-a-uuid", "3f1c7c9e-0000-4000-8000-000000000000"):
        r = api("admin").get(f"/api/v1/instances/{instance_id}/subprocesses/{bad}/diagram")
        assert r.status_code == 404  # the API answers in Chinese unless asked otherwise
        assert r.json["detail"] == f"流程实例 {instance_id} 没有子流程运行 {bad}"
    plain_task = _engine_task(instance_id, "child_review")
    r = api("admin").get(f"/api/v1/instances/{instance_id}/subprocesses/{plain_task}/diagram")
    assert r.status_code == 404
