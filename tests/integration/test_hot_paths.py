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
