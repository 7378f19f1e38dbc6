"""Promotion engine: a 200-line cart against 50 active promotions (target ≤ 20 ms median).

Baseline in the same run: pricing the same cart with no promotion (the plain line sums the
engine has to do anyway). Knobs: BENCH_PROMO_LINES, BENCH_PROMO_COUNT, BENCH_PROMO_N.
"""

import random
import time
from datetime import date
from decimal import Decimal as D  # noqa: N817  (money literals read better short)

from common import env_int, fmt, header, median, ms, p90, print_table

from app.promotions.engine import price_cart
from app.promotions.rules import (
    BUNDLE,
    FULL_REDUCTION,
    GIFT,
    SPECIAL_PRICE,
    TIERED_PRICE,
    Bundle,
    CartLine,
    DealerContext,
    FullReduction,
    Gift,
    Promotion,
    Scope,
    SpecialPrice,
    TieredPrice,
)


def catalogue_cart(lines: int, rng: random.Random) -> list[CartLine]:
    return [CartLine(f"P{i:05d}", rng.randint(1, 240), D(rng.randint(800, 20000)) / 100,
                     frozenset({f"C{i % 12}", f"C{i % 12}-{i % 5}"}))
            for i in range(lines)]


def promotions(count: int, lines: int, rng: random.Random) -> list[Promotion]:
    """A realistic mix: special and tiered prices, bundles, 满减 and 满赠, scoped variously."""
    out = []
    for n in range(count):
        kind = (SPECIAL_PRICE, TIERED_PRICE, BUNDLE, FULL_REDUCTION, GIFT)[n % 5]
        products = frozenset(f"P{rng.randrange(lines):05d}" for _ in range(20))
        scope = Scope(products=products) if n % 3 else Scope(categories=frozenset({f"C{n % 12}"}))
        if kind == SPECIAL_PRICE:
            rule = SpecialPrice(price=D("7.50"), cap_per_dealer=100)
        elif kind == TIERED_PRICE:
            rule = TieredPrice(brackets=((1, D(60)), (50, D(55)), (100, D(50))),
                               mode=("whole", "progressive")[n % 2])
        elif kind == BUNDLE:
            a, b = sorted(products)[:2]
            rule, scope = Bundle(components=((a, 2), (b, 1)), price=D(10)), Scope()
        elif kind == FULL_REDUCTION:
            rule = FullReduction(tiers=((D(1000), D(50)), (D(5000), D(300)), (D(20000), D(1500))),
                                 include_promoted_lines=bool(n % 2))
        else:
            rule = Gift(gift_product="GIFT01", step=D(10), step_quantity=1, cap=50)
        out.append(Promotion(f"PR{n:03d}", f"promotion {n}", kind, rule, scope=scope,
                             priority=n % 7, exclusion_group=f"g{n % 4}" if n % 2 else None,
                             stackable=n % 9 != 0))
    return out


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    lines, count, n = env_int("BENCH_PROMO_LINES", 200), env_int("BENCH_PROMO_COUNT", 50), \
        env_int("BENCH_PROMO_N", 200)
    rng = random.Random(7)
    cart, promos = catalogue_cart(lines, rng), promotions(count, lines, rng)
    ctx = DealerContext(dealer_id=1, today=date(2026, 11, 28), region="east", dealer_group="KA",
                        channel="10", gift_stock={"GIFT01": 1000})
    result = price_cart(cart, promos, ctx)
    header(f"Promotion engine: {lines}-line cart, {count} active promotions, {n} runs")
    print(f"applied {len(result.applied)} promotions; list {result.list_total}, "
          f"net {result.net_total}, {len(result.warnings)} warnings")
    for _ in range(20):
        price_cart(cart, promos, ctx)
    base = timed(lambda: price_cart(cart, [], ctx), n)
    full = timed(lambda: price_cart(cart, promos, ctx), n)
    print_table(["case", "median ms", "p90 ms"], [
        ["no promotions (baseline)", fmt(ms(median(base))), fmt(ms(p90(base)))],
        [f"{count} promotions", fmt(ms(median(full))), fmt(ms(p90(full)))],
    ])
    print(f"ratio promotions / baseline: {median(full) / median(base):.1f}x; "
          f"target ≤ 20 ms median → {fmt(ms(median(full)))} ms")


if __name__ == "__main__":
    main()
