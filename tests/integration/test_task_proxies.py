"""代理 proxy while away: new tasks go to the proxy (marked), by period and process; pending
tasks moved on request and recalled on revoke."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.models import User
from tests.integration.oa_helpers import add_user, complete, deploy_models, mine, start


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()
    add_user("finance2", ["finance"])


def _iso(delta_hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=delta_hours)).isoformat()


def _uid(name):
    return User.by_username(name).id


def _set(client, expect=201, **body):
    r = client.post("/api/v1/proxies", json=body)
    assert r.status_code == expect, r.json
    return r.json


def test_new_tasks_go_to_the_proxy_marked_as_proxied(api):
    proxy = _set(api("finance"), proxy="finance2", ends_at=_iso(24))
    assert proxy["active"] is True
    inst = start(api("storeops"), "oa_countersign", approvers=["finance", "director"])
    assert mine(api("finance"), inst["id"]) == []
    [task] = mine(api("finance2"), inst["id"])
    assert task["proxied_for_id"] == _uid("finance")
    # The one away can still look at it but not act on it.
    assert api("finance").get(f"/api/v1/tasks/{task['id']}").status_code == 200
    complete(api("finance"), task["id"], expect=409, vote="approve")
    complete(api("finance2"), task["id"], vote="approve")
    listed = api("finance2").get("/api/v1/proxies").json
    assert [p["id"] for p in listed] == [proxy["id"]]


def test_proxy_only_for_its_processes_and_period(api):
    _set(api("finance"), proxy="finance2", ends_at=_iso(24), processes=["oa_chain"])
    _set(api("director"), proxy="finance2", starts_at=_iso(-48), ends_at=_iso(-24))
    inst = start(api("storeops"), "oa_countersign", approvers=["finance", "director"])
    assert len(mine(api("finance"), inst["id"])) == 1  # other process: not proxied
    assert len(mine(api("director"), inst["id"])) == 1  # expired by itself
    assert mine(api("finance2"), inst["id"]) == []


def test_pending_tasks_move_and_are_recalled_on_revoke(api):
    inst = start(api("storeops"), "oa_countersign", approvers=["finance", "director"])
    [task] = mine(api("finance"), inst["id"])
    proxy = _set(api("finance"), proxy="finance2", ends_at=_iso(8), move_pending=True)
    assert proxy["moved_task_ids"] == [task["id"]]
    assert [t["id"] for t in mine(api("finance2"), inst["id"])] == [task["id"]]
    r = api("finance2").post(f"/api/v1/proxies/{proxy['id']}/revoke", json={"recall": True})
    assert r.status_code == 404  # only the one away (or an admin) revokes
    r = api("finance").post(f"/api/v1/proxies/{proxy['id']}/revoke", json={"recall": True})
    assert r.status_code == 200 and r.json["moved_task_ids"] == [task["id"]]
    assert [t["id"] for t in mine(api("finance"), inst["id"])] == [task["id"]]
    assert api("finance").post(f"/api/v1/proxies/{proxy['id']}/revoke", json={}).status_code \
        == 409


def test_bad_proxy_requests(api):
    _set(api("finance"), 422, proxy="finance", ends_at=_iso(8))
    _set(api("finance"), 422, proxy="ghost", ends_at=_iso(8))
    _set(api("finance"), 422, proxy="dealer_east", ends_at=_iso(8))
    _set(api("finance"), 422, proxy="finance2", starts_at=_iso(8), ends_at=_iso(1))
    _set(api("finance"), 403, proxy="finance2", ends_at=_iso(8), user="director")
    _set(api("finance"), 201, proxy="finance2", ends_at=_iso(8))
    _set(api("finance"), 409, proxy="director", ends_at=_iso(4))
    made = _set(api("admin"), 201, proxy="finance", ends_at=_iso(8), user="director")
    assert made["user_id"] == _uid("director")


def test_proxy_page_sets_lists_and_revokes(api, login):
    page = login("finance")
    until = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    r = page.post("/proxies", data={"proxy": "finance", "ends_at": until})
    assert r.status_code == 422
    r = page.post("/proxies", data={"proxy": "finance2", "ends_at": until})
    assert r.status_code == 302
    inst = start(api("storeops"), "oa_countersign", approvers=["finance"])
    inbox = login("finance2").get("/inbox").data.decode()
    assert 'data-testid="proxied"' in inbox
    listing = page.get("/proxies").data.decode()
    [proxy_id] = [p["id"] for p in api("finance").get("/api/v1/proxies").json]
    assert f'data-proxy-id="{proxy_id}"' in listing
    r = page.post(f"/proxies/{proxy_id}/revoke", data={"recall": "1"})
    assert r.status_code == 302
    assert len(mine(api("finance"), inst["id"])) == 1
