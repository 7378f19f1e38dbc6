"""Catalogue tables.

Products and prices arrive from the ERP (master-data sync); operations staff complete them
with images, shelf status and platform categories. A dealer orders in one or more sales
areas (sales organisation, distribution channel, division), each with its price list and
customer group; it sees only on-shelf products of those areas, at its own prices.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Model, utcnow


class ProductCategory(Model):
    __tablename__ = "product_category"
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("product_category.id"))
    # Materialised path of ids, "/1/4/9/": a category filter is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(255), nullable=False, default="/", index=True)
    level: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Inactive categories (and everything under them) are hidden from dealers' catalogue.
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())

    def label(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class Product(Model):
    __tablename__ = "product"
    # Listing order (category, material) doubles as the category prefix index.
    __table_args__ = (Index("ix_product_listing", "category_path", "material_number"),)
    material_number: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(String(120), nullable=False)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_category.id"), index=True)
    category_path: Mapped[str] = mapped_column(String(255), nullable=False, default="/")
    # "erp" while the ERP's hierarchy decides; "platform" once operations staff set it.
    category_source: Mapped[str] = mapped_column(String(10), nullable=False, default="erp")
    sales_unit: Mapped[str] = mapped_column(String(3), nullable=False, default="CS")
    order_multiple: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    product_type: Mapped[str] = mapped_column(String(4), nullable=False, default="FERT")
    plant: Mapped[str | None] = mapped_column(String(4))
    barcode: Mapped[str | None] = mapped_column(String(18))
    description: Mapped[str | None] = mapped_column(Text)
    image_file_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    on_shelf: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    search_text: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    erp_synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def label(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class ProductSalesArea(Model):
    __tablename__ = "product_sales_area"
    __table_args__ = (
        UniqueConstraint("product_id", "sales_org", "distr_chan", "division"),
        Index("ix_product_sales_area_area", "sales_org", "distr_chan", "division"),
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), nullable=False)
    sales_org: Mapped[str] = mapped_column(String(4), nullable=False)
    distr_chan: Mapped[str] = mapped_column(String(2), nullable=False)
    division: Mapped[str] = mapped_column(String(2), nullable=False)


class DealerSalesArea(Model):
    """A dealer's ERP customer data per sales area: price list (PLTYP) and customer group."""

    __tablename__ = "dealer_sales_area"
    __table_args__ = (UniqueConstraint("dealer_id", "sales_org", "distr_chan", "division"),)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), nullable=False, index=True)
    sales_org: Mapped[str] = mapped_column(String(4), nullable=False)
    distr_chan: Mapped[str] = mapped_column(String(2), nullable=False)
    division: Mapped[str] = mapped_column(String(2), nullable=False)
    price_list: Mapped[str] = mapped_column(String(2), nullable=False, default="01")
    customer_group: Mapped[str | None] = mapped_column(String(2))


class ProductPrice(Model):
    """A PR00 price: per price list when ``price_list`` is set, else the sales area's base."""

    __tablename__ = "product_price"
    __table_args__ = (
        Index("ix_product_price_lookup", "product_id", "sales_org", "distr_chan", "price_list"),
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), nullable=False)
    sales_org: Mapped[str] = mapped_column(String(4), nullable=False)
    distr_chan: Mapped[str] = mapped_column(String(2), nullable=False)
    price_list: Mapped[str | None] = mapped_column(String(2))
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY")
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date] = mapped_column(Date, nullable=False, default=date(9999, 12, 31))
    source: Mapped[str] = mapped_column(String(10), nullable=False, default="erp")
