"""Validation and service errors speak the user's language (API and pages); field keys stay."""

from sqlalchemy import select

from app.catalog.models import Product
from app.core.models import User
from app.extensions import db

EN = {"Accept-Language": "en"}


def test_api_validation_messages_follow_the_request_language(client):
    r = client.post("/api/v1/auth/token", json={"username": "finance"})
    assert r.status_code == 422, r.json
    assert r.json["errors"] == {"password": ["缺少必填字段。"]} and r.json["title"] == "校验失败"
    r = client.post("/api/v1/auth/token", json={"username": "finance"}, headers=EN)
    assert r.json["errors"] == {"password": ["Missing data for required field."]}
    assert r.json["title"] == "Validation failed"


def test_query_and_service_messages_in_chinese_for_zh_users_and_english_for_en_users(api):
    finance = api("finance")
    r = finance.get("/api/v1/tasks?scope=group&amount_min=lots&dealer=NOPE&sort=colour")
    assert r.status_code == 422
    assert r.json["errors"]["amount_min"] == ["不是有效的数字。"]
    assert r.json["errors"]["sort"] == ["必须是以下之一：created, due, amount。"]
    r = finance.get("/api/v1/tasks?scope=group&dealer=NOPE")
    assert r.status_code == 422 and r.json["errors"] == {"dealer": ["未知的经销商“NOPE”"]}
    assert finance.get("/api/v1/tasks/999999").json["detail"] == "未找到任务 999999"
    db.session.scalar(select(User).where(User.username == "finance")).locale = "en"
    db.session.commit()
    r = finance.get("/api/v1/tasks?scope=group&amount_min=lots")  # the user's choice wins
    assert r.json["errors"]["amount_min"] == ["Not a valid number."]
    r = finance.get("/api/v1/tasks?scope=group&dealer=NOPE")
    assert r.json["errors"] == {"dealer": ["Unknown dealer 'NOPE'"]}


def test_a_bad_page_form_shows_chinese_messages_to_zh_users(login, catalogue):
    tea = db.session.scalar(select(Product).where(Product.material_number == "FG-TEA-500"))
    form = {"on_shelf": "on", "name_zh": "", "name_en": tea.name_en, "order_multiple": "many"}
    page = login("cs")
    html = page.post(f"/catalog/products/{tea.id}", data=form).get_data(as_text=True)
    assert "不是有效的整数。" in html and "长度必须在 1 到 120 之间。" in html
    assert "Not a valid integer." not in html
    html = page.post(f"/catalog/products/{tea.id}", data=form, headers=EN).get_data(as_text=True)
    assert "Not a valid integer." in html and "Length must be between 1 and 120." in html


def test_service_checks_speak_chinese_to_zh_users_and_english_with_accept_language_en(api):
    finance = api("finance")
    past = "2020-01-01T00:00:00"
    r = finance.post("/api/v1/proxies", json={"proxy": "finance", "ends_at": past})
    assert r.status_code == 422
    assert r.json["errors"] == {"proxy": ["用户不能设置自己为代理人"], "ends_at": ["必须晚于开始时间"]}
    r = finance.post("/api/v1/proxies", json={"proxy": "applicant", "ends_at": "2999-01-01T00:00"})
    assert r.json["errors"] == {"proxy": ["applicant 无权审批任务"]}
    r = finance.post("/api/v1/proxies", json={"proxy": "cs", "user": "finance2",
                                              "ends_at": "2999-01-01T00:00"})
    assert r.status_code == 403 and r.json["detail"] == "只有管理员可以为他人设置代理"
    r = finance.get("/api/v1/no-such-page")
    assert r.status_code == 404 and r.json["detail"].startswith("服务器上找不到所请求的网址")
    r = finance.post("/api/v1/proxies", json={"proxy": "applicant", "ends_at": "2999-01-01T00:00"},
                     headers=EN)
    assert r.json["errors"] == {"proxy": ["applicant cannot approve tasks"]}

