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


EN = {"Accept-Language": "en"}  # the messages asserted below are the English ones


@pytest.mark.parametrize("target,field_error", [
    ("finance", "yourself"), ("director", "cannot hold"), ("dealer_east", "cannot hold"),
    ("nobody", "Unknown user")])
def test_transfer_to_someone_who_cannot_hold_the_task_is_422(api, target, field_error):
    _, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/transfer", json={"user": target},
                            headers=EN)
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
                            json={"users": users, "position": "before"}, headers=EN)
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


# --- 退回 return ----------------------------------------------------------------------

def test_return_to_previous_and_resubmit_reruns_every_step(api):
    inst, review = _at_review(api)
    r = api("director").post(f"/api/v1/tasks/{review['id']}/return",
                             json={"to": "previous", "comment": "recheck the VAT"})
    assert r.status_code == 200, r.json
    [again] = group(api("finance"), inst["id"])
    assert (again["bpmn_id"], again["pass_no"]) == ("check", 2)
    # oa_chain's review has resubmit=jump, but only the task that was sent back jumps.
    complete(api("finance"), again["id"], decision="approve")
    [review2] = group(api("director"), inst["id"])
    assert review2["pass_no"] == 2
    rows = history(api("admin"), inst["id"])
    assert [(t["bpmn_id"], t["status"]) for t in rows[:3]] == [
        ("request", "completed"), ("check", "completed"), ("review", "returned")]


def test_return_to_initiator_then_resubmit_jumps_straight_back(api):
    inst, review = _at_review(api)
    r = api("director").post(f"/api/v1/tasks/{review['id']}/return",
                             json={"to": "initiator", "comment": "attach the invoice"})
    assert r.status_code == 200, r.json
    [redo] = mine(api("storeops"), inst["id"])
    assert redo["bpmn_id"] == "request"
    complete(api("storeops"), redo["id"], amount=150)
    # The finance check is not asked again: the director's step is next.
    assert group(api("finance"), inst["id"]) == []
    [review2] = group(api("director"), inst["id"])
    assert review2["bpmn_id"] == "review"
    rows = history(api("admin"), inst["id"])
    check_rows = [t for t in rows if t["bpmn_id"] == "check"]
    assert [t["outcome"] for t in check_rows] == ["approve", "skipped"]
    assert "task.skipped" in _actions(inst["id"])
    data = api("admin").get(f"/api/v1/instances/{inst['id']}").json["data"]
    assert data["amount"] == 150


def test_return_to_a_passed_step_by_id_and_bad_targets(api):
    inst, review = _at_review(api)
    url = f"/api/v1/tasks/{review['id']}/return"
    r = api("director").post(url, json={"to": "review", "comment": "x"})
    assert r.status_code == 422 and "to" in r.json["errors"]
    r = api("director").post(url, json={"to": "nowhere", "comment": "x"})
    assert r.status_code == 422
    r = api("director").post(url, json={"to": "check"})
    assert r.status_code == 422 and "comment" in r.json["errors"]
    r = api("director").post(url, json={"to": "check", "comment": "again please"})
    assert r.status_code == 200
    assert [t["bpmn_id"] for t in group(api("finance"), inst["id"])] == ["check"]
    r = api("director").post(url, json={"to": "check", "comment": "again please"})
    assert r.status_code == 409


# --- Comments required per node ---------------------------------------------------------

def test_comment_required_at_a_node_is_422_without_one(api):
    inst, review = _at_review(api)
    complete(api("director"), review["id"], expect=422, decision="approve")
    complete(api("director"), review["id"], decision="approve", comment="agreed")
    assert api("admin").get(f"/api/v1/instances/{inst['id']}").json["status"] == "completed"


def test_actions_accept_attachments_of_the_actor_only(api, upload_png):
    inst, task = _at_check(api)
    mine_file, other_file = upload_png("finance"), upload_png("storeops")
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/transfer",
                            json={"user": "finance2", "attachments": [other_file]})
    assert r.status_code == 422 and "attachments" in r.json["errors"]
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/transfer",
                            json={"user": "finance2", "attachments": [mine_file]})
    assert r.status_code == 200
    old = api("finance").get(f"/api/v1/tasks/{task['id']}").json
    assert old["attachments"] == [mine_file]


# --- 拒绝 reject -----------------------------------------------------------------------

def test_reject_without_a_modelled_path_ends_the_instance_as_rejected(api):
    inst, task = _at_check(api)
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/reject", json={})
    assert r.status_code == 422
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/reject",
                            json={"comment": "not a business expense"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["outcome"]) == ("completed", "rejected")
    assert r.json["outcome_reason"] == "not a business expense"
    assert r.json["tasks"] == []
    assert "task.rejected" in _actions(inst["id"])


def test_reject_follows_the_modelled_path_of_the_admission(api, admission_data):
    inst = start(api("applicant"), "dealer_admission", **admission_data())
    [task] = group(api("mgr_east"), inst["id"])
    r = api("mgr_east").post(f"/api/v1/tasks/{task['id']}/reject",
                             json={"comment": "no warehouse"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["outcome"]) == ("completed", "rejected")
    done = api("applicant").get(f"/api/v1/instances/{inst['id']}").json
    assert done["tasks"][-1]["outcome"] == "reject"


# --- 撤回 withdraw and take back ------------------------------------------------------

def test_initiator_withdraws_until_the_first_approver_acts(api):
    inst = start(api("storeops"), "oa_chain", amount=1)
    r = api("finance").post(f"/api/v1/instances/{inst['id']}/withdraw", json={})
    assert r.status_code in (403, 404)
    r = api("storeops").post(f"/api/v1/instances/{inst['id']}/withdraw",
                             json={"comment": "wrong amount"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["outcome"]) == ("cancelled", "withdrawn")
    assert group(api("finance"), inst["id"]) == []
    rows = history(api("storeops"), inst["id"])
    assert rows[-1]["status"] == "cancelled"
    r = api("storeops").post(f"/api/v1/instances/{inst['id']}/withdraw", json={})
    assert r.status_code == 409


def test_withdraw_after_the_first_approval_is_409_with_a_clear_message(api):
    inst, _ = _at_review(api)
    r = api("storeops").post(f"/api/v1/instances/{inst['id']}/withdraw", json={})
    assert r.status_code == 409
    assert r.json["code"] == "withdraw_window_closed"
    assert "审批人已处理该申请" in r.json["detail"]


def test_process_may_allow_withdrawing_while_it_runs(api):
    inst = start(api("storeops"), "oa_open", amount=1)
    [task] = group(api("finance"), inst["id"])
    complete(api("finance"), task["id"], decision="approve")
    r = api("storeops").post(f"/api/v1/instances/{inst['id']}/withdraw", json={})
    assert r.status_code == 200 and r.json["status"] == "cancelled"


def test_approver_takes_back_its_action_until_the_next_approver_opens_it(api):
    inst, task = _at_check(api)
    complete(api("finance"), task["id"], decision="approve")
    r = api("finance").post(f"/api/v1/tasks/{task['id']}/take-back", json={})
    assert r.status_code == 200, r.json
    assert (r.json["bpmn_id"], r.json["assignee_id"]) == ("check", _uid("finance"))
    assert group(api("director"), inst["id"]) == []
    complete(api("finance"), r.json["id"], decision="approve")
    [review] = group(api("director"), inst["id"])
    assert api("director").get(f"/api/v1/tasks/{review['id']}").status_code == 200
    api("director").post(f"/api/v1/tasks/{review['id']}/claim")
    assert api("director").get(f"/api/v1/tasks/{review['id']}").status_code == 200
    r = api("finance").post(f"/api/v1/tasks/{r.json['id']}/take-back", json={})
    assert r.status_code == 409 and r.json["code"] == "take_back_window_closed"


# --- 批量审批 batch approve -----------------------------------------------------------

def test_batch_complete_reports_row_by_row(api):
    ids = []
    for amount in range(4):
        inst = start(api("storeops"), "oa_chain", amount=amount)
        ids.append(group(api("finance"), inst["id"])[0]["id"])
    # finance2 just completed one of them; a review task is not batchable.
    api("finance2").post(f"/api/v1/tasks/{ids[1]}/claim")
    complete(api("finance2"), ids[1], decision="approve")
    _, review = _at_review(api)
    r = api("finance").post("/api/v1/tasks/batch-complete",
                            json={"task_ids": [*ids, 999999], "data": {"decision": "approve"}})
    assert r.status_code == 200, r.json
    by_id = {row["task_id"]: row for row in r.json["results"]}
    assert [by_id[i]["ok"] for i in ids] == [True, False, True, True]
    assert (by_id[ids[1]]["status"], by_id[ids[1]]["code"]) == (409, "task_closed")
    assert by_id[999999]["status"] == 404
    assert (r.json["succeeded"], r.json["failed"]) == (3, 2)
    r = api("director").post("/api/v1/tasks/batch-complete",
                             json={"task_ids": [review["id"]], "data": {"comment": "ok"}})
    assert r.json["results"][0]["code"] == "batch_not_allowed"
    assert len(group(api("director"))) == 4  # three from the batch, one from finance2
