"""Inbox filters, sort, pagination, counts per tab and saved filters (API and page), and group
tasks seen and claimed by the proxy of someone away."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.models import User, utcnow
from app.dealers.models import Dealer
from app.extensions import db
from app.tasks.models import HumanTask, TaskCc
from tests.integration.oa_helpers import add_user, deploy_models, start


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()
    add_user("finance2", ["finance"])


def dealer(code: str) -> int:
    return db.session.query(Dealer).filter_by(code=code).one().id


@pytest.fixture
def claims(api):
    """Three expense claims waiting in the finance group: amounts, regions and dealers."""
    out = []
    for amount, region, code in ((100, "east", "DE000001"), (5000, "south", "DS000001"),
                                 (20000, "east", "DE000001")):
        inst = start(api("storeops"), "oa_chain", title=f"Claim {amount}", amount=amount,
                     region=region, dealer_id=dealer(code))
        out.append(db.session.query(HumanTask).filter_by(instance_id=inst["id"],
                                                         status="open").one().id)
    return out


def ids(client, query: str, expect: int = 200) -> list[int]:
    r = client.get(f"/api/v1/tasks?scope=group&{query}")
    assert r.status_code == expect, r.json
    return [t["id"] for t in r.json]


def test_filters_narrow_the_group_inbox(api, claims):
    small, middle, large = claims
    finance = api("finance")
    assert ids(finance, "") == [large, middle, small]  # the plain call: newest first
    assert ids(finance, "amount_min=1000") == [large, middle]
    assert ids(finance, "amount_min=1000&amount_max=6000") == [middle]
    assert ids(finance, "region=south") == [middle]
    assert ids(finance, "dealer=DE000001") == [large, small]
    assert ids(finance, f"dealer={dealer('DS000001')}") == [middle]
    assert ids(finance, "process=oa_chain&region=east&amount_max=500") == [small]
    assert ids(finance, "process=oa_anyone") == []
    [row] = [t for t in finance.get("/api/v1/tasks?scope=group").json if t["id"] == middle]
    assert row["amount"] == "5000.00" and row["dealer_id"] == dealer("DS000001")


def test_due_and_overdue_filters_and_sorting(api, claims):
    small, middle, large = claims
    now = utcnow()
    db.session.get(HumanTask, small).due_at = now - timedelta(hours=1)
    db.session.get(HumanTask, middle).due_at = now + timedelta(days=3)
    db.session.commit()
    finance = api("finance")
    assert ids(finance, "overdue=1") == [small]
    assert ids(finance, "overdue=0") == [large, middle]
    day = (now + timedelta(days=1)).date().isoformat()
    assert ids(finance, f"due_before={day}") == [small]
    assert ids(finance, "sort=due") == [small, middle, large]  # no due date last
    assert ids(finance, "sort=amount") == [large, middle, small]
    assert ids(finance, "sort=amount&order=asc") == [small, middle, large]
    assert ids(finance, "sort=created&order=asc") == [small, middle, large]


def test_pages_and_total(api, claims):
    small, middle, large = claims
    r = api("finance").get("/api/v1/tasks?scope=group&sort=created&page=2&limit=2")
    assert r.status_code == 200 and [t["id"] for t in r.json] == [small]
    assert r.headers["X-Total-Count"] == "3"
    assert ids(api("finance"), "page=1&limit=2") == [large, middle]


@pytest.mark.parametrize(("query", "field"), [
    ("amount_min=lots", "amount_min"), ("amount_min=10&amount_max=5", "amount_max"),
    ("due_before=tomorrow", "due_before"), ("sort=colour", "sort"), ("dealer=NOPE", "dealer"),
    ("page=0", "page"),
])
def test_bad_filters_answer_422_per_field(api, claims, query, field):
    r = api("finance").get(f"/api/v1/tasks?scope=group&{query}")
    assert r.status_code == 422 and field in r.json["errors"], r.json


def test_cc_and_proxied_filters(api, claims):
    small, middle, large = claims
    finance = api("finance")
    instance = db.session.get(HumanTask, middle).instance_id
    db.session.add(TaskCc(instance_id=instance, user_id=User.by_username("finance").id))
    db.session.commit()
    assert ids(finance, "cc=1") == [middle]
    assert ids(finance, "cc=0") == [large, small]
    assert ids(finance, "proxied=1") == []


def test_counts_per_tab_follow_the_filters(api, claims):
    small, middle, large = claims
    finance = api("finance")
    assert finance.post(f"/api/v1/tasks/{large}/claim").status_code == 200
    counts = finance.get("/api/v1/tasks/counts").json
    assert (counts["mine"], counts["group"], counts["completed"]) == (1, 2, 0)
    assert finance.get("/api/v1/tasks/counts?amount_min=1000").json["group"] == 1
    assert api("finance2").get("/api/v1/tasks/counts").json["group"] == 2
    assert api("director").get("/api/v1/tasks/counts").json["group"] == 0
    assert finance.get("/api/v1/tasks/counts?amount_min=x").status_code == 422


def test_saved_filters_crud_per_user(api, claims):
    finance = api("finance")
    r = finance.post("/api/v1/tasks/filters",
                     json={"name": "大额 Large", "query": "scope=group&amount_min=1000&sort=amount"})
    assert r.status_code == 201, r.json
    saved = r.json
    assert saved["query"] == "scope=group&amount_min=1000&sort=amount"
    again = finance.post("/api/v1/tasks/filters", json={"name": "大额 Large", "query": ""})
    assert again.status_code == 422 and "name" in again.json["errors"]
    bad = finance.post("/api/v1/tasks/filters", json={"name": "x", "query": "colour=red"})
    assert bad.status_code == 422 and "query" in bad.json["errors"]
    bad = finance.post("/api/v1/tasks/filters", json={"name": "x", "query": "amount_min=abc"})
    assert bad.status_code == 422 and "query" in bad.json["errors"]
    assert [f["name"] for f in finance.get("/api/v1/tasks/filters").json] == ["大额 Large"]
    assert api("finance2").get("/api/v1/tasks/filters").json == []
    other = api("finance2").client.patch(f"/api/v1/tasks/filters/{saved['id']}",
                                         json={"name": "mine now"},
                                         headers=api("finance2").headers)
    assert other.status_code == 404
    patched = finance.client.patch(f"/api/v1/tasks/filters/{saved['id']}",
                                   json={"name": "Large", "query": "overdue=1"},
                                   headers=finance.headers)
    assert patched.status_code == 200 and patched.json["query"] == "overdue=1"
    gone = finance.client.delete(f"/api/v1/tasks/filters/{saved['id']}",
                                 headers=finance.headers)
    assert gone.status_code == 204
    assert finance.get("/api/v1/tasks/filters").json == []


def test_inbox_page_filters_counts_saved_filters_and_pages(login, claims):
    small, middle, large = claims
    page = login("finance")
    html = page.get("/inbox?scope=group").get_data(as_text=True)
    assert 'data-testid="count-group">3<' in html and 'id="inbox-filters"' in html
    html = page.get("/inbox?scope=group&amount_min=1000&sort=amount").get_data(as_text=True)
    assert f'data-task-id="{large}"' in html and f'data-task-id="{small}"' not in html
    assert html.index(f'data-task-id="{large}"') < html.index(f'data-task-id="{middle}"')
    r = page.post("/inbox/filters", data={"name": "Large",
                                          "query": "scope=group&amount_min=1000"})
    assert r.status_code == 302
    html = page.get("/inbox?scope=group").get_data(as_text=True)
    assert 'data-testid="saved-filter"' in html and "amount_min=1000" in html
    bad = page.get("/inbox?scope=group&amount_min=lots")
    assert bad.status_code == 422 and f'data-task-id="{small}"' in bad.get_data(as_text=True)
    empty = page.get("/inbox?scope=group&region=north").get_data(as_text=True)
    assert 'id="inbox-empty"' in empty


def test_inbox_page_numbers(login, api):
    for n in range(52):
        start(api("storeops"), "oa_chain", title=f"Claim {n}", amount=n)
    page = login("finance")
    first = page.get("/inbox?scope=group").get_data(as_text=True)
    assert first.count('data-testid="task-row"') == 50 and 'id="page-next"' in first
    second = page.get("/inbox?scope=group&page=2").get_data(as_text=True)
    assert second.count('data-testid="task-row"') == 2 and 'id="page-prev"' in second


def _cc_director(claims) -> list[int]:
    """CC the director on the three claims: the small and large ones on their task, the middle
    one on its whole instance; returns the instance ids (small, middle, large)."""
    director = User.by_username("director").id
    out = []
    for n, task_id in enumerate(claims):
        task = db.session.get(HumanTask, task_id)
        db.session.add(TaskCc(instance_id=task.instance_id, user_id=director,
                              task_id=None if n == 1 else task_id))
        db.session.flush()
        out.append(task.instance_id)
    db.session.commit()
    return out


def cc_instances(client, query: str, expect: int = 200) -> list[int]:
    r = client.get(f"/api/v1/tasks?scope=cc&{query}")
    assert r.status_code == expect, r.json
    return [t["instance_id"] for t in r.json]


def test_filters_and_sort_apply_to_the_cc_tab(api, claims):
    small, middle, large = _cc_director(claims)
    director = api("director")
    assert cc_instances(director, "") == [large, middle, small]  # the plain call: newest first
    assert cc_instances(director, "amount_min=1000") == [large, middle]
    assert cc_instances(director, "amount_min=1000&amount_max=6000") == [middle]
    assert cc_instances(director, "region=south") == [middle]
    assert cc_instances(director, "dealer=DE000001") == [large, small]
    assert cc_instances(director, "process=oa_anyone") == []
    assert cc_instances(director, "sort=amount") == [large, middle, small]
    assert cc_instances(director, "sort=amount&order=asc") == [small, middle, large]
    assert cc_instances(director, "sort=created&order=asc") == [small, middle, large]
    db.session.get(HumanTask, claims[0]).due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert cc_instances(director, "overdue=1") == [small]
    assert cc_instances(director, "sort=due") == [small, large, middle]
    r = director.get("/api/v1/tasks?scope=cc&amount_min=1000&limit=1")
    assert [t["instance_id"] for t in r.json] == [large] and r.headers["X-Total-Count"] == "2"
    unknown = director.get("/api/v1/tasks?scope=cc&dealer=NOPE")
    assert unknown.status_code == 422 and "dealer" in unknown.json["errors"]
    bad = director.get("/api/v1/tasks?scope=cc&amount_min=x")
    assert bad.status_code == 422 and "amount_min" in bad.json["errors"]
    # Someone else's CCs never show up, whatever the filter.
    assert cc_instances(api("finance"), "amount_min=0") == []
    counts = director.get("/api/v1/tasks/counts?amount_min=1000").json
    assert counts["cc"] == 2 and counts["cc_unread"] == 3
    assert director.get("/api/v1/tasks/counts").json["cc"] == 3


def test_the_cc_tab_page_has_the_filters_and_counts_follow_them(login, claims):
    small, middle, large = _cc_director(claims)
    page = login("director")
    html = page.get("/inbox?scope=cc").get_data(as_text=True)
    assert 'id="inbox-filters"' in html and 'data-testid="count-cc">3<' in html
    assert html.count('data-testid="cc-row"') == 3
    html = page.get("/inbox?scope=cc&region=south").get_data(as_text=True)
    assert html.count('data-testid="cc-row"') == 1 and 'data-testid="count-cc">1<' in html
    assert f"/instances/{middle}" in html and f"/instances/{small}" not in html
    html = page.get("/inbox?scope=cc&sort=amount&order=asc").get_data(as_text=True)
    assert html.index(f"/instances/{small}") < html.index(f"/instances/{middle}") \
        < html.index(f"/instances/{large}")
    empty = page.get("/inbox?scope=cc&region=north").get_data(as_text=True)
    assert 'id="inbox-empty"' in empty and 'data-testid="cc-row"' not in empty


# --- Proxy for group tasks ----------------------------------------------------------------

def _iso(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_proxy_sees_and_claims_the_group_tasks_of_someone_away(api, login, claims):
    small, middle, large = claims
    assert api("cs").get("/api/v1/tasks?scope=group").json == []
    r = api("finance").post("/api/v1/proxies", json={"proxy": "cs", "ends_at": _iso(24)})
    assert r.status_code == 201, r.json
    proxy_id = r.json["id"]
    cs = api("cs")
    rows = cs.get("/api/v1/tasks?scope=group").json
    finance_id = User.by_username("finance").id
    assert [t["id"] for t in rows] == [large, middle, small]
    assert {t["on_behalf_of_id"] for t in rows} == {finance_id}
    assert ids(cs, "proxied=1") == [large, middle, small]
    assert cs.get("/api/v1/tasks/counts").json["group"] == 3
    assert 'data-testid="proxied"' in login("cs").get("/inbox?scope=group").get_data(
        as_text=True)
    claimed = cs.post(f"/api/v1/tasks/{middle}/claim")
    assert claimed.status_code == 200 and claimed.json["proxied_for_id"] == finance_id
    assert api("finance2").post(f"/api/v1/tasks/{middle}/claim").status_code == 404
    # Revoked with recall: the claimed task goes to the one who was away.
    r = api("finance").post(f"/api/v1/proxies/{proxy_id}/revoke", json={"recall": True})
    assert r.status_code == 200 and r.json["moved_task_ids"] == [middle]
    assert db.session.get(HumanTask, middle).assignee_id == finance_id
    assert api("cs").get("/api/v1/tasks?scope=group").json == []
    assert api("cs").post(f"/api/v1/tasks/{small}/claim").status_code == 404


def test_proxy_for_group_tasks_respects_processes_and_period(api, claims):
    r = api("finance").post("/api/v1/proxies", json={"proxy": "cs", "ends_at": _iso(24),
                                                     "processes": ["oa_anyone"]})
    assert r.status_code == 201
    assert api("cs").get("/api/v1/tasks?scope=group").json == []
    later = api("finance2").post("/api/v1/proxies", json={
        "proxy": "cs", "starts_at": _iso(5), "ends_at": _iso(24)})
    assert later.status_code == 201
    assert api("cs").get("/api/v1/tasks?scope=group").json == []


def _plan(stmt) -> str:
    from sqlalchemy import text

    sql = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "sqlite":
        return " | ".join(r[3] for r in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    # A handful of test rows: make the planner show whether an index can serve the query.
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        db.session.execute(text(f"SET LOCAL {setting} = off"))
    return " | ".join(r[0] for r in db.session.execute(text(f"EXPLAIN {sql}")))


@pytest.mark.parametrize("username", ["finance", "mgr_east"])
def test_sorting_by_amount_and_counting_read_an_index_not_the_whole_inbox(claims, username):
    """With thousands of group tasks, the amount-sorted page walks an index in amount order
    (no sort of every open task) and the counts read an index instead of the table."""
    from app.tasks import inbox as boxes

    user, now = User.by_username(username), utcnow()
    index = "ix_human_task_open_amount" if db.engine.dialect.name == "sqlite" else \
        "ix_human_task_group_by_amount"
    by_amount = _plan(boxes.page_statement(user, "group", boxes.parse({"sort": "amount"}), now))
    assert index in by_amount and "TEMP B-TREE FOR ORDER BY" not in by_amount and \
        "Sort" not in by_amount, by_amount
    params = boxes.parse({"amount_min": "1000"})
    for scope in ("group", "completed"):
        plan = _plan(boxes.count_statement(user, scope, params, now))
        assert "INDEX" in plan.upper() and "SCAN human_task" not in plan and \
            "Seq Scan on human_task" not in plan, (scope, plan)
