"""Promotion definitions and cart inputs for the promotion engine (pure data, no database).

The kinds follow the Chinese FMCG rules of ERP-NOTES §5: 特价 special price, 阶梯价 tiered
price, 套餐 bundle, 满减 full reduction and 满赠 gift. A promotion carries a priority, an
exclusion group, a stackable flag and an explicit exclude list; its scope names products,
categories, regions, dealer groups and channels (an empty set means "any").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")

SPECIAL_PRICE = "special_price"
TIERED_PRICE = "tiered_price"
BUNDLE = "bundle"
FULL_REDUCTION = "full_reduction"
GIFT = "gift"
LINE_KINDS = frozenset({SPECIAL_PRICE, TIERED_PRICE, BUNDLE})
KINDS = LINE_KINDS | {FULL_REDUCTION, GIFT}


def money(value: Decimal) -> Decimal:
    """Round to cents, half up (the way invoices round)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Scope:
    """Where a promotion applies; empty sets mean no restriction on that dimension."""

    products: frozenset = frozenset()
    categories: frozenset = frozenset()
    exclude_products: frozenset = frozenset()
    regions: frozenset = frozenset()
    dealer_groups: frozenset = frozenset()
    channels: frozenset = frozenset()

    def admits_dealer(self, ctx: DealerContext) -> bool:
        return (
            (not self.regions or ctx.region in self.regions)
            and (not self.dealer_groups or ctx.dealer_group in self.dealer_groups)
            and (not self.channels or ctx.channel in self.channels)
        )

    def admits_line(self, line: CartLine) -> bool:
        if line.product_id in self.exclude_products:
            return False
        if not self.products and not self.categories:
            return True
        return line.product_id in self.products or not self.categories.isdisjoint(line.categories)


@dataclass(frozen=True)
class SpecialPrice:
    """特价: a fixed unit price, optionally capped per dealer over the promotion's life."""

    price: Decimal
    cap_per_dealer: int | None = None


@dataclass(frozen=True)
class TieredPrice:
    """阶梯价: ``brackets`` are (minimum quantity, unit price) pairs; ``mode`` whole|progressive."""

    brackets: tuple[tuple[int, Decimal], ...]
    mode: str = "whole"


@dataclass(frozen=True)
class Bundle:
    """套餐: ``components`` maps product id → units per set; one set costs ``price``."""

    components: tuple[tuple[str, int], ...]
    price: Decimal


@dataclass(frozen=True)
class FullReduction:
    """满减: highest tier reached (tiers), or per multiple of ``step`` (每满) with a cap."""

    tiers: tuple[tuple[Decimal, Decimal], ...] = ()
    step: Decimal | None = None
    step_discount: Decimal | None = None
    cap: Decimal | None = None
    include_promoted_lines: bool = False


@dataclass(frozen=True)
class Gift:
    """满赠: gift units of ``gift_product`` by amount or quantity thresholds.

    ``basis`` is ``quantity`` (units of in-scope products), ``amount_before`` (after line
    prices, before 满减) or ``amount_after`` (after 满减). ``inclusive`` means the free units
    are taken out of the bought ones (buy 10, pay 9) instead of being added as a ¥0 line.
    """

    gift_product: str
    basis: str = "quantity"
    tiers: tuple[tuple[Decimal, int], ...] = ()
    step: Decimal | None = None
    step_quantity: int | None = None
    cap: int | None = None
    inclusive: bool = False


@dataclass(frozen=True)
class Promotion:
    id: str
    name: str
    kind: str
    rule: SpecialPrice | TieredPrice | Bundle | FullReduction | Gift
    scope: Scope = Scope()
    priority: int = 0
    exclusion_group: str | None = None
    stackable: bool = True
    excludes: frozenset = frozenset()
    valid_from: date | None = None
    valid_to: date | None = None

    def active_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class CartLine:
    """One product in the cart at the dealer's own price-list price."""

    product_id: str
    quantity: int
    unit_price: Decimal
    categories: frozenset = frozenset()


@dataclass
class DealerContext:
    """Who orders and when; ``used_quantities`` holds special-price units already bought
    (promotion id, product id) and ``gift_stock`` the remaining gift units per product."""

    dealer_id: str | int
    today: date
    region: str | None = None
    dealer_group: str | None = None
    channel: str | None = None
    used_quantities: dict = field(default_factory=dict)
    gift_stock: dict = field(default_factory=dict)
