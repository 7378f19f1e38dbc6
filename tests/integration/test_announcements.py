"""Announcements (公告): admins and marketing publish them targeted by region and dealer type;
a dealer sees only those that target it, on the dashboard and through the API."""

from datetime import date, timedelta

from sqlalchemy import select

from app.announcements.models import Announcement
from app.dealers.models import Dealer
from app.extensions import db

TODAY = date.today()


def _publish(api, user="admin", **extra):
    body = {"title": "公告", "body": "正文", "valid_from": TODAY.isoformat()} | extra
    r = api(user).post("/api/v1/announcements", json=body)
    assert r.status_code == 201, r.json
    return r.json


def _patch(api, user, announcement_id, body):
    client = api(user)
    return client.client.patch(f"/api/v1/announcements/{announcement_id}", json=body,
                               headers=client.headers)


def _titles(client):
    r = client.get("/api/v1/announcements")
    assert r.status_code == 200
    return {a["title"] for a in r.json}


def test_a_south_dealer_never_sees_an_east_only_announcement(api, login):
    east_only = _publish(api, title="华东促销会", regions=["east"])
    _publish(api, user="marketing", title="全国通知")
    south = api("dealer_south")
    assert _titles(south) == {"全国通知"}
    assert _titles(api("dealer_east")) == {"华东促销会", "全国通知"}
    assert south.get(f"/api/v1/announcements/{east_only['id']}").status_code == 404
    assert south.post(f"/api/v1/announcements/{east_only['id']}/read").status_code == 404
    page = login("dealer_south").get("/portal").get_data(as_text=True)
    assert "全国通知" in page and "华东促销会" not in page
    page = login("dealer_east").get("/portal").get_data(as_text=True)
    assert "华东促销会" in page


def test_dealer_types_and_validity_target_too(api):
    south = db.session.scalar(select(Dealer).where(Dealer.code == "DS000001"))
    south.dealer_type = "retailer"
    db.session.commit()
    _publish(api, title="零售商专享", dealer_types=["retailer"])
    _publish(api, title="一级经销商", dealer_types=["tier1"], regions=["east", "south"])
    _publish(api, title="已过期", valid_from=(TODAY - timedelta(days=10)).isoformat(),
             valid_to=(TODAY - timedelta(days=1)).isoformat())
    _publish(api, title="下周", valid_from=(TODAY + timedelta(days=7)).isoformat())
    assert _titles(api("dealer_south")) == {"零售商专享"}
    assert _titles(api("dealer_east")) == {"一级经销商"}
    assert len(api("admin").get("/api/v1/announcements").json) == 4  # authors see every one


def test_unpublished_announcements_leave_the_dashboards(api):
    item = _publish(api, title="临时通知")
    r = _patch(api, "marketing", item["id"], {"status": "unpublished"})
    assert r.status_code == 200 and r.json["status"] == "unpublished"
    assert _titles(api("dealer_east")) == set()
    edited = _patch(api, "admin", item["id"], {"title": "正式通知", "status": "published"})
    assert edited.status_code == 200
    assert _titles(api("dealer_east")) == {"正式通知"}


def test_only_authors_write_and_bad_fields_are_named(api):
    body = {"title": "x", "body": "y", "valid_from": TODAY.isoformat()}
    assert api("dealer_east").post("/api/v1/announcements", json=body).status_code == 403
    assert api("cs").post("/api/v1/announcements", json=body).status_code == 403
    bad = api("admin").post("/api/v1/announcements", json=body | {
        "title": " ", "valid_to": (TODAY - timedelta(days=1)).isoformat(),
        "regions": ["mars"], "dealer_types": ["wholesale"]})
    assert bad.status_code == 422
    assert {"title", "valid_to", "regions", "dealer_types"} <= set(bad.json["errors"])
    missing = api("admin").post("/api/v1/announcements", json={"title": "x"})
    assert missing.status_code == 422 and {"body", "valid_from"} <= set(missing.json["errors"])
    assert db.session.scalar(select(Announcement.id)) is None


def test_read_and_unread_per_user(api, login):
    item = _publish(api, title="新品上市")
    east = api("dealer_east")
    assert [a["read"] for a in east.get("/api/v1/announcements").json] == [False]
    assert east.post(f"/api/v1/announcements/{item['id']}/read").json["read"] is True
    assert east.post(f"/api/v1/announcements/{item['id']}/read").status_code == 200
    assert [a["read"] for a in east.get("/api/v1/announcements").json] == [True]
    assert [a["read"] for a in api("admin").get("/api/v1/announcements").json] == [False]


def test_author_pages_create_edit_and_unpublish(login, api):
    admin = login("admin")
    assert login("dealer_east").get("/announcements/manage").status_code == 403
    bad = admin.post("/announcements/manage", data={"title": "", "body": "b", "valid_from": "x"})
    assert bad.status_code == 422 and 'data-testid="error-valid_from"' in bad.get_data(as_text=True)
    ok = admin.post("/announcements/manage", data={
        "title": "春节放假通知", "body": "2月1日至7日停止发货", "valid_from": TODAY.isoformat(),
        "regions": ["south"], "dealer_types": ["tier1"]})
    assert ok.status_code == 302
    item = db.session.scalar(select(Announcement))
    assert (item.regions, item.dealer_types) == (["south"], ["tier1"])
    assert _titles(api("dealer_south")) == {"春节放假通知"}
    page = admin.get(f"/announcements/manage/{item.id}")
    assert page.status_code == 200 and "春节放假通知" in page.get_data(as_text=True)
    admin.post(f"/announcements/manage/{item.id}", data={
        "title": "春节放假通知（更新）", "body": "2月1日至8日", "valid_from": TODAY.isoformat(),
        "regions": ["south", "east"]})
    assert _titles(api("dealer_east")) == {"春节放假通知（更新）"}
    admin.post(f"/announcements/manage/{item.id}/status", data={"status": "unpublished"})
    assert _titles(api("dealer_south")) == set()


def test_demo_announcements_are_seeded_once_and_targeted(api):
    from app.announcements.demo import seed_demo_announcements

    assert seed_demo_announcements() == 2
    db.session.commit()
    assert seed_demo_announcements() == 0
    assert len(_titles(api("dealer_east"))) == 2 and len(_titles(api("dealer_south"))) == 1
