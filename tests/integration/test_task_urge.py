"""催办 urge on the three-step oa_chain model: the initiator reminds the pending approvers
(notification + SMS/WeCom outbox), once per interval per task, without changing any state."""

from datetime import timedelta

import orjson
import pytest

from app.audit.models import AuditEvent
from app.core.models import User, utcnow
from app.extensions import db
from app.notify.models import Notification, OutboxMessage
from app.tasks.models import HumanTask
from app.tasks.urge import UrgeTooSoon, urge
from tests.integration.oa_helpers import add_user, complete, deploy_models, group, start


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()
    add_user("finance2", ["finance"])


def _at_check(api):
    inst = start(api("storeops"), "oa_chain", amount=120)
    [task] = group(api("finance"), inst["id"])
    return inst, task


def _urge(client, task_id, comment=None):
    return client.post(f"/api/v1/tasks/{task_id}/urge", json={"comment": comment})


def _inbox(username, kind="urge"):
    uid = User.by_username(username).id
    return db.session.query(Notification).filter_by(recipient_id=uid, kind=kind).all()


def _outbox(channel):
    return sorted(m.recipient for m in db.session.query(OutboxMessage).filter_by(channel=channel)
                  if orjson.loads(m.payload)["kind"] == "urge")


def test_initiator_urges_all_candidates_of_a_group_task_by_inbox_and_sms(api):
    inst, task = _at_check(api)
    before = db.session.get(HumanTask, task["id"])
    state = (before.status, before.assignee_id, before.candidate_roles)
    r = _urge(api("storeops"), task["id"], "客户在等 The customer is waiting")
    assert r.status_code == 200, r.json
    assert sorted(r.json["reminded"]) == ["finance", "finance2"]
    assert r.json["next_allowed_at"] is not None
    [note] = _inbox("finance")
    assert note.body == "客户在等 The customer is waiting" and note.link == f"/tasks/{task['id']}"
    assert note.instance_id == inst["id"] and len(_inbox("finance2")) == 1
    assert _outbox("sms") == ["13800000103"]  # finance2 has no mobile
    assert _outbox("wecom") == ["finance", "finance2"]
    db.session.expire_all()
    after = db.session.get(HumanTask, task["id"])
    assert (after.status, after.assignee_id, after.candidate_roles) == state
    [event] = db.session.query(AuditEvent).filter_by(action="task.urged").all()
    assert (event.actor, event.task_id, event.instance_id) == ("storeops", task["id"], inst["id"])
    assert "The customer is waiting" in event.details


def test_urge_goes_only_to_the_assignee_once_the_task_is_claimed(api):
    _, task = _at_check(api)
    assert api("finance2").post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    r = _urge(api("storeops"), task["id"])
    assert r.status_code == 200 and r.json["reminded"] == ["finance2"]
    assert _inbox("finance") == [] and len(_inbox("finance2")) == 1


def test_a_second_urge_within_the_interval_is_429_with_when_it_is_allowed(api):
    _, task = _at_check(api)
    assert _urge(api("storeops"), task["id"]).status_code == 200
    r = _urge(api("storeops"), task["id"], "again")
    assert r.status_code == 429 and r.json["code"] == "urge_too_soon"
    assert r.json["retry_after"] > 29 * 60 and r.json["allowed_at"]
    assert len(_inbox("finance")) == 1
    assert db.session.query(AuditEvent).filter_by(action="task.urged").count() == 1


def test_urge_is_allowed_again_after_the_configured_interval(app, api):
    _, task = _at_check(api)
    row = db.session.get(HumanTask, task["id"])
    storeops = User.by_username("storeops")
    now = utcnow()
    urge(row, storeops, "first", now=now)
    db.session.commit()
    with pytest.raises(UrgeTooSoon) as too_soon:
        urge(row, storeops, "early", now=now + timedelta(minutes=29))
    assert too_soon.value.allowed_at == now + timedelta(minutes=30)
    db.session.rollback()
    assert len(urge(row, storeops, "later", now=now + timedelta(minutes=31))) == 2
    db.session.commit()
    configured = app.config["URGE_INTERVAL_MINUTES"]
    app.config["URGE_INTERVAL_MINUTES"] = 120
    try:
        with pytest.raises(UrgeTooSoon):
            urge(row, storeops, "config", now=now + timedelta(minutes=100))
        db.session.rollback()
    finally:
        app.config["URGE_INTERVAL_MINUTES"] = configured
    assert [n.body for n in _inbox("finance")] == ["first", "later"]


def test_only_the_initiator_or_an_admin_may_urge(api):
    _, task = _at_check(api)
    r = _urge(api("finance"), task["id"])
    assert r.status_code == 403, r.json
    assert _urge(api("dealer_east"), task["id"]).status_code == 404
    assert _urge(api("storeops"), 999999).status_code == 404
    r = _urge(api("admin"), task["id"])
    assert r.status_code == 200 and sorted(r.json["reminded"]) == ["finance", "finance2"]


def test_urging_a_finished_task_or_closed_instance_is_409(api):
    inst, task = _at_check(api)
    assert api("finance").post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    complete(api("finance"), task["id"], decision="approve")
    r = _urge(api("storeops"), task["id"])
    assert r.status_code == 409 and r.json["code"] == "task_closed"
    [review] = group(api("director"), inst["id"])
    r = api("storeops").post(f"/api/v1/instances/{inst['id']}/withdraw", json={})
    assert r.status_code == 409  # an approver acted; withdrawal window closed
    assert _urge(api("storeops"), review["id"]).status_code == 200
    assert db.session.query(AuditEvent).filter_by(action="task.urged").count() == 1


def test_a_long_comment_is_422(api):
    _, task = _at_check(api)
    r = _urge(api("storeops"), task["id"], "x" * 2001)
    assert r.status_code == 422 and "comment" in r.json["errors"]
    assert _inbox("finance") == []


def test_instance_page_shows_the_urge_button_to_the_initiator_only(api, login):
    inst, task = _at_check(api)
    page = login("storeops")
    html = page.get(f"/instances/{inst['id']}").get_data(as_text=True)
    assert f'id="urge-btn-{task["id"]}"' in html
    approver_view = login("finance").get(f"/instances/{inst['id']}").get_data(as_text=True)
    assert "urge-btn" not in approver_view
    r = page.post(f"/tasks/{task['id']}/urge", data={"comment": "please"})
    assert r.status_code == 302 and r.location.endswith(f"/instances/{inst['id']}")
    assert [n.body for n in _inbox("finance")] == ["please"]
    r = page.post(f"/tasks/{task['id']}/urge", data={"comment": "again"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "urge-next" in html
    assert [n.body for n in _inbox("finance")] == ["please"]


def test_too_early_urge_on_the_page_disables_the_button_and_says_when(api, login):
    inst, task = _at_check(api)
    page = login("storeops")
    page.post(f"/tasks/{task['id']}/urge", data={"comment": "please"})
    html = page.get(f"/instances/{inst['id']}").get_data(as_text=True)
    button = html[html.index(f'id="urge-btn-{task["id"]}"'):].split(">")[0]
    assert "disabled" in button and 'data-testid="urge-wait"' in html
    r = page.post(f"/tasks/{task['id']}/urge", data={"comment": "again"}, follow_redirects=True)
    assert r.status_code == 200 and 'class="flash warning"' in r.get_data(as_text=True)


def test_admin_urges_from_the_task_page_and_comes_back_to_it(api, login):
    _inst, task = _at_check(api)
    page = login("admin")
    html = page.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'id="task-urge"' in html and f'id="urge-btn-{task["id"]}"' in html
    r = page.post(f"/tasks/{task['id']}/urge", data={"comment": "hurry", "back": "task"})
    assert r.status_code == 302 and r.location.endswith(f"/tasks/{task['id']}")
    assert [n.body for n in _inbox("finance")] == ["hurry"]
    assert 'id="task-urge"' not in login("finance").get(f"/tasks/{task['id']}").get_data(
        as_text=True)
