"""The promotion engine against the worked examples of ERP-NOTES §5, and their stacking."""

from datetime import date
from decimal import Decimal as D  # noqa: N817  (money literals read better short)

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

TODAY = date(2026, 11, 28)


def ctx(**kw):
    return DealerContext(dealer_id=1, today=TODAY, region="east", dealer_group="KA", channel="10", **kw)


def line(product, qty, price, cats=()):
    return CartLine(product, qty, D(price), frozenset(cats))


def promo(pid, kind, rule, **kw):
    return Promotion(pid, pid, kind, rule, **kw)


def tiers_1000_2000():
    return promo("MJ", FULL_REDUCTION, FullReduction(tiers=((D(1000), D(50)), (D(2000), D(120)))))


def test_full_reduction_tiered_takes_the_highest_tier_reached():
    result = price_cart([line("A", 47, "50")], [tiers_1000_2000()], ctx())
    assert result.list_total == D("2350.00")
    assert result.net_total == D("2230.00")
    assert [(a.id, a.discount) for a in result.applied] == [("MJ", D("120.00"))]


def test_full_reduction_per_multiple_and_cap():
    every = FullReduction(step=D(1000), step_discount=D(50))
    result = price_cart([line("A", 47, "50")], [promo("M", FULL_REDUCTION, every)], ctx())
    assert result.net_total == D("2250.00")
    capped = FullReduction(step=D(1000), step_discount=D(50), cap=D(60))
    result = price_cart([line("A", 100, "50")], [promo("M", FULL_REDUCTION, capped)], ctx())
    assert result.net_total == D("4940.00")


def test_full_reduction_is_allocated_pro_rata_and_adds_up():
    result = price_cart([line("A", 7, "100"), line("B", 3, "111"), line("C", 1, "17")],
                        [tiers_1000_2000()], ctx())
    shares = [sum(a.amount for a in ln.allocations) for ln in result.lines]
    assert sum(shares) == D("50.00")
    assert shares[0] > shares[1] > shares[2] > 0
    assert all(ln.net_amount >= 0 for ln in result.lines)


def test_gift_per_multiple_from_limited_stock():
    gift = promo("G", GIFT, Gift(gift_product="B", step=D(10), step_quantity=1),
                 scope=Scope(products=frozenset({"A"})))
    result = price_cart([line("A", 25, "30")], [gift], ctx())
    gifts = [ln for ln in result.lines if ln.is_gift]
    assert [(g.product_id, g.quantity, g.net_amount) for g in gifts] == [("B", 2, D("0"))]
    assert result.net_total == D("750.00")

    short = price_cart([line("A", 25, "30")], [gift], ctx(gift_stock={"B": 1}))
    assert [ln.quantity for ln in short.lines if ln.is_gift] == [1]
    assert [w.code for w in short.warnings] == ["gift_stock_short"]

    empty = price_cart([line("A", 25, "30")], [gift], ctx(gift_stock={"B": 0}))
    assert not [ln for ln in empty.lines if ln.is_gift] and empty.applied == []


def test_inclusive_gift_buy_ten_pay_nine():
    gift = promo("G", GIFT, Gift(gift_product="A", step=D(10), step_quantity=1, inclusive=True),
                 scope=Scope(products=frozenset({"A"})))
    result = price_cart([line("A", 25, "30")], [gift], ctx())
    assert result.net_total == D("690.00")  # 23 of 25 paid
    assert not any(ln.is_gift for ln in result.lines)


def test_bundle_price_is_split_by_list_price_ratio():
    bundle = promo("TC", BUNDLE, Bundle(components=(("A", 2), ("B", 1)), price=D(160)))
    result = price_cart([line("A", 2, "50"), line("B", 1, "80")], [bundle], ctx())
    amounts = {ln.product_id: ln.line_amount for ln in result.lines}
    assert amounts == {"A": D("88.89"), "B": D("71.11")}
    assert result.net_total == D("160.00")


def test_bundle_takes_whole_sets_and_leaves_the_rest_at_list_price():
    bundle = promo("TC", BUNDLE, Bundle(components=(("A", 2), ("B", 1)), price=D(160)))
    result = price_cart([line("A", 5, "50"), line("B", 2, "80")], [bundle], ctx())
    assert result.net_total == D("370.00")  # two sets (320) + one A at 50
    assert sum(ln.quantity for ln in result.lines if ln.product_id == "A") == 5


def test_special_price_with_per_dealer_cap():
    special = promo("TJ", SPECIAL_PRICE, SpecialPrice(price=D(42), cap_per_dealer=100))
    result = price_cart([line("A", 120, "50")], [special], ctx())
    assert result.net_total == D("5200.00")
    assert [w.code for w in result.warnings] == ["special_price_cap"]
    # 30 units already bought at the special price this period: only 70 more qualify
    later = price_cart([line("A", 120, "50")], [special], ctx(used_quantities={("TJ", "A"): 30}))
    assert later.net_total == D("70") * 42 + D("50") * 50


def test_tiered_price_whole_and_progressive():
    brackets = ((1, D(50)), (50, D(48)), (100, D(45)))
    whole = promo("JT", TIERED_PRICE, TieredPrice(brackets=brackets, mode="whole"))
    progressive = promo("JT", TIERED_PRICE, TieredPrice(brackets=brackets, mode="progressive"))
    assert price_cart([line("A", 120, "50")], [whole], ctx()).net_total == D("5400.00")
    assert price_cart([line("A", 120, "50")], [progressive], ctx()).net_total == D("5795.00")
    assert price_cart([line("A", 30, "50")], [progressive], ctx()).net_total == D("1500.00")


def test_line_rules_do_not_stack_highest_priority_then_best_price():
    cheap = promo("low", SPECIAL_PRICE, SpecialPrice(price=D(40)), priority=1)
    dear = promo("high", SPECIAL_PRICE, SpecialPrice(price=D(45)), priority=5)
    result = price_cart([line("A", 10, "50")], [cheap, dear], ctx())
    assert result.net_total == D("450.00") and result.lines[0].line_promotion.id == "high"
    same = promo("same", SPECIAL_PRICE, SpecialPrice(price=D(44)), priority=5)
    assert price_cart([line("A", 10, "50")], [dear, same], ctx()).net_total == D("440.00")


def test_full_reduction_skips_special_price_lines_unless_told_otherwise():
    special = promo("TJ", SPECIAL_PRICE, SpecialPrice(price=D(40)),
                    scope=Scope(products=frozenset({"A"})))
    lines = [line("A", 30, "50"), line("B", 25, "50")]
    result = price_cart(lines, [special, tiers_1000_2000()], ctx())
    assert result.net_total == D("1200") + D("1250") - D("50")  # only B's 1,250 counts
    inclusive = promo("MJ", FULL_REDUCTION, FullReduction(tiers=((D(1000), D(50)), (D(2000), D(120))),
                                                         include_promoted_lines=True))
    assert price_cart(lines, [special, inclusive], ctx()).net_total == D("2450") - D("120")


def test_exclusion_group_stackable_flag_and_exclude_list():
    a = promo("A1", FULL_REDUCTION, FullReduction(tiers=((D(100), D(10)),)), priority=2, exclusion_group="g")
    b = promo("B1", FULL_REDUCTION, FullReduction(tiers=((D(100), D(5)),)), priority=1, exclusion_group="g")
    cart = [line("X", 10, "20")]
    assert price_cart(cart, [a, b], ctx()).net_total == D("190.00")
    c = promo("C1", FULL_REDUCTION, FullReduction(tiers=((D(100), D(5)),)), priority=1)
    assert price_cart(cart, [a, c], ctx()).net_total == D("185.00")
    lone = promo("L", FULL_REDUCTION, FullReduction(tiers=((D(100), D(10)),)), priority=3, stackable=False)
    assert price_cart(cart, [lone, c], ctx()).net_total == D("190.00")
    picky = promo("P", FULL_REDUCTION, FullReduction(tiers=((D(100), D(10)),)), priority=3,
                  excludes=frozenset({"C1"}))
    assert price_cart(cart, [picky, c], ctx()).net_total == D("190.00")


def test_gift_threshold_before_or_after_full_reduction():
    cart = [line("A", 21, "50")]  # 1,050 before 满减, 1,000 after 满减 (−50)
    mj = promo("MJ", FULL_REDUCTION, FullReduction(tiers=((D(1000), D(50)),)))

    def gift(basis):
        return promo("G", GIFT, Gift(gift_product="Z", basis=basis, tiers=((D(1050), 1),)))

    assert any(ln.is_gift for ln in price_cart(cart, [mj, gift("amount_before")], ctx()).lines)
    assert not any(ln.is_gift for ln in price_cart(cart, [mj, gift("amount_after")], ctx()).lines)


def test_scope_dates_regions_groups_channels_categories():
    cat = promo("C", FULL_REDUCTION, FullReduction(tiers=((D(100), D(10)),)),
                scope=Scope(categories=frozenset({"drinks"})))
    cart = [line("A", 10, "20", cats={"food", "drinks"}), line("B", 10, "20", cats={"food"})]
    result = price_cart(cart, [cat], ctx())
    assert [bool(ln.allocations) for ln in result.lines] == [True, False]
    elsewhere = promo("R", FULL_REDUCTION, FullReduction(tiers=((D(1), D(1)),)),
                      scope=Scope(regions=frozenset({"south"})))
    expired = promo("E", FULL_REDUCTION, FullReduction(tiers=((D(1), D(1)),)), valid_to=date(2026, 11, 27))
    other_channel = promo("CH", FULL_REDUCTION, FullReduction(tiers=((D(1), D(1)),)),
                          scope=Scope(channels=frozenset({"20"}), dealer_groups=frozenset({"KA"})))
    assert price_cart(cart, [elsewhere, expired, other_channel], ctx()).applied == []


def test_every_line_keeps_its_conditions_for_the_erp():
    special = promo("TJ", SPECIAL_PRICE, SpecialPrice(price=D(45)), scope=Scope(products=frozenset({"A"})))
    mj = promo("MJ", FULL_REDUCTION, FullReduction(tiers=((D(500), D(30)),)))
    result = price_cart([line("A", 10, "50"), line("B", 10, "60")], [special, mj], ctx())
    conditions = {ln.product_id: [(c.promotion_id, c.amount) for c in ln.conditions()] for ln in result.lines}
    assert conditions == {"A": [("TJ", D("50.00"))], "B": [("MJ", D("30.00"))]}
    assert result.discount_total == D("80.00")
