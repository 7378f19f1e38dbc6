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
