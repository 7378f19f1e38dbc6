"""Commerce demo data for `flask demo seed`: the ERP simulator's catalogue, dealer sales areas,
live promotions and gift stock, so a demo order prices and delivers in the simulator.

Idempotent: products, prices, areas, promotions and stock are only written when missing.
"""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from app.catalog.models import DealerSalesArea, Product
from app.catalog.services import upsert_materials, upsert_prices
from app.core.models import User
from app.dealers.models import Dealer
from app.extensions import db
from app.promotions.models import GiftStock, Promotion
from app.promotions.schemas import PromotionIn
from app.promotions.services import apply_decision, create_promotion
from connectors.erp import simulator_catalogue as sim

CHANNEL = "10"
LIST_01_SHARE = Decimal("0.97")  # price list 01 (dealer_east) is 3 % below the base price
DEALER_AREAS = [("DE000001", "1000", "01"), ("DS000001", "2000", "01")]
GIFT_STOCK = {"DF-BV-2001": 200}


def _hierarchy(prodh: str) -> list[tuple[str, str, str]]:
    names = {code: text for code, _level, text in sim.HIERARCHY}
    levels = []
    for code in (prodh[:3], prodh[:6]):
        zh, _, en = names[code].partition(" ")
        levels.append((code, zh, en or zh))
    return levels


def _seed_products(valid_from: date) -> int:
    have = set(db.session.scalars(select(Product.material_number)))
    missing = [m for m in sim.MATERIALS if m[0] not in have]
    if not missing:
        return 0
    rows, prices = [], []
    for material, zh, en, prodh, _group, ean, price in missing:
        orgs = [org for org in sim.SALES_ORGS if (org, material) not in sim.NOT_SOLD]
        rows.append({"material": material, "name_zh": zh, "name_en": en, "hierarchy": _hierarchy(prodh),
                     "sales_areas": [(org, CHANNEL, sim.DIVISION) for org in orgs],
                     "sales_unit": sim.BASE_UOM, "plant": sim.DELIVERING_PLANT[orgs[0]], "barcode": ean})
        for org in orgs:
            prices.append({"material": material, "sales_org": org, "distr_chan": CHANNEL,
                           "amount": Decimal(price), "valid_from": valid_from})
        prices.append({"material": material, "sales_org": "1000", "distr_chan": CHANNEL,
                       "price_list": "01", "valid_from": valid_from,
                       "amount": (Decimal(price) * LIST_01_SHARE).quantize(
                           Decimal("0.01"), rounding=ROUND_HALF_UP)})
    upsert_materials(rows, actor="demo")
    upsert_prices(prices, actor="demo")
    new = {m[0] for m in missing}
    for product in db.session.scalars(select(Product).where(Product.material_number.in_(new))):
        product.on_shelf = True
    db.session.flush()
    return len(missing)


def _seed_areas() -> None:
    for code, org, price_list in DEALER_AREAS:
        dealer = db.session.scalar(select(Dealer).where(Dealer.code == code))
        if dealer is None:
            continue
        exists = db.session.scalar(select(DealerSalesArea.id).filter_by(
            dealer_id=dealer.id, sales_org=org, distr_chan=CHANNEL, division=sim.DIVISION))
        if exists is None:
            db.session.add(DealerSalesArea(dealer_id=dealer.id, sales_org=org, distr_chan=CHANNEL,
                                           division=sim.DIVISION, price_list=price_list))
    db.session.flush()


def demo_promotions(ids: dict[str, int], today: date) -> list[dict]:
    """满减 (tiered), 满赠 (with gift stock) and 特价 (capped per dealer), live for 90 days."""
    window = {"valid_from": (today - timedelta(days=1)).isoformat(),
              "valid_to": (today + timedelta(days=90)).isoformat()}
    return [
        {"code": "DEMO-MJ", "name_zh": "满2000减60，满5000减200",
         "name_en": "Spend 2,000 save 60, spend 5,000 save 200", "kind": "full_reduction",
         "rule": {"tiers": [{"threshold": "2000", "discount": "60"},
                            {"threshold": "5000", "discount": "200"}]},
         "priority": 10, **window},
        {"code": "DEMO-MZ", "name_zh": "薯片每满10箱赠饮用水1箱",
         "name_en": "One case of water free per 10 cases of chips", "kind": "gift",
         "rule": {"gift_product_id": ids["DF-BV-2001"], "basis": "quantity", "step": "10",
                  "step_quantity": 1},
         "scope": {"products": [ids["DF-SN-1001"], ids["DF-SN-1002"]]}, "priority": 20, **window},
        {"code": "DEMO-TJ", "name_zh": "冰红茶特价40元（每家限100箱）",
         "name_en": "Iced tea at 40 (100 cases per dealer)", "kind": "special_price",
         "rule": {"price": "40.00", "cap_per_dealer": 100},
         "scope": {"products": [ids["DF-BV-3001"]]}, "priority": 30, **window},
    ]


def _seed_promotions(today: date) -> int:
    marketing = db.session.scalar(select(User).where(User.username == "marketing"))
    if marketing is None:
        return 0
    ids = {p.material_number: p.id for p in db.session.scalars(select(Product))}
    created = 0
    for raw in demo_promotions(ids, today):
        if db.session.scalar(select(Promotion.id).where(Promotion.code == raw["code"])):
            continue
        promotion = create_promotion(PromotionIn().load(raw), marketing)
        # Approved by the director, as the promotion_approval process would record it.
        promotion.status = "pending"
        apply_decision(promotion.id, "approve", "demo", "director", promotion.instance_id)
        created += 1
    for material, quantity in GIFT_STOCK.items():
        product_id = ids.get(material)
        if product_id and db.session.scalar(
                select(GiftStock.id).where(GiftStock.product_id == product_id)) is None:
            db.session.add(GiftStock(product_id=product_id, quantity=quantity))
    db.session.flush()
    return created


def seed_demo_commerce(today: date | None = None) -> dict:
    """Create the demo catalogue, dealer areas, promotions and gift stock once."""
    today = today or date.today()
    products = _seed_products(date.fromisoformat(sim.PRICE_VALID_FROM))
    _seed_areas()
    promotions = _seed_promotions(today)
    return {"products": products, "promotions": promotions}
