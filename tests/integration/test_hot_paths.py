"""The fast request paths (inbox, claim, complete, start) keep their guarantees.

Double claims and double completes answer 409, a save on a stale instance answers 409 and
leaves nothing half-written, timestamps read back as datetimes, and the audit chain holds.
"""

import logging
from datetime import datetime

import pytest
from sqlalchemy import update

from app.admin.services import create_user
from app.audit.services import verify_chain
from app.core.errors import Conflict
from app.core.models import User
from app.engine.models import ProcessInstance
from app.extensions import db
from app.tasks import services


def _start(api, admission_data, level="B") -> int:
    r = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                              json={"data": admission_data(level=level)})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _manager_task(client, instance_id: int) -> dict:
    tasks = client.get("/api/v1/tasks?scope=group").json
    return next(t for t in tasks if t["instance_id"] == instance_id)


def test_inbox_claim_and_complete_answer_with_times_and_conflicts(api, admission_data):
    create_user("mgr_east2", "demo", ["regional_manager"], region="east")
    db.session.commit()
    instance_id = _start(api, admission_data)
    mgr, rival = api("mgr_east"), api("mgr_east2")

    listed = mgr.get("/api/v1/tasks?scope=group")
    assert listed.status_code == 200
    assert float(listed.headers["X-Server-Ms"]) >= 0
    task = _manager_task(mgr, instance_id)
    assert task["candidate_roles"] == ["regional_manager"] and task["status"] == "open"
    assert datetime.fromisoformat(task["created_at"]) <= datetime.utcnow()
    assert task in rival.get("/api/v1/tasks?scope=group").json

    claimed = mgr.post(f"/api/v1/tasks/{task['id']}/claim")
    assert claimed.status_code == 200 and claimed.json["claimed_at"]
    taken = rival.post(f"/api/v1/tasks/{task['id']}/claim")
    assert taken.status_code in (404, 409)  # no longer offered to the rival
    assert all(t["id"] != task["id"] for t in rival.get("/api/v1/tasks?scope=group").json)
    mine = mgr.get("/api/v1/tasks?scope=mine").json
    assert [t["id"] for t in mine] == [task["id"]]

    body = {"data": {"decision": "approve", "comment": "ok"}}
    done = mgr.post(f"/api/v1/tasks/{task['id']}/complete", json=body)
    assert done.status_code == 200, done.json
    assert done.json["tasks"][0]["bpmn_id"] == "finance_review"
    assert datetime.fromisoformat(done.json["updated_at"]) >= datetime.fromisoformat(
        done.json["created_at"])
    again = mgr.post(f"/api/v1/tasks/{task['id']}/complete", json=body)
    assert again.status_code == 409 and again.json["code"] == "task_closed"
    completed = mgr.get("/api/v1/tasks?scope=completed").json
    assert completed[0]["id"] == task["id"] and completed[0]["outcome"] == "approve"
    count, broken, _ = verify_chain()
    assert broken is None and count > 3


def test_a_save_on_a_stale_instance_answers_409_and_writes_nothing(api, admission_data):
    instance_id = _start(api, admission_data)
    mgr = api("mgr_east")
    task = _manager_task(mgr, instance_id)
    assert mgr.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    db.session.remove()

    user = User.by_username("mgr_east")
    loaded = services.get_task_for(task["id"], user, with_instance=True)
    table = ProcessInstance.__table__
    # Someone else (another process) saves the instance after we loaded it.
    db.session.connection().execute(update(table).where(table.c.id == instance_id)
                       .values(lock_version=table.c.lock_version + 1))
    with pytest.raises(Conflict) as exc:
        services.complete_task(loaded, user, {"decision": "approve", "comment": "ok"})
    assert exc.value.code == "stale_instance"
    db.session.rollback()
    db.session.remove()

    [still] = mgr.get("/api/v1/tasks?scope=mine").json
    assert still["id"] == task["id"] and still["status"] == "open"
    assert mgr.get("/api/v1/tasks?scope=completed").json == []
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                 json={"data": {"decision": "approve", "comment": "ok"}})
    assert r.status_code == 200, r.json
    assert verify_chain()[1] is None


def test_the_engine_does_not_log_every_task_state_change(app):
    assert logging.getLogger("spiff.task").getEffectiveLevel() >= logging.WARNING


@pytest.mark.skipif(bool(__import__("os").environ.get("DEALERFLOW_TEST_DATABASE_URL")),
                    reason="SQLite's snapshot upgrade; PostgreSQL has row locks")
def test_a_read_that_writes_waits_for_another_writer_instead_of_failing(app, api, admission_data):
    """Opening a task marks it opened: while the worker holds SQLite's write lock and commits,
    the page waits for it (BEGIN IMMEDIATE) instead of answering 500 'database is locked'."""
    import sqlite3
    import threading

    instance_id = _start(api, admission_data)
    mgr = api("mgr_east")
    task = _manager_task(mgr, instance_id)
    assert mgr.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    path = db.engine.url.database
    locked, release = threading.Event(), threading.Event()

    def other_writer():
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE process_instance SET updated_at = updated_at WHERE id = ?",
                      (instance_id,))
        locked.set()
        release.wait(0.5)
        conn.execute("COMMIT")
        conn.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert locked.wait(5)
    try:
        opened = mgr.get(f"/api/v1/tasks/{task['id']}")
    finally:
        release.set()
        writer.join()
    assert opened.status_code == 200, opened.json
    page = app.test_client()
    assert page.post("/login", data={"username": "mgr_east", "password": "demo"}).status_code in (
        200, 302)
    assert page.get(f"/instances/{instance_id}").status_code == 200
def test_hot_responses_match_their_schemas(api, admission_data):
    """Inbox, claim, complete and start answer exactly what their marshmallow schemas write."""
    from decimal import Decimal

    from app.core.fastdump import Dumper
    from app.tasks.models import HumanTask
    from app.tasks.schemas import InstanceSchema, TaskSchema

    instance_id = _start(api, admission_data)
    mgr = api("mgr_east")
    listed = mgr.get("/api/v1/tasks?scope=group").json
    task = next(t for t in listed if t["instance_id"] == instance_id)
    row = db.session.get(HumanTask, task["id"])
    assert task == TaskSchema().dump(row)

    claimed = mgr.post(f"/api/v1/tasks/{task['id']}/claim").json
    db.session.expire_all()
    row = db.session.get(HumanTask, task["id"])
    assert claimed == TaskSchema().dump(row) and claimed["claimed_at"]

    done = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"data": {"decision": "approve", "comment": "ok"}}).json
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, instance_id)
    expected = InstanceSchema().dump(services.instance_for_api(instance))
    assert done == expected and done["tasks"][0]["candidate_roles"] == ["finance"]

    # Values the hot paths do not produce today still come out as the schema writes them.
    odd = {"id": 1, "instance_id": 2, "title": "t", "amount": Decimal("12.50"), "due_at": None,
           "status": "open", "attachments": "[3, 4]", "candidate_roles": "a,b",
           "cc_read": 1, "created_at": datetime(2026, 1, 2, 3, 4, 5, 6), "pass_no": "2"}
    assert Dumper(TaskSchema).one(odd) == TaskSchema().dump(odd)
    assert Dumper(TaskSchema).one(odd)["amount"] == "12.50"


def test_a_state_written_elsewhere_wins_over_the_workflow_this_process_kept(api, admission_data):
    """After a complete the process keeps the workflow it saved; a row changed since (another
    worker, a script) is read back from the row, and the next approval runs on that state."""
    from app.engine import runtime
    from app.engine.serialization import dump_workflow, load_workflow
    from app.engine.services import compiled_for, load_workflow_of

    instance_id = _start(api, admission_data, level="A")
    mgr = api("mgr_east")
    task = _manager_task(mgr, instance_id)
    done = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"data": {"decision": "approve", "comment": "ok"}})
    assert done.status_code == 200, done.json

    # Another writer edits the stored state (fresh from the row, not the kept object).
    instance = db.session.get(ProcessInstance, instance_id)
    proc = compiled_for(instance.process_version_id)
    other = runtime.attach(load_workflow(instance.state, proc.spec, proc.subprocess_specs))
    [ready] = runtime.ready_human_tasks(other)
    ready.data["note_from_elsewhere"] = "edited"
    db.session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id).values(
        state=dump_workflow(other), lock_version=ProcessInstance.lock_version + 1))
    db.session.commit()

    shown = api("applicant").get(f"/api/v1/instances/{instance_id}")
    assert shown.status_code == 200 and shown.json["data"]["note_from_elsewhere"] == "edited"
    finance = api("finance")
    task = next(t for t in finance.get("/api/v1/tasks?scope=group").json
                if t["instance_id"] == instance_id)
    body = {"data": {"decision": "approve", "comment": "ok", "approved_credit_limit": "100000",
                     "payment_terms": "net30"}}
    assert finance.post(f"/api/v1/tasks/{task['id']}/complete", json=body).status_code == 200
    db.session.expire_all()
    data = runtime.workflow_data(load_workflow_of(db.session.get(ProcessInstance, instance_id)))
    assert data["note_from_elsewhere"] == "edited"
    assert verify_chain()[1] is None
