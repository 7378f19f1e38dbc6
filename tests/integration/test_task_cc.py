"""抄送 CC: per node on arrival / completion and ad hoc; a "CC'd to me" list with read/unread."""

import pytest

from tests.integration.oa_helpers import add_user, complete, deploy_models, group, start


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()


def _cc(client):
    r = client.get("/api/v1/tasks?scope=cc")
    assert r.status_code == 200, r.json
    return r.json


def _to_review(api):
    inst = start(api("storeops"), "oa_chain", amount=9)
    [check] = group(api("finance"), inst["id"])
    api("finance").post(f"/api/v1/tasks/{check['id']}/claim")
    complete(api("finance"), check["id"], decision="approve")
    [review] = group(api("director"), inst["id"])
    api("director").post(f"/api/v1/tasks/{review['id']}/claim")
    return inst, review


def test_node_cc_on_arrival_gives_read_only_access_and_an_unread_entry(api):
    inst = start(api("storeops"), "oa_chain", amount=9)
    [entry] = _cc(api("inspector"))
    assert (entry["instance_id"], entry["bpmn_id"], entry["cc_reason"], entry["cc_read"]) == \
        (inst["id"], "check", "arrival", False)
    assert api("inspector").get(f"/api/v1/instances/{inst['id']}").status_code == 200
    # Read-only: the CC'd user cannot act on the task.
    r = api("inspector").post(f"/api/v1/tasks/{entry['id']}/complete", json={"data": {}})
    assert r.status_code == 404
    r = api("inspector").post(f"/api/v1/cc/{entry['cc_id']}/read")
    assert r.status_code == 200 and r.json == {"marked": 1, "unread": 0}
    assert _cc(api("inspector"))[0]["cc_read"] is True
    assert api("finance").post(f"/api/v1/cc/{entry['cc_id']}/read").status_code == 404


def test_node_cc_on_completion_reaches_users_and_roles(api):
    add_user("storeops2", ["store_ops"])
    inst, review = _to_review(api)
    assert _cc(api("cs")) == []
    complete(api("director"), review["id"], decision="approve", comment="fine")
    for name in ("cs", "storeops2"):
        [entry] = _cc(api(name))
        assert (entry["instance_id"], entry["cc_reason"]) == (inst["id"], "completion")


EN = {"Accept-Language": "en"}  # the messages asserted below are the English ones


def test_ad_hoc_cc_and_bad_recipients(api, login):
    inst, review = _to_review(api)
    url = f"/api/v1/tasks/{review['id']}/cc"
    for users, message in ((["director"], "yourself"), (["ghost"], "Unknown user"),
                           (["dealer_east"], "cannot read")):
        r = api("director").post(url, json={"users": users}, headers=EN)
        assert r.status_code == 422 and message in " ".join(r.json["errors"]["users"])
    assert api("mgr_south").get(f"/api/v1/instances/{inst['id']}").status_code == 404
    r = api("director").post(url, json={"users": ["mgr_south"], "comment": "FYI"})
    assert r.status_code == 201
    [entry] = _cc(api("mgr_south"))
    assert (entry["cc_comment"], entry["cc_reason"]) == ("FYI", "adhoc")
    # The inbox tab shows it unread; opening the instance page marks it read.
    page = login("mgr_south")
    assert 'data-read="no"' in page.get("/inbox?scope=cc").data.decode()
    assert page.get(f"/instances/{inst['id']}").status_code == 200
    assert 'data-read="yes"' in page.get("/inbox?scope=cc").data.decode()
