"""Dealer admission timers: remind the regional manager after 24 h, escalate after 72 h."""

from datetime import timedelta

from app.core.models import utcnow
from app.engine.models import ProcessInstance
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.jobs.timers import fire_due_timers
from app.notify.models import OutboxMessage


def _start(api, admission_data, **data):
    r = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                              json={"data": admission_data(**data)})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _notes(client, kind=None):
    items = client.get("/api/v1/notifications").json["items"]
    return [n for n in items if kind is None or n["kind"] == kind]


def _approve(client, task_id, **data):
    assert client.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    r = client.post(f"/api/v1/tasks/{task_id}/complete",
                    json={"data": {"decision": "approve", "comment": "ok"} | data})
    assert r.status_code == 200, r.json


def test_reminder_at_24h_then_escalation_to_director_at_72h(api, admission_data):
    started = utcnow()
    instance_id = _start(api, admission_data, level="B")
    mgr_east, mgr_south, director = api("mgr_east"), api("mgr_south"), api("director")
    [task] = mgr_east.get("/api/v1/tasks?scope=group").json
    assert task["bpmn_id"] == "manager_review"

    assert fire_due_timers("w1", now=started + timedelta(hours=23)) == 0
    assert run_due_jobs("w1") == 0
    assert _notes(mgr_east) == [] and db.session.query(OutboxMessage).count() == 0

    assert fire_due_timers("w1", now=started + timedelta(hours=25)) == 1
    assert run_due_jobs("w1") == 2  # the reminder service task, then its SMS delivery job
    db.session.remove()
    [note] = _notes(mgr_east, "reminder")
    assert note["task_id"] == task["id"] and note["link"] == f"/tasks/{task['id']}"
    assert "杭州西湖食品有限公司" in note["body"] and note["read"] is False
    assert _notes(mgr_south) == [] and _notes(director) == []
    [sms] = mgr_east.client.get("/api/v1/outbox?channel=sms",
                                headers=api("admin").headers).json
    assert sms["recipient"] == "13800000101" and sms["status"] == "sent"
    assert "Reminder" in sms["payload"]["text"]
    # Reminding changes nothing: the same task is still open for mgr_east.
    assert [t["id"] for t in mgr_east.get("/api/v1/tasks?scope=group").json] == [task["id"]]
    # A second pass of the worker reminds nobody twice.
    assert fire_due_timers("w1", now=started + timedelta(hours=26)) == 0
    assert run_due_jobs("w1") == 0
    assert len(_notes(mgr_east, "reminder")) == 1

    assert fire_due_timers("w1", now=started + timedelta(hours=73)) == 1
    assert run_due_jobs("w1") == 1  # notify the director
    db.session.remove()
    assert mgr_east.get("/api/v1/tasks?scope=group").json == []
    [dtask] = director.get("/api/v1/tasks?scope=group").json
    assert dtask["bpmn_id"] == "escalated_review" and dtask["form_key"] == "admission_review"
    assert dtask["candidate_roles"] == ["sales_director"] and dtask["instance_id"] == instance_id
    assert [n["kind"] for n in _notes(director)] == ["escalation"]
    history = api("admin").get(f"/api/v1/instances/{instance_id}").json["tasks"]
    manager = [t for t in history if t["bpmn_id"] == "manager_review"]
    assert [t["status"] for t in manager] == ["cancelled"]
    events = api("admin").get(f"/api/v1/audit?action=task.escalated&instance_id={instance_id}").json
    assert len(events) == 1 and events[0]["task_id"] == task["id"]

    _approve(director, dtask["id"])
    [ftask] = api("finance").get("/api/v1/tasks?scope=group").json
    assert ftask["bpmn_id"] == "finance_review" and ftask["instance_id"] == instance_id
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance.status == "running" and instance.next_timer_at is None


def test_reminder_sms_is_sent_by_the_worker_through_the_embedded_outbox(api, admission_data):
    started = utcnow()
    _start(api, admission_data)
    fire_due_timers("w1", now=started + timedelta(hours=25))
    run_due_jobs("w1")  # the reminder queues the SMS, whose delivery job runs next
    db.session.remove()
    [sms] = api("admin").get("/api/v1/outbox?channel=sms&status=sent").json
    assert sms["external_id"].startswith("local-") and sms["attempts"] == 1
    assert run_due_jobs("w1") == 0


def test_durations_are_configurable_per_deployment(app, api, admission_data):
    saved = app.config["ADMISSION_REMIND_AFTER"], app.config["ADMISSION_ESCALATE_AFTER"]
    app.config["ADMISSION_REMIND_AFTER"], app.config["ADMISSION_ESCALATE_AFTER"] = "PT1H", "PT2H"
    try:
        started = utcnow()
        instance_id = _start(api, admission_data)
    finally:
        app.config["ADMISSION_REMIND_AFTER"], app.config["ADMISSION_ESCALATE_AFTER"] = saved
    instance = db.session.get(ProcessInstance, instance_id)
    assert timedelta(minutes=59) < instance.next_timer_at - started < timedelta(minutes=61)
    assert fire_due_timers("w1", now=started + timedelta(minutes=150)) == 1
    run_due_jobs("w1")
    db.session.remove()
    [dtask] = api("director").get("/api/v1/tasks?scope=group").json
    assert dtask["bpmn_id"] == "escalated_review"


def test_manager_acting_in_time_cancels_both_timers(api, admission_data):
    started = utcnow()
    instance_id = _start(api, admission_data)
    mgr = api("mgr_east")
    [task] = mgr.get("/api/v1/tasks?scope=group").json
    _approve(mgr, task["id"])
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance.next_timer_at is None
    assert fire_due_timers("w1", now=started + timedelta(hours=100)) == 0
    assert _notes(mgr) == []


def test_returned_and_resubmitted_review_gets_fresh_timers(api, admission_data):
    started = utcnow()
    instance_id = _start(api, admission_data)
    applicant, mgr = api("applicant"), api("mgr_east")
    [task] = mgr.get("/api/v1/tasks?scope=group").json
    mgr.post(f"/api/v1/tasks/{task['id']}/claim")
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                 json={"data": {"decision": "return", "comment": "请补充材料"}})
    assert r.status_code == 200, r.json
    assert db.session.get(ProcessInstance, instance_id).next_timer_at is None
    assert fire_due_timers("w1", now=started + timedelta(hours=30)) == 0  # nothing waits now
    [redo] = applicant.get("/api/v1/tasks?scope=mine").json
    resubmitted = utcnow()
    r = applicant.post(f"/api/v1/tasks/{redo['id']}/complete", json={"data": admission_data()})
    assert r.status_code == 200, r.json
    db.session.expire_all()
    due = db.session.get(ProcessInstance, instance_id).next_timer_at
    assert timedelta(hours=23, minutes=59) < due - resubmitted < timedelta(hours=24, minutes=1)
    assert fire_due_timers("w1", now=resubmitted + timedelta(hours=25)) == 1
    assert run_due_jobs("w1") == 2  # the reminder and its SMS delivery
    db.session.remove()
    assert len(_notes(mgr, "reminder")) == 1
