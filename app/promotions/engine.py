"""Price a dealer's cart against the active promotions (pure; no database, no Flask).

Stages follow ERP-NOTES §5:

1. **Line prices** — 套餐 bundles first (by priority), then for the units left on each line
   the best 特价 / 阶梯价: the highest priority wins, the lower amount breaks a tie. One
   line-price rule per unit, never a discount on a discount (no 折上折).
2. **满减** on the post-line amount of the lines in scope, allocated to those lines pro rata
   and never below zero. Lines priced by a line rule are excluded unless the promotion
   says ``include_promoted_lines``.
3. **满赠** with its threshold on quantity, or on the amount before or after 满减; gift units
   come from a limited stock (a shortage is reported, not hidden).

Two promotions never meet on a line when either is not stackable, when they share an
exclusion group, or when either names the other in ``excludes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.promotions.rules import (
    BUNDLE,
    FULL_REDUCTION,
    GIFT,
    SPECIAL_PRICE,
    TIERED_PRICE,
    ZERO,
    CartLine,
    DealerContext,
    Promotion,
    money,
)


@dataclass
class Allocation:
    promotion_id: str
    kind: str
    amount: Decimal


@dataclass
class PricedLine:
    """A priced part of a cart line (a cart line splits when only some units join a bundle)."""

    cart_index: int | None
    product_id: str
    quantity: int
    list_unit_price: Decimal
    line_amount: Decimal
    categories: frozenset = frozenset()
    line_promotion: Promotion | None = None
    allocations: list[Allocation] = field(default_factory=list)
    order_promotions: list[Promotion] = field(default_factory=list)
    is_gift: bool = False

    @property
    def list_amount(self) -> Decimal:
        return money(self.list_unit_price * self.quantity)

    @property
    def net_amount(self) -> Decimal:
        return self.line_amount - sum((a.amount for a in self.allocations), ZERO)

    @property
    def promotions(self) -> list[Promotion]:
        head = [self.line_promotion] if self.line_promotion else []
        return head + self.order_promotions

    def conditions(self) -> list[Allocation]:
        """Every discount on this line, for the order record and ERP ORDER_CONDITIONS_IN."""
        rows = []
        if self.line_promotion is not None and self.list_amount > self.line_amount:
            rows.append(
                Allocation(
                    self.line_promotion.id, self.line_promotion.kind, self.list_amount - self.line_amount
                )
            )
        return rows + list(self.allocations)


@dataclass
class AppliedPromotion:
    id: str
    name: str
    kind: str
    discount: Decimal = ZERO
    gift_product: str | None = None
    gift_quantity: int = 0


@dataclass
class PricingWarning:
    code: str
    promotion_id: str
    message: str


@dataclass
class PricingResult:
    lines: list[PricedLine]
    applied: list[AppliedPromotion]
    warnings: list[PricingWarning]
    # Units bought under capped special prices: (promotion id, product id) → units (this cart).
    usage: dict = field(default_factory=dict)

    @property
    def list_total(self) -> Decimal:
        return sum((ln.list_amount for ln in self.lines if not ln.is_gift), ZERO)

    @property
    def net_total(self) -> Decimal:
        return sum((ln.net_amount for ln in self.lines), ZERO)

    @property
    def discount_total(self) -> Decimal:
        return self.list_total - self.net_total


def price_cart(lines: list[CartLine], promotions: list[Promotion], ctx: DealerContext) -> PricingResult:
    """Apply every active, in-scope promotion to ``lines`` in the documented stage order."""
    live = sorted(
        (p for p in promotions if p.active_on(ctx.today) and p.scope.admits_dealer(ctx)),
        key=lambda p: (-p.priority, p.id),
    )
    by_kind: dict[str, list[Promotion]] = {}
    for promo in live:
        by_kind.setdefault(promo.kind, []).append(promo)
    run = _Run(ctx)
    priced = run.bundles(lines, by_kind.get(BUNDLE, []))
    priced += run.line_prices(lines, by_kind.get(SPECIAL_PRICE, []) + by_kind.get(TIERED_PRICE, []))
    for promo in by_kind.get(FULL_REDUCTION, []):
        run.full_reduction(priced, promo)
    for promo in by_kind.get(GIFT, []):
        priced += run.gift(priced, promo)
    usage = {key: units - ctx.used_quantities.get(key, 0) for key, units in run.used.items()
             if units > ctx.used_quantities.get(key, 0)}
    return PricingResult(priced, list(run.applied.values()), run.warnings, usage)


def compatible(a: Promotion, b: Promotion) -> bool:
    """Whether two promotions may both apply to the same line."""
    if a.id == b.id:
        return False
    if not (a.stackable and b.stackable):
        return False
    if a.id in b.excludes or b.id in a.excludes:
        return False
    return not (a.exclusion_group and a.exclusion_group == b.exclusion_group)


class _Run:
    def __init__(self, ctx: DealerContext):
        self.ctx = ctx
        self.used = dict(ctx.used_quantities)
        self.stock = dict(ctx.gift_stock)
        self.remaining: list[int] = []
        self.applied: dict[str, AppliedPromotion] = {}
        self.warnings: list[PricingWarning] = []

    def _note(self, promo: Promotion, discount: Decimal = ZERO, gift: int = 0) -> None:
        entry = self.applied.setdefault(promo.id, AppliedPromotion(promo.id, promo.name, promo.kind))
        entry.discount += discount
        if gift:
            entry.gift_product = promo.rule.gift_product
            entry.gift_quantity += gift

    # -- stage 1: line prices ---------------------------------------------------------
    def bundles(self, lines: list[CartLine], bundles: list[Promotion]) -> list[PricedLine]:
        self.remaining = [ln.quantity for ln in lines]
        first_index: dict[str, int] = {}
        for i, ln in enumerate(lines):
            first_index.setdefault(ln.product_id, i)
        out: list[PricedLine] = []
        for promo in bundles:
            out += self._bundle(lines, promo, first_index)
        return out

    def _bundle(self, lines, promo: Promotion, first_index) -> list[PricedLine]:
        comps = promo.rule.components
        idx = [first_index.get(pid) for pid, _ in comps]
        if None in idx or not all(promo.scope.admits_line(lines[i]) for i in idx):
            return []
        sets = min(self.remaining[i] // units for i, (_, units) in zip(idx, comps, strict=True))
        if sets <= 0:
            return []
        list_parts = [lines[i].unit_price * units * sets for i, (_, units) in zip(idx, comps, strict=True)]
        list_total = sum(list_parts, ZERO)
        total = money(promo.rule.price * sets)
        if total >= list_total:
            return []
        shares = _allocate(total, list_parts)
        out = []
        for i, (_, units), share in zip(idx, comps, shares, strict=True):
            self.remaining[i] -= units * sets
            ln = lines[i]
            out.append(
                PricedLine(
                    i, ln.product_id, units * sets, ln.unit_price, share, ln.categories, line_promotion=promo
                )
            )
        self._note(promo, money(list_total) - total)
        return out

    def line_prices(self, lines: list[CartLine], rules: list[Promotion]) -> list[PricedLine]:
        rules = sorted(rules, key=lambda p: (-p.priority, p.id))
        out = []
        for i, ln in enumerate(lines):
            qty = self.remaining[i]
            if qty <= 0:
                continue
            base = money(ln.unit_price * qty)
            best, best_amount, best_units = None, base, 0
            for promo in rules:
                if best is not None and promo.priority < best.priority:
                    break
                if not promo.scope.admits_line(ln):
                    continue
                amount, units = self._line_amount(promo, ln, qty)
                if amount < best_amount:
                    best, best_amount, best_units = promo, amount, units
            if best is not None:
                self._take(best, ln, qty, best_units, base - best_amount)
            out.append(
                PricedLine(
                    i, ln.product_id, qty, ln.unit_price, best_amount, ln.categories, line_promotion=best
                )
            )
        return out

    def _take(self, promo: Promotion, ln: CartLine, qty: int, units: int, discount: Decimal) -> None:
        self._note(promo, discount)
        if promo.kind != SPECIAL_PRICE:
            return
        key = (promo.id, ln.product_id)
        self.used[key] = self.used.get(key, 0) + units
        if units < qty:
            self.warnings.append(
                PricingWarning(
                    "special_price_cap",
                    promo.id,
                    f"{promo.name}: {units} of {qty} units at the special price "
                    f"(cap {promo.rule.cap_per_dealer} per dealer)",
                )
            )

    def _line_amount(self, promo: Promotion, ln: CartLine, qty: int) -> tuple[Decimal, int]:
        rule = promo.rule
        if promo.kind == SPECIAL_PRICE:
            units = qty
            if rule.cap_per_dealer is not None:
                left = rule.cap_per_dealer - self.used.get((promo.id, ln.product_id), 0)
                units = max(0, min(qty, left))
            return money(rule.price * units + ln.unit_price * (qty - units)), units
        return _tiered_amount(rule, ln.unit_price, qty), qty

    # -- stage 2: 满减 ------------------------------------------------------------------
    def _eligible(self, priced: list[PricedLine], promo: Promotion, include_promoted: bool):
        return [
            ln
            for ln in priced
            if not ln.is_gift
            and (include_promoted or ln.line_promotion is None)
            and promo.scope.admits_line(ln)
            and all(compatible(promo, other) for other in ln.promotions)
        ]

    def full_reduction(self, priced: list[PricedLine], promo: Promotion) -> None:
        rule = promo.rule
        eligible = self._eligible(priced, promo, rule.include_promoted_lines)
        base = sum((ln.line_amount for ln in eligible), ZERO)
        discount = _reduction(rule, base)
        nets = [ln.net_amount for ln in eligible]
        discount = min(discount, sum(nets, ZERO))
        if discount <= 0:
            return
        for ln, share in zip(eligible, _allocate(discount, nets), strict=True):
            if share > 0:
                ln.allocations.append(Allocation(promo.id, promo.kind, share))
                ln.order_promotions.append(promo)
        self._note(promo, discount)

    # -- stage 3: 满赠 ------------------------------------------------------------------
    def gift(self, priced: list[PricedLine], promo: Promotion) -> list[PricedLine]:
        rule = promo.rule
        eligible = self._eligible(priced, promo, True)
        if rule.basis == "quantity":
            measure = Decimal(sum(ln.quantity for ln in eligible))
        elif rule.basis == "amount_after":
            measure = sum((ln.net_amount for ln in eligible), ZERO)
        else:
            measure = sum((ln.line_amount for ln in eligible), ZERO)
        wanted = _gift_units(rule, measure)
        if wanted <= 0:
            return []
        if rule.inclusive:
            return self._inclusive_gift(eligible, promo, wanted)
        granted = wanted
        if rule.gift_product in self.stock:
            granted = max(0, min(wanted, self.stock[rule.gift_product]))
            self.stock[rule.gift_product] -= granted
            if granted < wanted:
                self.warnings.append(
                    PricingWarning(
                        "gift_stock_short",
                        promo.id,
                        f"{promo.name}: {granted} of {wanted} gift units left in stock",
                    )
                )
        if granted <= 0:
            return []
        self._note(promo, gift=granted)
        for ln in eligible:
            ln.order_promotions.append(promo)
        return [PricedLine(None, rule.gift_product, granted, ZERO, ZERO, is_gift=True, line_promotion=promo)]

    def _inclusive_gift(self, eligible, promo: Promotion, wanted: int) -> list[PricedLine]:
        free_left, total = wanted, ZERO
        for ln in eligible:
            if ln.product_id != promo.rule.gift_product or free_left <= 0:
                continue
            units = min(free_left, ln.quantity)
            amount = min(ln.net_amount, money(ln.net_amount / ln.quantity * units))
            if amount > 0:
                ln.allocations.append(Allocation(promo.id, promo.kind, amount))
                ln.order_promotions.append(promo)
                free_left -= units
                total += amount
        if total > 0:
            self._note(promo, total, gift=wanted - free_left)
        return []


def _tiered_amount(rule, list_price: Decimal, qty: int) -> Decimal:
    brackets = sorted(rule.brackets)
    if rule.mode == "progressive":
        amount, start_price = ZERO, list_price
        bounds = [(lo, price) for lo, price in brackets]
        below = min(qty, bounds[0][0] - 1) if bounds else qty
        amount += start_price * max(0, below)
        for n, (lo, price) in enumerate(bounds):
            hi = bounds[n + 1][0] - 1 if n + 1 < len(bounds) else qty
            units = max(0, min(qty, hi) - lo + 1)
            amount += price * units
        return money(amount)
    price = list_price
    for lo, bracket_price in brackets:
        if qty >= lo:
            price = bracket_price
    return money(price * qty)


def _reduction(rule, base: Decimal) -> Decimal:
    if rule.step:
        discount = (base // rule.step) * rule.step_discount
    else:
        discount = ZERO
        for threshold, amount in sorted(rule.tiers):
            if base >= threshold:
                discount = amount
    if rule.cap is not None:
        discount = min(discount, rule.cap)
    return money(discount)


def _gift_units(rule, measure: Decimal) -> int:
    if rule.step:
        units = int(measure // rule.step) * rule.step_quantity
    else:
        units = 0
        for threshold, quantity in sorted(rule.tiers):
            if measure >= threshold:
                units = quantity
    return min(units, rule.cap) if rule.cap is not None else units


def _allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` over ``weights`` pro rata in cents; the rounding rest goes to the largest."""
    weight_sum = sum(weights, ZERO)
    if weight_sum <= 0:
        return [ZERO for _ in weights]
    shares = [money(total * w / weight_sum) for w in weights]
    rest = total - sum(shares, ZERO)
    if rest:
        largest = max(range(len(weights)), key=lambda i: weights[i])
        shares[largest] += rest
    return shares
