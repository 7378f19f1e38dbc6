"""会签 / 或签 / 依次: multi-instance user tasks, one human task per approver."""

import pytest

from app.core.models import User
from tests.integration.oa_helpers import add_user, complete, deploy_models, history, mine, start

APPROVERS = ["finance", "director", "cs"]


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()


def _signers(api, instance_id):
    return {name: mine(api(name), instance_id) for name in APPROVERS}


def test_countersign_needs_every_approver(api):
    inst = start(api("storeops"), "oa_countersign", approvers=APPROVERS)
    tasks = _signers(api, inst["id"])
    assert all(len(t) == 1 and t[0]["bpmn_id"] == "sign" for t in tasks.values())
    complete(api("finance"), tasks["finance"][0]["id"], vote="approve")
    complete(api("director"), tasks["director"][0]["id"], vote="approve")
    assert api("storeops").get(f"/api/v1/instances/{inst['id']}").json["status"] == "running"
    # Acting twice on one's own instance task, or on someone else's, is refused.
    complete(api("finance"), tasks["finance"][0]["id"], expect=409, vote="approve")
    complete(api("finance"), tasks["cs"][0]["id"], expect=404, vote="approve")
    complete(api("cs"), tasks["cs"][0]["id"], vote="approve")
    done = api("storeops").get(f"/api/v1/instances/{inst['id']}").json
    assert (done["status"], done["outcome"]) == ("completed", "approved")
    assert done["data"]["votes"] == ["approve", "approve", "approve"]


def test_countersign_one_rejection_rejects_the_node_and_withdraws_the_rest(api):
    inst = start(api("storeops"), "oa_countersign", approvers=APPROVERS)
    tasks = _signers(api, inst["id"])
    complete(api("director"), tasks["director"][0]["id"], vote="reject", comment="too costly")
    done = api("storeops").get(f"/api/v1/instances/{inst['id']}").json
    assert (done["status"], done["outcome"]) == ("completed", "rejected")
    rows = {(t["assignee_id"], t["status"]) for t in history(api("storeops"), inst["id"])
            if t["bpmn_id"] == "sign"}
    statuses = sorted(s for _, s in rows)
    assert statuses == ["cancelled", "cancelled", "completed"]
    assert mine(api("finance"), inst["id"]) == [] and mine(api("cs"), inst["id"]) == []


def test_any_one_first_decision_decides_and_others_show_cancelled(api):
    inst = start(api("storeops"), "oa_anyone", approvers=APPROVERS)
    tasks = _signers(api, inst["id"])
    complete(api("cs"), tasks["cs"][0]["id"], vote="approve")
    done = api("storeops").get(f"/api/v1/instances/{inst['id']}").json
    assert (done["status"], done["outcome"]) == ("completed", "approved")
    sign_rows = [t for t in history(api("storeops"), inst["id"]) if t["bpmn_id"] == "sign"]
    assert sorted(t["status"] for t in sign_rows) == ["cancelled", "cancelled", "completed"]
    # The withdrawn approvers still see their cancelled task, marked as such.
    r = api("finance").get(f"/api/v1/tasks/{tasks['finance'][0]['id']}")
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    complete(api("finance"), tasks["finance"][0]["id"], expect=409, vote="approve")


def test_sequential_approvers_act_one_after_another_in_order(api):
    inst = start(api("storeops"), "oa_sequential", approvers=APPROVERS)
    assert [len(mine(api(n), inst["id"])) for n in APPROVERS] == [1, 0, 0]
    for i, name in enumerate(APPROVERS):
        [task] = mine(api(name), inst["id"])
        complete(api(name), task["id"], vote="approve")
        waiting = [len(mine(api(n), inst["id"])) for n in APPROVERS]
        assert waiting == [1 if j == i + 1 else 0 for j in range(3)]
    done = api("storeops").get(f"/api/v1/instances/{inst['id']}").json
    assert (done["status"], done["outcome"]) == ("completed", "approved")
    order = [t["completed_by_id"] for t in history(api("storeops"), inst["id"])
             if t["bpmn_id"] == "sign"]
    assert order == [User.by_username(n).id for n in APPROVERS]


def test_countersign_approvers_from_a_role_within_the_instances_region(api):
    add_user("mgr_east2", ["regional_manager"], "east")
    inst = start(api("storeops"), "oa_role_sign", region="east")
    assert len(mine(api("mgr_east"), inst["id"])) == 1
    assert len(mine(api("mgr_east2"), inst["id"])) == 1
    assert mine(api("mgr_south"), inst["id"]) == []
    for name in ("mgr_east", "mgr_east2"):
        [task] = mine(api(name), inst["id"])
        complete(api(name), task["id"], vote="approve")
    done = api("storeops").get(f"/api/v1/instances/{inst['id']}").json
    assert (done["status"], done["outcome"]) == ("completed", "approved")
    assert done["data"]["approvers"] == ["mgr_east", "mgr_east2"]
