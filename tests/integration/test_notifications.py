"""The notification centre: service API, REST, page with unread badge, outcome notices."""

import pytest

from app.core.models import User
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.notify.models import Notification, OutboxMessage
from app.notify.services import notify, notify_task_candidates, task_candidates
from app.tasks.models import HumanTask


def test_notify_writes_inbox_rows_and_queues_sms_for_users_with_a_mobile(api):
    finance = User.by_username("finance")
    written = notify(["mgr_east", finance, "nobody", "mgr_east"], "urge", "请审批 Please review",
                     "第 3 单", link="/tasks/3", channels=("inbox", "sms"), actor="director")
    db.session.commit()
    assert sorted(db.session.get(User, n.recipient_id).username for n in written) == \
        ["finance", "mgr_east"]
    sms = db.session.query(OutboxMessage).order_by(OutboxMessage.recipient).all()
    assert [(m.channel, m.recipient, m.status) for m in sms] == [
        ("sms", "13800000101", "queued"), ("sms", "13800000103", "queued")]
    page = api("mgr_east").get("/api/v1/notifications").json
    assert page["unread"] == 1 and page["items"][0]["title"] == "请审批 Please review"
    events = api("admin").get("/api/v1/audit?action=notification.sent").json
    assert events[0]["actor"] == "director"


def test_unknown_channel_is_refused_before_anything_is_written():
    with pytest.raises(ValueError):
        notify(["mgr_east"], "x", "t", channels=("inbox", "pigeon"))
    assert db.session.query(Notification).count() == 0


def test_read_one_and_all_only_for_the_recipient(api):
    notify(["mgr_east"], "info", "one")
    notify(["mgr_east"], "info", "two")
    [other] = notify(["mgr_south"], "info", "theirs")
    db.session.commit()
    mgr = api("mgr_east")
    first, second = mgr.get("/api/v1/notifications").json["items"]
    r = mgr.post(f"/api/v1/notifications/{first['id']}/read")
    assert r.status_code == 200 and r.json["read"] is True
    assert mgr.post(f"/api/v1/notifications/{first['id']}/read").status_code == 200  # idempotent
    assert mgr.get("/api/v1/notifications").json["unread"] == 1
    assert [n["title"] for n in mgr.get("/api/v1/notifications?unread=1").json["items"]] == ["one"]
    assert mgr.post(f"/api/v1/notifications/{other.id}/read").status_code == 404
    assert mgr.post("/api/v1/notifications/999999/read").status_code == 404
    assert mgr.post("/api/v1/notifications/read-all").json == {"marked": 1}
    assert mgr.get("/api/v1/notifications").json["unread"] == 0
    assert api("mgr_south").get("/api/v1/notifications").json["unread"] == 1
    assert mgr.get("/api/v1/notifications?limit=0").status_code == 422


def test_task_candidates_follow_role_and_region_scope(api, admission_data):
    r = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                              json={"data": admission_data(region="south")})
    task = db.session.query(HumanTask).filter_by(instance_id=r.json["id"], status="open").one()
    sent = notify_task_candidates(task, "urge", "催办 Urge")
    db.session.commit()
    assert [db.session.get(User, n.recipient_id).username for n in sent] == ["mgr_south"]
    assert sent[0].link == f"/tasks/{task.id}" and sent[0].task_id == task.id
    # Once claimed, only the assignee is told.
    mgr = api("mgr_south")
    assert mgr.post(f"/api/v1/tasks/{task.id}/claim").status_code == 200
    db.session.refresh(task)
    assert [u.username for u in task_candidates(task)] == ["mgr_south"]


def test_page_lists_notifications_with_nav_badge_and_marks_read(login):
    notify(["mgr_east"], "info", "新的申请 New application", "杭州", link="/inbox")
    db.session.commit()
    client = login("mgr_east")
    page = client.get("/notifications").get_data(as_text=True)
    assert "新的申请 New application" in page and 'data-testid="unread-count">1<' in page
    note = db.session.query(Notification).one()
    r = client.post(f"/notifications/{note.id}/read", data={"next": "link"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/inbox")
    assert 'data-testid="unread-count"' not in client.get("/notifications").get_data(as_text=True)
    notify(["mgr_east"], "info", "again")
    db.session.commit()
    assert client.post("/notifications/read-all").status_code == 302
    assert db.session.query(Notification).filter(Notification.read_at.is_(None)).count() == 0


def test_applicant_is_told_when_the_admission_is_rejected(api, admission_data):
    applicant, mgr = api("applicant"), api("mgr_east")
    r = applicant.post("/api/v1/processes/dealer_admission/instances",
                       json={"data": admission_data()})
    [task] = mgr.get("/api/v1/tasks?scope=group").json
    mgr.post(f"/api/v1/tasks/{task['id']}/claim")
    done = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"data": {"decision": "reject", "comment": "资质不全"}})
    assert done.status_code == 200, done.json
    [note] = applicant.get("/api/v1/notifications").json["items"]
    assert note["kind"] == "instance.rejected" and "已拒绝" in note["title"]
    assert note["body"] == "资质不全" and note["instance_id"] == r.json["id"]
    assert mgr.get("/api/v1/notifications").json["items"] == []


def test_applicant_is_told_when_the_admission_is_approved_and_archived(api, admission_data, sim):
    applicant, mgr, fin = api("applicant"), api("mgr_east"), api("finance")
    r = applicant.post("/api/v1/processes/dealer_admission/instances",
                       json={"data": admission_data(level="B")})
    for client, extra in ((mgr, {}), (fin, {"approved_credit_limit": "200000",
                                            "payment_terms": "net30"})):
        [task] = client.get("/api/v1/tasks?scope=group").json
        client.post(f"/api/v1/tasks/{task['id']}/claim")
        done = client.post(f"/api/v1/tasks/{task['id']}/complete",
                           json={"data": {"decision": "approve", "comment": "ok"} | extra})
        assert done.status_code == 200, done.json
    assert applicant.get("/api/v1/notifications").json["items"] == []  # not finished yet
    assert run_due_jobs("test") == 4
    db.session.remove()
    [note] = applicant.get("/api/v1/notifications").json["items"]
    assert note["kind"] == "instance.approved" and "已通过" in note["title"]
    assert note["link"] == f"/instances/{r.json['id']}"
