"""转交, 委托/解决, 加签, 退回, 拒绝, 撤回, 批量审批 on a small three-step model (oa_chain):
request (initiator) → check (finance) → review (sales director, comment required,
resubmit=jump)."""

import threading

import pytest

from app.audit.models import AuditEvent
from app.core.models import User
from app.extensions import db
from tests.integration.oa_helpers import (
    add_user,
    complete,
    deploy_models,
    group,
    history,
    mine,
    start,
)


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()
    add_user("finance2", ["finance"])
    add_user("director2", ["sales_director"])


def _uid(name):
    return User.by_username(name).id


def _at_check(api):
    inst = start(api("storeops"), "oa_chain", amount=120)
    [task] = group(api("finance"), inst["id"])
    assert api("finance").post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    return inst, task


def _at_review(api):
    inst, task = _at_check(api)
    complete(api("finance"), task["id"], decision="approve")
    [review] = group(api("director"), inst["id"])
    assert api("director").post(f"/api/v1/tasks/{review['id']}/claim").status_code == 200
    return inst, review


def _actions(instance_id):
    return [e.action for e in db.session.query(AuditEvent)
            .filter(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)]


# --- 转交 transfer --------------------------------------------------------------------

def test_transfer_hands_the_task_over_for_good(api):
    inst, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/transfer",
                            json={"user": "finance2", "comment": "on leave"})
    assert r.status_code == 200, r.json
    new = r.json
    assert new["assignee_id"] == _uid("finance2") and new["status"] == "open"
    old = api("finance").get(f"/api/v1/tasks/{task['id']}").json
    assert (old["status"], old["transferred_to_id"]) == ("transferred", _uid("finance2"))
    assert mine(api("finance"), inst["id"]) == []
    complete(api("finance"), task["id"], expect=409, decision="approve")
    complete(api("finance2"), new["id"], decision="approve")
    assert group(api("director"), inst["id"])
    assert "task.transferred" in _actions(inst["id"])


@pytest.mark.parametrize("target,field_error", [
    ("finance", "yourself"), ("director", "cannot hold"), ("dealer_east", "cannot hold"),
    ("nobody", "Unknown user")])
def test_transfer_to_someone_who_cannot_hold_the_task_is_422(api, target, field_error):
    _, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/transfer", json={"user": target})
    assert r.status_code == 422, r.json
    assert field_error in " ".join(r.json["errors"]["user"])
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").json["status"] == "open"


def test_acting_on_someone_elses_task_is_404_or_409(api):
    _, task = _at_check(api)
    r = api("director").post(f"/api/v1/tasks/{task['id']}/transfer", json={"user": "finance2"})
    assert r.status_code == 404
    r = api("finance2").post(f"/api/v1/tasks/{task['id']}/delegate", json={"user": "finance"})
    assert r.status_code == 404  # claimed by finance: no longer visible to the group


def test_transfer_and_complete_racing_exactly_one_wins(app, api):
    _, task = _at_check(api)
    results = {}

    def run(name, fn):
        with app.app_context():
            results[name] = fn().status_code

    fin = api("finance")
    threads = [threading.Thread(target=run, args=("complete", lambda: fin.post(
                   f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}))),
               threading.Thread(target=run, args=("transfer", lambda: api("finance").post(
                   f"/api/v1/tasks/{task['id']}/transfer", json={"user": "finance2"})))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 409]
    rows = [t for t in history(api("admin"), task["instance_id"]) if t["bpmn_id"] == "check"]
    winners = [r for r in rows if r["status"] in ("completed", "transferred")]
    assert len(winners) == 1


# --- 委托 delegate / resolve ----------------------------------------------------------

def test_delegate_works_it_and_resolves_it_back_to_the_owner(api):
    inst, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/delegate", json={"user": "finance2"})
    assert r.status_code == 200, r.json
    assert (r.json["delegation"], r.json["owner_id"]) == ("pending", _uid("finance"))
    assert [t["id"] for t in mine(api("finance2"), inst["id"])] == [task["id"]]
    # The owner still sees it; the delegate cannot complete it, only resolve it.
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").status_code == 200
    complete(api("finance2"), task["id"], expect=409, decision="approve")
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/resolve", json={})
    assert r.status_code == 409
    r = api("finance2").post(f"/api/v1/tasks/{task['id']}/resolve",
                             json={"comment": "figures checked"})
    assert r.status_code == 200, r.json
    assert (r.json["assignee_id"], r.json["delegation"]) == (_uid("finance"), "resolved")
    complete(api("finance"), task["id"], decision="approve")
    assert [a for a in _actions(inst["id"]) if a in ("task.delegated", "task.resolved")] == \
        ["task.delegated", "task.resolved"]


# --- 加签 add signers -----------------------------------------------------------------

def test_add_signer_before_then_the_task_returns_to_the_original_approver(api):
    inst, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": ["finance2", "director"], "position": "before",
                                  "mode": "sequential", "comment": "please check first"})
    assert r.status_code == 201, r.json
    assert [s["status"] for s in r.json] == ["open", "pending"]
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").json["status"] == "waiting"
    complete(api("finance"), task["id"], expect=409, decision="approve")
    [s1] = mine(api("finance2"), inst["id"])
    complete(api("finance2"), s1["id"], expect=422, decision="maybe")
    complete(api("finance2"), s1["id"], decision="approve", comment="fine")
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").json["status"] == "waiting"
    [s2] = mine(api("director"), inst["id"])
    complete(api("director"), s2["id"], decision="approve")
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").json["status"] == "open"
    assert group(api("director"), inst["id"]) == []  # the engine has not moved on
    complete(api("finance"), task["id"], decision="approve")
    assert [t["bpmn_id"] for t in group(api("director"), inst["id"])] == ["review"]


def test_add_signers_after_must_approve_before_the_flow_moves_on(api):
    inst, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": ["finance2", "director2"], "position": "after",
                                  "mode": "all"})
    assert [s["status"] for s in r.json] == ["pending", "pending"]
    complete(api("finance"), task["id"], decision="approve", comment="ok by me")
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").json["status"] == "waiting"
    assert group(api("director"), inst["id"]) == []
    [a] = mine(api("finance2"), inst["id"])
    [b] = mine(api("director2"), inst["id"])
    complete(api("finance2"), a["id"], decision="approve")
    assert group(api("director"), inst["id"]) == []
    complete(api("director2"), b["id"], decision="approve")
    done = api("finance").get(f"/api/v1/tasks/{task['id']}").json
    assert (done["status"], done["outcome"]) == ("completed", "approve")
    assert [t["bpmn_id"] for t in group(api("director"), inst["id"])] == ["review"]


def test_after_signer_rejection_sends_the_task_back_to_the_original_approver(api):
    inst, task = _at_check(api)
    api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                        json={"users": ["finance2"], "position": "after", "mode": "all"})
    complete(api("finance"), task["id"], decision="approve")
    [a] = mine(api("finance2"), inst["id"])
    complete(api("finance2"), a["id"], decision="reject", comment="missing receipt")
    again = api("finance").get(f"/api/v1/tasks/{task['id']}").json
    assert (again["status"], again["outcome"]) == ("open", None)
    assert group(api("director"), inst["id"]) == []


def test_add_signers_parallel_any_one_decides(api):
    inst, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": ["finance2", "director2"], "position": "parallel",
                                  "mode": "any"})
    assert [s["status"] for s in r.json] == ["open", "open"]
    complete(api("finance"), task["id"], decision="approve")
    [b] = mine(api("director2"), inst["id"])
    complete(api("director2"), b["id"], decision="approve")
    assert mine(api("finance2"), inst["id"]) == []
    statuses = sorted(t["status"] for t in history(api("admin"), inst["id"])
                      if t["kind"] == "signer")
    assert statuses == ["cancelled", "completed"]
    assert [t["bpmn_id"] for t in group(api("director"), inst["id"])] == ["review"]


@pytest.mark.parametrize("users,message", [
    (["finance"], "yourself"), (["ghost"], "Unknown user"),
    (["finance2", "finance2"], "already on this step"), (["dealer_east"], "cannot approve")])
def test_add_signer_loops_and_unknown_users_are_422(api, users, message):
    _, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": users, "position": "before"})
    assert r.status_code == 422, r.json
    assert message in " ".join(r.json["errors"]["users"])
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").json["status"] == "open"


def test_adding_someone_already_signing_is_422(api):
    _, task = _at_check(api)
    api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                        json={"users": ["finance2"], "position": "parallel"})
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": ["finance2"], "position": "parallel"})
    assert r.status_code in (409, 422)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/add-signers",
                            json={"users": ["director"], "position": "sideways"})
    assert r.status_code == 422 and "position" in r.json["errors"]
