"""Catalogue services: what a caller may see, at which price, and the ERP master-data upserts."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

from sqlalchemy import and_, false, func, or_, select

from app.audit.services import record
from app.catalog.models import DealerSalesArea, Product, ProductCategory, ProductPrice, ProductSalesArea
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.pricing.models import PriceChange, PriceChangeLine

EDIT_ROLES = ("admin", "customer_service")
STAFF_ROLES = (
    "admin",
    "customer_service",
    "finance",
    "sales_director",
    "regional_manager",
    "store_ops",
    "analyst",
)
PAGE_SIZE = 48
ZERO = Decimal("0")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DealerPrice:
    """The dealer's net price per unit: PR00 less K004 (amount off), then K007 (percent off)."""

    amount: Decimal
    currency: str
    sales_org: str
    distr_chan: str
    division: str
    price_list: str | None
    list_amount: Decimal | None = None  # the PR00 price (None: same as ``amount``)
    material_discount: Decimal = ZERO  # K004, CNY off per unit
    customer_discount_percent: Decimal = ZERO  # K007, percent off

    @property
    def list_price(self) -> Decimal:
        return self.amount if self.list_amount is None else self.list_amount

    @property
    def has_discount(self) -> bool:
        return bool(self.material_discount or self.customer_discount_percent)


def net_unit_price(list_price: Decimal, material_discount: Decimal, percent: Decimal) -> Decimal:
    """PR00 → K004 → K007, rounded to the cent per unit, exactly as the ERP prices an item."""
    net = max(list_price - material_discount, ZERO) * (1 - percent / 100)
    return net.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class ProductPage:
    items: list[dict]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def is_dealer_user(user) -> bool:
    return user.has_role("dealer") and user.dealer_id is not None


def check_can_view(user) -> None:
    if not (is_dealer_user(user) or user.has_role(*STAFF_ROLES)):
        raise Forbidden("Your role may not open the catalogue")


def dealer_areas(dealer_id: int) -> list[DealerSalesArea]:
    return list(
        db.session.scalars(
            select(DealerSalesArea).where(DealerSalesArea.dealer_id == dealer_id).order_by(DealerSalesArea.id)
        )
    )


def _area_match(areas):
    return or_(
        *(
            and_(
                ProductSalesArea.sales_org == a.sales_org,
                ProductSalesArea.distr_chan == a.distr_chan,
                ProductSalesArea.division == a.division,
            )
            for a in areas
        )
    )


def visibility_filters(user) -> list:
    """WHERE clauses on Product for what ``user`` may see at all (dealers: on shelf, own areas)."""
    return _filters(user, None, None)


def _filters(user, category_id: int | None, q: str | None, areas=None) -> list:
    """WHERE clauses for what ``user`` may see, narrowed by category and text."""
    clauses = []
    if is_dealer_user(user):
        areas = dealer_areas(user.dealer_id) if areas is None else areas
        if not areas:
            return [false()]
        in_areas = select(ProductSalesArea.product_id).where(_area_match(areas))
        clauses += [Product.on_shelf.is_(True), Product.id.in_(in_areas)]
        clauses += [~_under(Product.category_path, path) for path in _inactive_paths()]
    if category_id is not None:
        path = db.session.scalar(select(ProductCategory.path).where(ProductCategory.id == category_id))
        if path is None:
            raise ValidationFailed({"category": ["Unknown category"]})
        clauses.append(_under(Product.category_path, path))
    if q:
        clauses.append(Product.search_text.contains(q.strip().lower(), autoescape=True))
    return clauses


def _under(column, path: str):
    """``column`` lies at or below ``path``.

    Paths are "/1/4/9/": every path under "/1/" sorts in ["/1/", "/10"), an index range.
    """
    return and_(column >= path, column < path[:-1] + "0")


def _inactive_paths() -> list[str]:
    return list(db.session.scalars(select(ProductCategory.path).where(ProductCategory.active.is_(False))))


def search_products(
    user,
    category_id: int | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
    locale: str = "zh_CN",
) -> ProductPage:
    """One page of the products ``user`` may see; dealers get their own prices, nobody else's."""
    check_can_view(user)
    areas = dealer_areas(user.dealer_id) if is_dealer_user(user) else []
    clauses = _filters(user, category_id, q, areas)
    total = db.session.scalar(select(func.count(Product.id)).where(*clauses))
    page = max(1, page)
    rows = list(
        db.session.scalars(
            select(Product)
            .where(*clauses)
            .order_by(Product.category_path, Product.material_number)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    prices = prices_for_dealer(user.dealer_id, [p.id for p in rows], areas=areas) if areas else {}
    return ProductPage([product_row(p, prices.get(p.id), locale) for p in rows], total or 0, page, per_page)


def product_row(product: Product, price: DealerPrice | None, locale: str) -> dict:
    return {
        "id": product.id,
        "material_number": product.material_number,
        "name": product.label(locale),
        "name_zh": product.name_zh,
        "name_en": product.name_en,
        "category_id": product.category_id,
        "sales_unit": product.sales_unit,
        "order_multiple": product.order_multiple,
        "on_shelf": product.on_shelf,
        "image_file_id": product.image_file_id,
        "description": product.description,
        "price": price.amount if price else None,
        "list_price": price.list_price if price else None,
        "material_discount": price.material_discount if price else None,
        "customer_discount_percent": price.customer_discount_percent if price else None,
        "currency": price.currency if price else None,
        "sales_org": price.sales_org if price else None,
        "distr_chan": price.distr_chan if price else None,
        "division": price.division if price else None,
    }


def get_product_for(product_id: int, user) -> Product:
    """A product the caller may see (a dealer: on shelf and in its sales areas, else 404)."""
    check_can_view(user)
    product = db.session.scalar(select(Product).where(Product.id == product_id, *_filters(user, None, None)))
    if product is None:
        raise NotFound(f"Product {product_id} not found")
    return product


def price_for_user(product: Product, user) -> DealerPrice | None:
    """The caller's own price of ``product`` (dealers only; staff see no dealer prices)."""
    if not is_dealer_user(user):
        return None
    return prices_for_dealer(user.dealer_id, [product.id]).get(product.id)


def prices_for_dealer(
    dealer_id: int, product_ids: list[int], on: date | None = None, areas=None
) -> dict[int, DealerPrice]:
    """The dealer's net price per product on ``on``.

    PR00 from its own price list first, else the area's base; then the K004 (per material) and
    K007 (this dealer's) records of the product's sales area valid that day, as the ERP applies
    them. Nobody else's K007 is ever read.
    """
    if not product_ids:
        return {}
    on = on or date.today()
    areas = dealer_areas(dealer_id) if areas is None else areas
    if not areas:
        return {}
    area_rows = {
        row.product_id: row
        for row in db.session.scalars(
            select(ProductSalesArea)
            .where(ProductSalesArea.product_id.in_(product_ids), _area_match(areas))
            .order_by(ProductSalesArea.id.desc())
        )
    }
    lists = {(a.sales_org, a.distr_chan, a.division): a.price_list for a in areas}
    candidates = db.session.scalars(
        select(ProductPrice)
        .where(
            ProductPrice.product_id.in_(list(area_rows)),
            ProductPrice.valid_from <= on,
            ProductPrice.valid_to >= on,
        )
        .order_by(ProductPrice.valid_from)
    ).all()
    best: dict[int, tuple[int, DealerPrice]] = {}
    for price in candidates:
        area = area_rows[price.product_id]
        if (price.sales_org, price.distr_chan) != (area.sales_org, area.distr_chan):
            continue
        own_list = lists[(area.sales_org, area.distr_chan, area.division)]
        if price.price_list not in (None, own_list):
            continue
        rank = 1 if price.price_list == own_list else 0
        current = best.get(price.product_id)
        if current is None or rank >= current[0]:
            best[price.product_id] = (
                rank,
                DealerPrice(
                    price.amount,
                    price.currency,
                    area.sales_org,
                    area.distr_chan,
                    area.division,
                    price.price_list,
                ),
            )
    found = {pid: price for pid, (_, price) in best.items()}
    if not found:
        return found
    material_off, customer_percent = condition_discounts(dealer_id, list(found), on)
    for pid, price in list(found.items()):
        off = material_off.get((pid, price.sales_org, price.distr_chan), ZERO)
        percent = customer_percent.get((price.sales_org, price.distr_chan), ZERO)
        if off or percent:
            found[pid] = replace(
                price,
                amount=net_unit_price(price.amount, off, percent),
                list_amount=price.amount,
                material_discount=off,
                customer_discount_percent=percent,
            )
    return found


def condition_discounts(
    dealer_id: int, product_ids: list[int], on: date
) -> tuple[dict[tuple, Decimal], dict[tuple, Decimal]]:
    """K004 per (product, org, channel) and the dealer's K007 per (org, channel), valid on ``on``.

    The records are the lines of applied price changes (the ERP holds the same records). Where
    several cover the day, the one applied last wins, as the ERP cuts older records' validity.
    """
    rows = db.session.execute(
        select(
            PriceChangeLine.condition_type,
            PriceChangeLine.product_id,
            PriceChangeLine.sales_org,
            PriceChangeLine.distr_chan,
            PriceChangeLine.amount,
        )
        .join(PriceChange, PriceChange.id == PriceChangeLine.change_id)
        .where(
            PriceChange.status == "applied",
            PriceChangeLine.valid_from <= on,
            PriceChangeLine.valid_to >= on,
            or_(
                and_(PriceChangeLine.condition_type == "K004", PriceChangeLine.product_id.in_(product_ids)),
                and_(
                    PriceChangeLine.condition_type == "K007",
                    PriceChangeLine.product_id.is_(None),
                    PriceChangeLine.dealer_id == dealer_id,
                ),
            ),
        )
        .order_by(PriceChange.applied_at, PriceChange.id, PriceChangeLine.line_no)
    ).all()
    material_off: dict[tuple, Decimal] = {}
    customer_percent: dict[tuple, Decimal] = {}
    for kind, product_id, org, chan, amount in rows:
        if kind == "K004":
            material_off[(product_id, org, chan)] = amount
        else:
            customer_percent[(org, chan)] = amount
    return material_off, customer_percent


def category_tree(locale: str = "zh_CN", include_inactive: bool = False) -> list[dict]:
    """Categories as nested dicts (children sorted), for menus and the API.

    Inactive categories and their subtrees are left out unless ``include_inactive``.
    """
    rows = db.session.scalars(
        select(ProductCategory).order_by(
            ProductCategory.level, ProductCategory.sort_order, ProductCategory.code
        )
    ).all()
    hidden = [] if include_inactive else [c.path for c in rows if not c.active]
    rows = [c for c in rows if not any(c.path.startswith(p) for p in hidden)]
    nodes = {
        c.id: {
            "id": c.id,
            "code": c.code,
            "name": c.label(locale),
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "parent_id": c.parent_id,
            "path": c.path,
            "level": c.level,
            "sort": c.sort_order,
            "active": c.active,
            "children": [],
        }
        for c in rows
    }
    roots = []
    for c in rows:
        (nodes[c.parent_id]["children"] if c.parent_id in nodes else roots).append(nodes[c.id])
    return roots


def flat_category_tree(locale: str = "zh_CN") -> list[dict]:
    """Every category, depth first, for indented lists and parent selects."""
    out: list[dict] = []

    def walk(nodes):
        for node in nodes:
            out.append(node)
            walk(node["children"])

    walk(category_tree(locale, include_inactive=True))
    return out


def _sibling_named(parent_id: int | None, names: set[str], exclude_id: int | None) -> bool:
    query = select(ProductCategory.id).where(
        ProductCategory.parent_id.is_(None)
        if parent_id is None
        else ProductCategory.parent_id == parent_id,
        or_(func.lower(ProductCategory.name_zh).in_(names), func.lower(ProductCategory.name_en).in_(names)),
    )
    if exclude_id is not None:
        query = query.where(ProductCategory.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def _clean_names(data: dict, current: ProductCategory | None) -> dict[str, str]:
    """name_zh / name_en from ``name`` (both languages) or the per-language fields."""
    names = {}
    errors = {}
    for key in ("name", "name_zh", "name_en"):
        if key in data:
            value = (data[key] or "").strip()
            if not value:
                errors[key] = ["Name must not be empty"]
            elif len(value) > 100:
                errors[key] = ["At most 100 characters"]
            names[key] = value
    if current is None and not any(k in data for k in ("name", "name_zh", "name_en")):
        errors["name"] = ["Name is required"]
    if errors:
        raise ValidationFailed(errors)
    result = {}
    if "name" in names:
        result = {"name_zh": names["name"], "name_en": names["name"]}
    for key in ("name_zh", "name_en"):
        if key in names:
            result[key] = names[key]
    if current is None:
        result.setdefault("name_zh", result.get("name_en", ""))
        result.setdefault("name_en", result["name_zh"])
    return result


def _parent_for(data: dict, category: ProductCategory | None) -> ProductCategory | None:
    parent_id = data.get("parent_id")
    if parent_id is None:
        return None
    parent = db.session.get(ProductCategory, parent_id)
    if parent is None:
        raise ValidationFailed({"parent_id": ["Unknown parent category"]})
    if category is not None and parent.path.startswith(category.path):
        raise ValidationFailed({"parent_id": ["A category cannot move under itself or its sub-categories"]})
    return parent


def create_category(data: dict, actor: str) -> ProductCategory:
    """Operations staff add a category (at the root or under ``parent_id``)."""
    names = _clean_names(data, None)
    parent = _parent_for(data, None)
    wanted = {names["name_zh"].lower(), names["name_en"].lower()}
    if _sibling_named(parent.id if parent else None, wanted, None):
        raise ValidationFailed({"name": ["A category with this name already exists here"]})
    category = ProductCategory(
        code=f"P-{uuid4().hex[:12].upper()}",
        name_zh=names["name_zh"],
        name_en=names["name_en"],
        parent_id=parent.id if parent else None,
        level=(parent.level + 1) if parent else 1,
        sort_order=data.get("sort") or 0,
    )
    db.session.add(category)
    db.session.flush()
    category.path = f"{parent.path if parent else '/'}{category.id}/"
    db.session.flush()
    record(actor, "category.created", target_type="product_category", target_id=category.id,
           details={"name_zh": category.name_zh, "name_en": category.name_en,
                    "parent_id": category.parent_id})
    return category


def _on_shelf_under(path: str) -> int:
    return db.session.scalar(
        select(func.count(Product.id)).where(Product.on_shelf.is_(True), _under(Product.category_path, path))
    ) or 0


def update_category(category: ProductCategory, data: dict, actor: str) -> ProductCategory:
    """Rename, move (the subtree's paths follow), re-sort or (de)activate a category."""
    names = _clean_names(data, category)
    moving = "parent_id" in data and data["parent_id"] != category.parent_id
    parent = _parent_for(data, category) if moving else (
        db.session.get(ProductCategory, category.parent_id) if category.parent_id else None
    )
    if names or moving:
        wanted = {
            names.get("name_zh", category.name_zh).lower(),
            names.get("name_en", category.name_en).lower(),
        }
        if _sibling_named(parent.id if parent else None, wanted, category.id):
            field = "parent_id" if moving and not names else "name"
            raise ValidationFailed({field: ["A category with this name already exists here"]})
    if data.get("active") is False and category.active and not data.get("force"):
        count = _on_shelf_under(category.path)
        if count:
            raise Conflict(
                f"{count} on-shelf products are in this category; deactivate with force to hide them",
                code="category_has_products",
                details={"on_shelf_products": count},
            )
    before = {"name_zh": category.name_zh, "name_en": category.name_en,
              "parent_id": category.parent_id, "sort": category.sort_order, "active": category.active}
    for key, value in names.items():
        setattr(category, key, value)
    if "sort" in data and data["sort"] is not None:
        category.sort_order = data["sort"]
    if "active" in data and data["active"] is not None:
        category.active = data["active"]
    if moving:
        _move(category, parent)
    db.session.flush()
    after = {"name_zh": category.name_zh, "name_en": category.name_en,
             "parent_id": category.parent_id, "sort": category.sort_order, "active": category.active}
    record(actor, "category.updated", target_type="product_category", target_id=category.id,
           details={"before": before, "after": after})
    return category


def _move(category: ProductCategory, parent: ProductCategory | None) -> None:
    """Re-parent ``category``; rewrite the paths and levels of its subtree and its products."""
    old_path, old_level = category.path, category.level
    new_path = f"{parent.path if parent else '/'}{category.id}/"
    shift = ((parent.level + 1) if parent else 1) - old_level
    category.parent_id = parent.id if parent else None
    for node in db.session.scalars(select(ProductCategory).where(_under(ProductCategory.path, old_path))):
        node.path = new_path + node.path[len(old_path):]
        node.level += shift
    for product in db.session.scalars(select(Product).where(_under(Product.category_path, old_path))):
        product.category_path = new_path + product.category_path[len(old_path):]


def get_category(category_id: int) -> ProductCategory:
    category = db.session.get(ProductCategory, category_id)
    if category is None:
        raise NotFound("Category not found")
    return category


def ensure_category_path(levels: list[tuple[str, str, str]]) -> ProductCategory | None:
    """Create (or find) each level of ``[(code, name_zh, name_en), …]`` from the root down."""
    parent = None
    for code, name_zh, name_en in levels:
        category = db.session.scalar(select(ProductCategory).where(ProductCategory.code == code))
        if category is None:
            category = ProductCategory(
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                parent_id=parent.id if parent else None,
                level=(parent.level + 1) if parent else 1,
            )
            db.session.add(category)
            db.session.flush()
            category.path = f"{parent.path if parent else '/'}{category.id}/"
        parent = category
    return parent


def _search_text(product: Product) -> str:
    parts = [product.material_number, product.name_zh, product.name_en, product.barcode or ""]
    return " ".join(parts).lower()[:300]


def update_product(product: Product, data: dict, actor: str) -> Product:
    """Operations staff complete a product: shelf status, category, names, image, text."""
    before = {key: _plain(getattr(product, key)) for key in data}
    if "category_id" in data:
        category = assignable_category(data["category_id"])
        product.category_path, product.category_source = category.path, "platform"
    for key, value in data.items():
        setattr(product, key, value)
    product.search_text = _search_text(product)
    db.session.flush()
    record(
        actor,
        "product.updated",
        target_type="product",
        target_id=product.id,
        details={"before": before, "after": {key: _plain(value) for key, value in data.items()}},
    )
    return product


def assignable_category(category_id) -> ProductCategory:
    """The category a product may move into: it and every category above it are active."""
    category = db.session.get(ProductCategory, category_id) if category_id else None
    if category is None:
        raise ValidationFailed({"category_id": ["Unknown category"]})
    ids = [int(part) for part in category.path.strip("/").split("/") if part]
    inactive = db.session.scalar(select(func.count()).select_from(ProductCategory).where(
        ProductCategory.id.in_(ids or [category.id]), ProductCategory.active.is_(False)))
    if not category.active or inactive:
        raise ValidationFailed({"category_id": ["This category is inactive"]})
    return category


def category_of(product: Product) -> ProductCategory | None:
    return db.session.get(ProductCategory, product.category_id) if product.category_id else None


def category_choices(locale: str) -> list[tuple[int, str]]:
    """Active categories as (id, "Parent / Child") in tree order, for a picker."""
    out = []

    def walk(nodes, trail):
        for node in nodes:
            label = f"{trail} / {node['name']}" if trail else node["name"]
            out.append((node["id"], label))
            walk(node["children"], label)

    walk(category_tree(locale), "")
    return out


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


def upsert_materials(rows: list[dict], actor: str = "erp-sync") -> dict:
    """Write ERP materials into the catalogue, keeping what operations staff completed.

    Each row: material, name_zh, name_en, hierarchy [(code, zh, en), …], sales_areas
    [(org, channel, division), …], plus optional sales_unit, order_multiple, product_type,
    plant, barcode. New products start off the shelf.
    """
    counts = {"created": 0, "updated": 0}
    existing = {
        p.material_number: p
        for p in db.session.scalars(
            select(Product).where(Product.material_number.in_([r["material"] for r in rows]))
        )
    }
    for row in rows:
        product = existing.get(row["material"])
        if product is None:
            product = Product(material_number=row["material"], on_shelf=False)
            db.session.add(product)
            counts["created"] += 1
        else:
            counts["updated"] += 1
        _apply_material(product, row)
    db.session.flush()
    record(actor, "catalog.materials_synced", target_type="catalog", details=counts)
    return counts


def _apply_material(product: Product, row: dict) -> None:
    product.name_zh, product.name_en = row["name_zh"], row.get("name_en") or row["name_zh"]
    for key in ("sales_unit", "order_multiple", "product_type", "plant", "barcode"):
        if row.get(key) is not None:
            setattr(product, key, row[key])
    if product.category_source != "platform" and row.get("hierarchy"):
        category = ensure_category_path(row["hierarchy"])
        product.category_id, product.category_path = category.id, category.path
    product.search_text = _search_text(product)
    product.erp_synced_at = utcnow()
    db.session.flush()
    have = {
        (a.sales_org, a.distr_chan, a.division)
        for a in db.session.scalars(select(ProductSalesArea).where(ProductSalesArea.product_id == product.id))
    }
    for area in row.get("sales_areas") or []:
        if tuple(area) not in have:
            db.session.add(
                ProductSalesArea(
                    product_id=product.id, sales_org=area[0], distr_chan=area[1], division=area[2]
                )
            )


def upsert_prices(rows: list[dict], actor: str = "erp-sync") -> dict:
    """Write PR00 condition records: one row per material, area, price list and validity start."""
    products = {
        p.material_number: p.id
        for p in db.session.scalars(
            select(Product).where(Product.material_number.in_({r["material"] for r in rows}))
        )
    }
    counts = {"created": 0, "updated": 0, "unknown_material": 0}
    for row in rows:
        product_id = products.get(row["material"])
        if product_id is None:
            counts["unknown_material"] += 1
            continue
        key = dict(
            product_id=product_id,
            sales_org=row["sales_org"],
            distr_chan=row["distr_chan"],
            price_list=row.get("price_list"),
            valid_from=row["valid_from"],
        )
        price = db.session.scalar(select(ProductPrice).filter_by(**key))
        if price is None:
            price = ProductPrice(**key)
            db.session.add(price)
            counts["created"] += 1
        else:
            counts["updated"] += 1
        price.amount, price.currency = row["amount"], row.get("currency", "CNY")
        price.valid_to = row.get("valid_to") or date(9999, 12, 31)
        price.source = row.get("source", "erp")
    db.session.flush()
    record(actor, "catalog.prices_synced", target_type="catalog", details=counts)
    return counts
