"""Integration fixtures shared by the commerce tests: a small catalogue for two dealers."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.catalog.models import DealerSalesArea, Product
from app.catalog.services import upsert_materials, upsert_prices
from app.dealers.models import Dealer
from app.extensions import db
from app.stores.models import Store

DRINKS = [("BEV", "饮料", "Beverages"), ("BEV-TEA", "茶饮料", "Tea drinks")]
SNACKS = [("SNK", "休闲食品", "Snacks")]


@pytest.fixture
def catalogue():
    east = db.session.scalar(select(Dealer).where(Dealer.code == "DE000001"))
    south = db.session.scalar(select(Dealer).where(Dealer.code == "DS000001"))
    db.session.add_all(
        [
            DealerSalesArea(
                dealer_id=east.id, sales_org="1000", distr_chan="10", division="00", price_list="01"
            ),
            DealerSalesArea(
                dealer_id=south.id, sales_org="2000", distr_chan="10", division="00", price_list="02"
            ),
        ]
    )
    both = [("1000", "10", "00"), ("2000", "10", "00")]
    upsert_materials(
        [
            {
                "material": "FG-TEA-500",
                "name_zh": "冰红茶 500ml×15",
                "name_en": "Iced black tea 500 ml x15",
                "hierarchy": DRINKS,
                "sales_areas": both,
                "order_multiple": 5,
                "barcode": "6901234567892",
            },
            {
                "material": "FG-COLA-330",
                "name_zh": "可乐 330ml×24",
                "name_en": "Cola 330 ml x24",
                "hierarchy": DRINKS[:1],
                "sales_areas": both,
            },
            {
                "material": "FG-CHIPS-70",
                "name_zh": "薯片 70g×20",
                "name_en": "Potato chips 70 g x20",
                "hierarchy": SNACKS,
                "sales_areas": [("2000", "10", "00")],
            },
            {
                "material": "FG-NEW-1",
                "name_zh": "新品 未上架",
                "name_en": "New, not on shelf",
                "hierarchy": SNACKS,
                "sales_areas": both,
            },
        ]
    )
    long_ago = date.today() - timedelta(days=30)
    upsert_prices(
        [
            {
                "material": "FG-TEA-500",
                "sales_org": "1000",
                "distr_chan": "10",
                "amount": Decimal("45.00"),
                "valid_from": long_ago,
            },
            {
                "material": "FG-TEA-500",
                "sales_org": "1000",
                "distr_chan": "10",
                "price_list": "01",
                "amount": Decimal("42.50"),
                "valid_from": long_ago,
            },
            {
                "material": "FG-TEA-500",
                "sales_org": "2000",
                "distr_chan": "10",
                "price_list": "02",
                "amount": Decimal("39.90"),
                "valid_from": long_ago,
            },
            {
                "material": "FG-COLA-330",
                "sales_org": "1000",
                "distr_chan": "10",
                "amount": Decimal("58.00"),
                "valid_from": long_ago,
            },
            {
                "material": "FG-COLA-330",
                "sales_org": "1000",
                "distr_chan": "10",
                "amount": Decimal("99.00"),
                "valid_from": date.today() + timedelta(days=10),
            },
            {
                "material": "FG-CHIPS-70",
                "sales_org": "2000",
                "distr_chan": "10",
                "amount": Decimal("36.00"),
                "valid_from": long_ago,
            },
        ]
    )
    for product in db.session.scalars(select(Product).where(Product.material_number != "FG-NEW-1")):
        product.on_shelf = True
    db.session.commit()
    return {p.material_number: p.id for p in db.session.scalars(select(Product))}


@pytest.fixture
def make_store():
    """A factory of stores of an existing dealer; returns the new store's id."""
    def _make(dealer_code="DE000001", status="active", store_type="standard", name="门店"):
        dealer = db.session.scalar(select(Dealer).where(Dealer.code == dealer_code))
        store = Store(name=name, dealer_id=dealer.id, region=dealer.region, status=status,
                      city="上海", address="南京路 1 号", store_type=store_type,
                      area_m2=Decimal("80"), budget_total=Decimal("100000"))
        db.session.add(store)
        db.session.flush()
        store.code = f"T{store.id:06d}"
        db.session.commit()
        return store.id
    return _make
