"""Price lists as Excel workbooks (openpyxl write-only: rows stream to a temporary file).

Staff export any price list (or the sales areas' base prices) with every validity period, in
the import's columns, so an exported file can be edited and imported again. A dealer exports
only its own prices: the products it may see, at its own price list, today.
"""

import tempfile
from datetime import date

from openpyxl import Workbook
from sqlalchemy import select

from app.catalog import services as catalog
from app.catalog.models import Product, ProductPrice
from app.core.errors import Forbidden, NotFound
from app.extensions import db
from app.pricing.imports import HEADER

BASE = "base"


def _save(book: Workbook):
    out = tempfile.TemporaryFile(suffix=".xlsx")
    book.save(out)
    out.seek(0)
    return out


def export_price_list(user, price_list: str | None):
    """(file name, open .xlsx file) of the price list ``user`` may export."""
    if catalog.is_dealer_user(user):
        return _dealer_export(user, price_list)
    if not user.has_role(*catalog.STAFF_ROLES, "marketing"):
        raise Forbidden("Your role may not export price lists")
    return _staff_export(price_list or BASE)


def _staff_export(price_list: str):
    code = None if price_list == BASE else price_list
    rows = db.session.execute(
        select(Product.material_number, Product.name_zh, ProductPrice)
        .join(Product, Product.id == ProductPrice.product_id)
        .where(ProductPrice.price_list.is_(None) if code is None else ProductPrice.price_list == code)
        .order_by(
            Product.material_number, ProductPrice.sales_org, ProductPrice.distr_chan, ProductPrice.valid_from
        )
    )
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Prices")
    sheet.append([*HEADER, "Name"])
    for material, name, price in rows:
        sheet.append(
            [
                material,
                price.price_list or "",
                price.amount,
                price.currency,
                price.valid_from,
                None if price.valid_to == date(9999, 12, 31) else price.valid_to,
                price.sales_org,
                price.distr_chan,
                name,
            ]
        )
    return f"prices-{price_list}.xlsx", _save(book)


def _dealer_export(user, price_list: str | None):
    areas = catalog.dealer_areas(user.dealer_id)
    own = {a.price_list for a in areas}
    if price_list and price_list not in own:
        raise NotFound(f"Price list {price_list} not found")
    products = list(
        db.session.scalars(
            select(Product).where(*catalog.visibility_filters(user)).order_by(Product.material_number)
        )
    )
    prices = catalog.prices_for_dealer(user.dealer_id, [p.id for p in products], areas=areas)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Prices")
    sheet.append(["Product code", "Name", "Unit", "Price list", "Amount", "Currency", "Sales org", "Channel"])
    lists = {(a.sales_org, a.distr_chan, a.division): a.price_list for a in areas}
    for product in products:
        price = prices.get(product.id)
        if price is None:
            continue
        own_list = lists.get((price.sales_org, price.distr_chan, price.division))
        if price_list and own_list != price_list:
            continue
        sheet.append(
            [
                product.material_number,
                product.name_zh,
                product.sales_unit,
                own_list,
                price.amount,
                price.currency,
                price.sales_org,
                price.distr_chan,
            ]
        )
    return f"prices-{'-'.join(sorted(own)) or 'none'}.xlsx", _save(book)
