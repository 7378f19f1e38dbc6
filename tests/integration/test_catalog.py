"""Catalogue: dealers see on-shelf products of their sales areas at their own prices only."""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.catalog.models import Product, ProductCategory
from app.catalog.services import upsert_materials, upsert_prices
from app.extensions import db

DRINKS = [("BEV", "饮料", "Beverages"), ("BEV-TEA", "茶饮料", "Tea drinks")]


def _names(response):
    return sorted(item["material_number"] for item in response.json["items"])


def test_dealer_sees_its_sales_area_on_shelf_products_at_its_own_prices(api, catalogue):
    east = api("dealer_east").get("/api/v1/catalog/products")
    assert east.status_code == 200
    assert _names(east) == ["FG-COLA-330", "FG-TEA-500"]
    prices = {i["material_number"]: i["price"] for i in east.json["items"]}
    assert prices == {"FG-TEA-500": "42.50", "FG-COLA-330": "58.00"}  # own list, then the base
    south = api("dealer_south").get("/api/v1/catalog/products")
    assert _names(south) == ["FG-CHIPS-70", "FG-COLA-330", "FG-TEA-500"]
    south_prices = {i["material_number"]: i["price"] for i in south.json["items"]}
    assert south_prices["FG-TEA-500"] == "39.90" and south_prices["FG-COLA-330"] is None


def test_other_price_lists_and_areas_never_leak(api, catalogue):
    east = api("dealer_east")
    body = east.get("/api/v1/catalog/products").get_data(as_text=True)
    assert "39.90" not in body and "45.00" not in body and "99.00" not in body
    assert east.get(f"/api/v1/catalog/products/{catalogue['FG-CHIPS-70']}").status_code == 404
    assert east.get(f"/api/v1/catalog/products/{catalogue['FG-NEW-1']}").status_code == 404
    detail = east.get(f"/api/v1/catalog/products/{catalogue['FG-TEA-500']}")
    assert detail.status_code == 200 and detail.json["price"] == "42.50"
    assert detail.json["sales_org"] == "1000"


def test_category_filter_includes_subcategories_and_text_search(api, catalogue):
    drinks = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "BEV"))
    tea = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "BEV-TEA"))
    south = api("dealer_south")
    assert _names(south.get(f"/api/v1/catalog/products?category={drinks.id}")) == [
        "FG-COLA-330",
        "FG-TEA-500",
    ]
    assert _names(south.get(f"/api/v1/catalog/products?category={tea.id}")) == ["FG-TEA-500"]
    assert _names(south.get("/api/v1/catalog/products?q=红茶")) == ["FG-TEA-500"]
    assert _names(south.get("/api/v1/catalog/products?q=chips")) == ["FG-CHIPS-70"]
    assert _names(south.get("/api/v1/catalog/products?q=6901234567892")) == ["FG-TEA-500"]
    assert south.get("/api/v1/catalog/products?q=100%25").json["total"] == 0
    bad = south.get("/api/v1/catalog/products?category=99999")
    assert bad.status_code == 422 and "category" in bad.json["errors"]
    tree = south.get("/api/v1/catalog/categories").json
    assert [c["code"] for c in tree] == ["BEV", "SNK"]
    assert [c["code"] for c in tree[0]["children"]] == ["BEV-TEA"]


def test_staff_see_off_shelf_products_without_prices_applicants_not_at_all(api, catalogue):
    cs = api("cs").get("/api/v1/catalog/products")
    assert cs.status_code == 200 and cs.json["total"] == 4
    assert all(item["price"] is None for item in cs.json["items"])
    assert api("applicant").get("/api/v1/catalog/products").status_code == 403


def test_customer_service_puts_a_product_on_the_shelf_and_it_is_audited(app, api, catalogue):
    new_id = catalogue["FG-NEW-1"]
    snacks = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "SNK"))
    cs = api("cs")
    r = cs.client.patch(
        f"/api/v1/catalog/products/{new_id}",
        headers=cs.headers,
        json={"on_shelf": True, "name_en": "Seaweed crisps 50 g x20"},
    )
    assert r.status_code == 200 and r.json["on_shelf"] is True
    assert "FG-NEW-1" in _names(api("dealer_east").get("/api/v1/catalog/products"))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "product.updated"))
    assert event.actor == "cs" and event.target_id == str(new_id)
    bad = cs.client.patch(
        f"/api/v1/catalog/products/{new_id}",
        headers=cs.headers,
        json={"order_multiple": 0, "category_id": snacks.id},
    )
    assert bad.status_code == 422 and "order_multiple" in bad.json["errors"]
    unknown = cs.client.patch(
        f"/api/v1/catalog/products/{new_id}", headers=cs.headers, json={"category_id": 99999}
    )
    assert unknown.status_code == 422 and "category_id" in unknown.json["errors"]
    dealer = api("dealer_east")
    denied = dealer.client.patch(
        f"/api/v1/catalog/products/{new_id}", headers=dealer.headers, json={"on_shelf": False}
    )
    assert denied.status_code == 403


def test_erp_sync_keeps_what_operations_staff_completed(catalogue):
    tea = db.session.get(Product, catalogue["FG-TEA-500"])
    snacks = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "SNK"))
    from app.catalog.services import update_product

    update_product(tea, {"category_id": snacks.id, "description": "店长推荐"}, "cs")
    counts = upsert_materials(
        [
            {
                "material": "FG-TEA-500",
                "name_zh": "冰红茶 500ml×15 (新包装)",
                "name_en": "Iced black tea",
                "hierarchy": DRINKS,
                "sales_areas": [],
            }
        ]
    )
    assert counts == {"created": 0, "updated": 1}
    db.session.refresh(tea)
    assert tea.on_shelf is True and tea.category_id == snacks.id and tea.description == "店长推荐"
    assert tea.name_zh.endswith("(新包装)")
    prices = upsert_prices(
        [
            {
                "material": "NOPE",
                "sales_org": "1000",
                "distr_chan": "10",
                "amount": Decimal(1),
                "valid_from": date.today(),
            }
        ]
    )
    assert prices["unknown_material"] == 1


def test_catalogue_page_shows_the_dealers_price_and_the_category_tree(login, catalogue):
    page = login("dealer_east").get("/catalog?q=tea")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "42.50" in html and "FG-COLA-330" not in html
    assert "39.90" not in html
    other = login("dealer_east").get(f"/catalog/products/{catalogue['FG-CHIPS-70']}")
    assert other.status_code == 404
    edit = login("cs").post(
        f"/catalog/products/{catalogue['FG-NEW-1']}",
        data={"name_zh": "", "name_en": "x", "order_multiple": "1"},
    )
    assert edit.status_code == 422
