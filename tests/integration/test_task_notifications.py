"""Notifications on approval operations: the person a task is transferred or delegated to, the
owner a delegation is resolved back to, added signers, CC'd users, the initiator of a returned
instance and the proxy of someone away each find a notice in their notification centre."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.models import User
from app.extensions import db
from app.notify.models import Notification
from tests.integration.oa_helpers import add_user, complete, deploy_models, group, mine, start


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()
    add_user("finance2", ["finance"])
    add_user("finance3", ["finance"])


def _notes(username, kind):
    uid = User.by_username(username).id
    return db.session.query(Notification).filter_by(recipient_id=uid, kind=kind) \
        .order_by(Notification.id).all()


def _claimed_check(api):
    inst = start(api("storeops"), "oa_chain", amount=120)
    [task] = group(api("finance"), inst["id"])
    assert api("finance").post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    return inst, task


def test_transfer_notifies_the_new_holder_only(api):
    _, task = _claimed_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/transfer",
                            json={"user": "finance2", "comment": "on leave"})
    assert r.status_code == 200, r.json
    [note] = _notes("finance2", "task.transferred")
    assert note.task_id == r.json["id"] and note.body == "on leave"
    assert note.link == f"/tasks/{r.json['id']}"
    assert _notes("finance", "task.transferred") == []
    unread = api("finance2").get("/api/v1/notifications").json["unread"]
    assert unread >= 1


def test_delegate_notifies_the_delegate_and_resolve_the_owner(api):
    _, task = _claimed_check(api)
    url = f"/api/v1/tasks/{task['id']}"
    assert api("finance").post(f"{url}/delegate", json={"user": "finance2"}).status_code == 200
    assert len(_notes("finance2", "task.delegated")) == 1
    assert _notes("finance", "task.resolved") == []
    r = api("finance2").post(f"{url}/resolve", json={"comment": "checked the receipts"})
    assert r.status_code == 200, r.json
    [note] = _notes("finance", "task.resolved")
    assert note.body == "checked the receipts"


def test_added_signers_are_notified_when_their_turn_comes(api):
    _, task = _claimed_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": ["finance2", "finance3"], "position": "before",
                                  "mode": "sequential"})
    assert r.status_code == 201, r.json
    first, second = r.json
    assert [n.task_id for n in _notes("finance2", "task.signer")] == [first["id"]]
    assert _notes("finance3", "task.signer") == []
    complete(api("finance2"), first["id"], decision="approve")
    assert [n.task_id for n in _notes("finance3", "task.signer")] == [second["id"]]


def test_return_notifies_the_initiator_with_the_reason(api):
    inst, task = _claimed_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/return",
                            json={"to": "initiator", "comment": "receipt missing"})
    assert r.status_code == 200, r.json
    [note] = _notes("storeops", "instance.returned")
    assert note.body == "receipt missing" and note.instance_id == inst["id"]
    assert note.link == f"/instances/{inst['id']}"


def test_cc_notifies_ad_hoc_and_node_recipients(api):
    inst, task = _claimed_check(api)
    # oa_chain's check node CCs the inspector on arrival.
    assert [n.instance_id for n in _notes("inspector", "cc")] == [inst["id"]]
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/cc",
                            json={"users": ["director"], "comment": "FYI"})
    assert r.status_code == 201, r.json
    [note] = _notes("director", "cc")
    assert note.body == "FYI" and note.link == f"/instances/{inst['id']}"


def test_a_task_redirected_to_a_proxy_notifies_the_proxy(api):
    until = (datetime.now(UTC) + timedelta(hours=24)).isoformat()
    r = api("finance").post("/api/v1/proxies", json={"proxy": "finance2", "ends_at": until})
    assert r.status_code == 201, r.json
    inst = start(api("storeops"), "oa_countersign", approvers=["finance", "director"])
    [task] = mine(api("finance2"), inst["id"])
    [note] = _notes("finance2", "task.proxied")
    assert note.task_id == task["id"] and "财务审核" in note.title  # who is away
    assert _notes("director", "task.proxied") == []
