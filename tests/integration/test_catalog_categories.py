"""Category upkeep: operations staff create, rename, move and deactivate catalogue categories."""

from sqlalchemy import select

from app.catalog.models import Product, ProductCategory
from app.catalog.services import upsert_materials
from app.extensions import db

DRINKS = [("BEV", "饮料", "Beverages"), ("BEV-TEA", "茶饮料", "Tea drinks")]


def _cat(code):
    return db.session.scalar(select(ProductCategory).where(ProductCategory.code == code))


def _names(response):
    return sorted(item["material_number"] for item in response.json["items"])


def _patch(client, path, json):
    return client.client.patch(path, headers=client.headers, json=json)


def test_create_nested_categories_and_see_them_in_the_tree(api, catalogue):
    cs = api("cs")
    top = cs.post("/api/v1/catalog/categories", json={"name": "乳品", "sort": 5})
    assert top.status_code == 201, top.json
    assert top.json["level"] == 1 and top.json["parent_id"] is None
    child = cs.post("/api/v1/catalog/categories", json={"name_zh": "酸奶", "name_en": "Yoghurt",
                                                        "parent_id": top.json["id"]})
    assert child.status_code == 201 and child.json["level"] == 2
    grandchild = cs.post("/api/v1/catalog/categories", json={"name": "Greek", "parent_id": child.json["id"]})
    assert grandchild.status_code == 201 and grandchild.json["level"] == 3
    stored = db.session.get(ProductCategory, grandchild.json["id"])
    assert stored.path == f"/{top.json['id']}/{child.json['id']}/{grandchild.json['id']}/"
    tree = cs.get("/api/v1/catalog/categories").json
    dairy = next(node for node in tree if node["id"] == top.json["id"])
    assert [c["name_en"] for c in dairy["children"]] == ["Yoghurt"]
    assert [c["name"] for c in dairy["children"][0]["children"]] == ["Greek"]


def test_moving_a_category_moves_its_subtree_and_the_catalogue_filter_follows(api, catalogue):
    cs, south = api("cs"), api("dealer_south")
    snacks, tea = _cat("SNK"), _cat("BEV-TEA")
    sub = cs.post("/api/v1/catalog/categories", json={"name": "Cold brew", "parent_id": tea.id}).json
    r = _patch(cs, f"/api/v1/catalog/categories/{tea.id}", {"parent_id": snacks.id})
    assert r.status_code == 200, r.json
    assert r.json["parent_id"] == snacks.id and r.json["level"] == 2
    db.session.expire_all()
    assert _cat("BEV-TEA").path == f"/{snacks.id}/{tea.id}/"
    moved_sub = db.session.get(ProductCategory, sub["id"])
    assert moved_sub.path == f"/{snacks.id}/{tea.id}/{sub['id']}/" and moved_sub.level == 3
    tea_product = db.session.scalar(select(Product).where(Product.material_number == "FG-TEA-500"))
    assert tea_product.category_path == f"/{snacks.id}/{tea.id}/"
    # Filtering by the new parent finds the moved subtree's products; the old parent no longer does.
    under_snacks = south.get(f"/api/v1/catalog/products?category={snacks.id}")
    assert _names(under_snacks) == ["FG-CHIPS-70", "FG-TEA-500"]
    assert _names(south.get(f"/api/v1/catalog/products?category={_cat('BEV').id}")) == ["FG-COLA-330"]
    # Back to the root.
    r = _patch(cs, f"/api/v1/catalog/categories/{tea.id}", {"parent_id": None})
    assert r.status_code == 200 and r.json["level"] == 1
    db.session.expire_all()
    assert db.session.get(ProductCategory, sub["id"]).path == f"/{tea.id}/{sub['id']}/"


def test_bad_input_is_rejected_per_field(api, catalogue):
    cs = api("cs")
    drinks, tea = _cat("BEV"), _cat("BEV-TEA")
    cases = [
        ("post", "/api/v1/catalog/categories", {"name": "  "}, "name"),
        ("post", "/api/v1/catalog/categories", {}, "name"),
        ("post", "/api/v1/catalog/categories", {"name": "X", "parent_id": 999999}, "parent_id"),
        ("post", "/api/v1/catalog/categories", {"name": "tea drinks", "parent_id": drinks.id}, "name"),
        ("post", "/api/v1/catalog/categories", {"name": "Snacks"}, "name"),
        ("patch", f"/api/v1/catalog/categories/{drinks.id}", {"parent_id": drinks.id}, "parent_id"),
        ("patch", f"/api/v1/catalog/categories/{drinks.id}", {"parent_id": tea.id}, "parent_id"),
        ("patch", f"/api/v1/catalog/categories/{drinks.id}", {"name_en": ""}, "name_en"),
        ("patch", f"/api/v1/catalog/categories/{drinks.id}", {"name": "snacks"}, "name"),
    ]
    for method, path, body, field in cases:
        r = cs.post(path, json=body) if method == "post" else _patch(cs, path, body)
        assert r.status_code == 422, (body, r.json)
        assert field in r.json["errors"], (body, r.json)
    db.session.expire_all()
    assert _cat("BEV").name_en == "Beverages" and _cat("BEV").parent_id is None
    assert _patch(cs, "/api/v1/catalog/categories/999999", {"name": "X"}).status_code == 404


def test_dealers_may_not_edit_categories(api, catalogue):
    dealer = api("dealer_east")
    assert dealer.post("/api/v1/catalog/categories", json={"name": "Mine"}).status_code == 403
    drinks = _cat("BEV")
    assert _patch(dealer, f"/api/v1/catalog/categories/{drinks.id}", {"name": "Mine"}).status_code == 403
    db.session.expire_all()
    assert _cat("BEV").name_en == "Beverages"


def test_deactivating_a_category_with_on_shelf_products_needs_force_and_hides_it(api, catalogue):
    cs, east = api("cs"), api("dealer_east")
    drinks = _cat("BEV")
    r = _patch(cs, f"/api/v1/catalog/categories/{drinks.id}", {"active": False})
    assert r.status_code == 409 and r.json["on_shelf_products"] == 2
    assert _names(east.get("/api/v1/catalog/products")) == ["FG-COLA-330", "FG-TEA-500"]
    r = _patch(cs, f"/api/v1/catalog/categories/{drinks.id}", {"active": False, "force": True})
    assert r.status_code == 200 and r.json["active"] is False
    assert east.get("/api/v1/catalog/products").json["total"] == 0
    assert [c["code"] for c in east.get("/api/v1/catalog/categories").json] == ["SNK"]
    # Staff still see the products (still on shelf) and the inactive category.
    tea = db.session.scalar(select(Product).where(Product.material_number == "FG-TEA-500"))
    assert tea.on_shelf is True
    assert "BEV" in [c["code"] for c in cs.get("/api/v1/catalog/categories").json]
    assert _patch(cs, f"/api/v1/catalog/categories/{drinks.id}", {"active": True}).status_code == 200
    assert _names(east.get("/api/v1/catalog/products")) == ["FG-COLA-330", "FG-TEA-500"]


def test_erp_sync_keeps_a_local_rename_and_move(api, catalogue):
    cs = api("cs")
    drinks, snacks, tea = _cat("BEV"), _cat("SNK"), _cat("BEV-TEA")
    renamed = _patch(cs, f"/api/v1/catalog/categories/{drinks.id}", {"name_en": "Soft drinks"})
    assert renamed.status_code == 200
    assert _patch(cs, f"/api/v1/catalog/categories/{tea.id}", {"parent_id": snacks.id}).status_code == 200
    upsert_materials(
        [
            {"material": "FG-TEA-500", "name_zh": "冰红茶 500ml×15", "name_en": "Iced black tea 500 ml x15",
             "hierarchy": DRINKS, "sales_areas": [("1000", "10", "00")]},
            {"material": "FG-TEA-NEW", "name_zh": "绿茶", "name_en": "Green tea",
             "hierarchy": DRINKS + [("BEV-TEA-GRN", "绿茶", "Green tea")],
             "sales_areas": [("1000", "10", "00")]},
        ]
    )
    db.session.commit()
    db.session.expire_all()
    assert _cat("BEV").name_en == "Soft drinks"
    assert _cat("BEV-TEA").parent_id == snacks.id
    green = _cat("BEV-TEA-GRN")
    assert green.path == f"/{snacks.id}/{tea.id}/{green.id}/"
    tea_product = db.session.scalar(select(Product).where(Product.material_number == "FG-TEA-500"))
    assert tea_product.category_path == f"/{snacks.id}/{tea.id}/"


def test_category_page_adds_renames_moves_and_deactivates(login, catalogue):
    page = login("cs")
    drinks, snacks, tea = _cat("BEV"), _cat("SNK"), _cat("BEV-TEA")
    r = page.get("/catalog/categories")
    assert r.status_code == 200 and "Tea drinks" in r.get_data(as_text=True)
    r = page.post("/catalog/categories", data={"action": "create", "name_zh": "果汁", "name_en": "Juice",
                                                "parent_id": str(drinks.id)})
    assert r.status_code == 302
    juice = db.session.scalar(select(ProductCategory).where(ProductCategory.name_en == "Juice"))
    assert juice.parent_id == drinks.id and juice.level == 2
    r = page.post("/catalog/categories", data={"action": "create", "name_zh": "", "name_en": "",
                                                "parent_id": ""})
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    r = page.post("/catalog/categories", data={"action": "update", "category_id": str(tea.id),
                                                "name_zh": "茶", "name_en": "Tea", "sort": "1",
                                                "parent_id": str(snacks.id)})
    assert r.status_code == 302
    db.session.expire_all()
    assert _cat("BEV-TEA").name_en == "Tea" and _cat("BEV-TEA").path == f"/{snacks.id}/{tea.id}/"
    r = page.post("/catalog/categories", data={"action": "update", "category_id": str(snacks.id),
                                                "name_zh": "休闲食品", "name_en": "Snacks",
                                                "parent_id": str(tea.id)})
    assert r.status_code == 422
    r = page.post("/catalog/categories", data={"action": "deactivate", "category_id": str(snacks.id)})
    assert r.status_code == 409
    db.session.expire_all()
    assert _cat("SNK").active is True
    r = page.post("/catalog/categories", data={"action": "deactivate", "category_id": str(snacks.id),
                                                "force": "on"})
    assert r.status_code == 302
    db.session.expire_all()
    assert _cat("SNK").active is False


def test_category_page_is_for_catalogue_editors_only(login, catalogue):
    assert login("dealer_east").get("/catalog/categories").status_code == 403
    drinks = _cat("BEV")
    r = login("dealer_east").post(
        "/catalog/categories",
        data={"action": "update", "category_id": str(drinks.id), "name_zh": "x", "name_en": "x"},
    )
    assert r.status_code == 403


def _product(material):
    return db.session.scalar(select(Product).where(Product.material_number == material))


def test_staff_move_a_product_into_an_active_category_via_the_api(api, catalogue):
    cs, south = api("cs"), api("dealer_south")
    chips, snacks, drinks = _product("FG-CHIPS-70"), _cat("SNK"), _cat("BEV")
    path = f"/api/v1/catalog/products/{chips.id}"
    r = _patch(cs, path, {"category_id": drinks.id})
    assert r.status_code == 200 and r.json["category_id"] == drinks.id, r.json
    assert _names(south.get(f"/api/v1/catalog/products?category={drinks.id}")) == \
        ["FG-CHIPS-70", "FG-COLA-330", "FG-TEA-500"]
    assert _patch(cs, f"/api/v1/catalog/categories/{snacks.id}", {"active": False}).status_code == 200
    r = _patch(cs, path, {"category_id": snacks.id})
    assert r.status_code == 422 and list(r.json["errors"]) == ["category_id"], r.json
    sub = cs.post("/api/v1/catalog/categories", json={"name": "Crisps", "parent_id": snacks.id}).json
    r = _patch(cs, path, {"category_id": sub["id"]})  # active itself, but under an inactive one
    assert r.status_code == 422 and "category_id" in r.json["errors"]
    assert _patch(cs, path, {"category_id": 999999}).status_code == 422
    assert _patch(cs, path, {"category_id": "tea"}).status_code == 422
    assert _patch(api("dealer_east"), path, {"category_id": snacks.id}).status_code == 403
    db.session.expire_all()
    assert _product("FG-CHIPS-70").category_id == drinks.id


def test_product_page_has_a_category_picker_of_active_categories(login, api, catalogue):
    cs = api("cs")
    chips, snacks, tea = _product("FG-CHIPS-70"), _cat("SNK"), _cat("BEV-TEA")
    hidden = cs.post("/api/v1/catalog/categories", json={"name": "Retired"}).json
    assert _patch(cs, f"/api/v1/catalog/categories/{hidden['id']}", {"active": False}).status_code == 200
    page = login("cs")
    html = page.get(f"/catalog/products/{chips.id}").get_data(as_text=True)
    assert 'id="product-category"' in html
    assert f'<option value="{snacks.id}" selected>' in html
    assert f'<option value="{tea.id}" >' in html and "Retired" not in html
    form = {"category_id": str(tea.id), "on_shelf": "on", "name_zh": chips.name_zh,
            "name_en": chips.name_en, "order_multiple": str(chips.order_multiple)}
    r = page.post(f"/catalog/products/{chips.id}", data=form)
    assert r.status_code == 302
    db.session.expire_all()
    moved = _product("FG-CHIPS-70")
    assert moved.category_id == tea.id and moved.category_path == _cat("BEV-TEA").path
    assert moved.on_shelf is True
    r = page.post(f"/catalog/products/{chips.id}", data=form | {"category_id": str(hidden["id"])})
    assert r.status_code == 422 and "该分类已停用" in r.get_data(as_text=True)
    r = page.post(f"/catalog/products/{chips.id}", data=form | {"category_id": str(hidden["id"])},
                  headers={"Accept-Language": "en"})
    assert r.status_code == 422 and "This category is inactive" in r.get_data(as_text=True)
    db.session.expire_all()
    assert _product("FG-CHIPS-70").category_id == tea.id
    assert 'id="product-category"' not in login("dealer_east").get(
        f"/catalog/products/{chips.id}").get_data(as_text=True)
