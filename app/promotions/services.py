"""Promotion services: define, send for approval, go live; price a dealer's cart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.audit.services import record
from app.catalog import services as catalog
from app.catalog.models import DealerSalesArea, Product
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import utcnow
from app.dealers.models import Dealer
from app.extensions import db
from app.promotions import engine, rules
from app.promotions.models import GiftStock, Promotion, PromotionUsage
from app.promotions.schemas import RULE_SCHEMAS

MANAGE_ROLES = ("marketing", "admin")
APPROVAL_PROCESS = "promotion_approval"


# -- definitions ------------------------------------------------------------------------


def _normalised_rule(kind: str, raw: dict) -> dict:
    schema = RULE_SCHEMAS[kind]()
    return schema.dump(schema.load(raw))


def _check_products(data: dict) -> None:
    """Every product the rule or the scope names must exist; 422 names the part that is wrong."""
    rule, scope = data["rule"], data.get("scope") or {}
    named = {
        "rule": {c["product_id"] for c in rule.get("components", [])}
        | ({rule["gift_product_id"]} if rule.get("gift_product_id") else set()),
        "scope": set(scope.get("products", [])) | set(scope.get("exclude_products", [])),
    }
    wanted = named["rule"] | named["scope"]
    known = set(db.session.scalars(select(Product.id).where(Product.id.in_(wanted)))) if wanted else set()
    errors = {
        part: [f"Unknown products: {sorted(ids - known)}"] for part, ids in named.items() if ids - known
    }
    if errors:
        raise ValidationFailed(errors)


def create_promotion(data: dict, user) -> Promotion:
    """Save a draft promotion (nothing is live until approved)."""
    if db.session.scalar(select(Promotion.id).where(Promotion.code == data["code"])):
        raise ValidationFailed({"code": ["This code is taken"]})
    data = dict(data, rule=_normalised_rule(data["kind"], data["rule"]))
    _check_products(data)
    promotion = Promotion(**data, status="draft", created_by=user.username)
    db.session.add(promotion)
    db.session.flush()
    record(
        user.username,
        "promotion.created",
        target_type="promotion",
        target_id=promotion.id,
        details={"code": promotion.code, "kind": promotion.kind},
    )
    return promotion


def update_promotion(promotion: Promotion, data: dict, user) -> Promotion:
    """Change a draft or rejected promotion; one under approval or live answers 409."""
    if promotion.status not in ("draft", "rejected"):
        raise Conflict(
            f"Promotion {promotion.code} is {promotion.status}; only drafts change", code="promotion_locked"
        )
    if data["code"] != promotion.code and db.session.scalar(
        select(Promotion.id).where(Promotion.code == data["code"])
    ):
        raise ValidationFailed({"code": ["This code is taken"]})
    data = dict(data, rule=_normalised_rule(data["kind"], data["rule"]))
    _check_products(data)
    for key, value in data.items():
        setattr(promotion, key, value)
    promotion.status = "draft"
    db.session.flush()
    record(
        user.username,
        "promotion.updated",
        target_type="promotion",
        target_id=promotion.id,
        details={"code": promotion.code},
    )
    return promotion


def get_promotion(promotion_id: int) -> Promotion:
    return Promotion.get_or_404(promotion_id, "Promotion")


def list_promotions(status: str | None = None) -> list[Promotion]:
    stmt = select(Promotion).order_by(Promotion.id.desc())
    if status:
        stmt = stmt.where(Promotion.status == status)
    return list(db.session.scalars(stmt))


def submit_promotion(promotion: Promotion, user) -> Promotion:
    """Send a draft for approval: starts ``promotion_approval`` with the promotion's facts."""
    from app.engine.services import start_with_data

    if promotion.status not in ("draft", "rejected"):
        raise Conflict(
            f"Promotion {promotion.code} is already {promotion.status}", code="promotion_not_draft"
        )
    summary = {
        "promotion_id": promotion.id,
        "code": promotion.code,
        "name": promotion.name_zh,
        "kind": promotion.kind,
        "valid_from": promotion.valid_from,
        "valid_to": promotion.valid_to,
        "rule": promotion.rule,
        "scope": promotion.scope,
    }
    instance = start_with_data(
        APPROVAL_PROCESS,
        user,
        summary,
        title=f"{promotion.code} {promotion.name_zh}",
        business_key=f"promotion:{promotion.id}:{utcnow():%Y%m%d%H%M%S}",
        subject=("promotion", promotion.id),
    )
    promotion.status, promotion.instance_id = "pending", instance.id
    promotion.decided_by = promotion.decided_at = promotion.decision_comment = None
    db.session.flush()
    record(
        user.username,
        "promotion.submitted",
        target_type="promotion",
        target_id=promotion.id,
        instance_id=instance.id,
        details={"code": promotion.code},
    )
    return promotion


def apply_decision(
    promotion_id: int, decision: str, comment: str | None, decided_by: str | None, instance_id: int | None
) -> Promotion:
    """The approval's outcome: active (live from its start date) or rejected. Idempotent."""
    promotion = get_promotion(promotion_id)
    target = "active" if decision == "approve" else "rejected"
    if promotion.status == target and promotion.instance_id == instance_id:
        return promotion
    if promotion.status != "pending" or promotion.instance_id != instance_id:
        raise Conflict(f"Promotion {promotion.code} is not waiting for this approval")
    promotion.status, promotion.decision_comment = target, comment
    promotion.decided_by, promotion.decided_at = decided_by, utcnow()
    db.session.flush()
    record(
        decided_by or "system",
        f"promotion.{'approved' if target == 'active' else 'rejected'}",
        target_type="promotion",
        target_id=promotion.id,
        instance_id=instance_id,
        details={"code": promotion.code, "comment": comment},
    )
    return promotion


# -- pricing ----------------------------------------------------------------------------


def _to_engine(row: Promotion) -> rules.Promotion:
    r, s = row.rule, row.scope or {}
    d = Decimal
    if row.kind == rules.FULL_REDUCTION:
        rule = rules.FullReduction(
            tiers=tuple((d(t["threshold"]), d(t["discount"])) for t in r.get("tiers", [])),
            step=d(r["step"]) if r.get("step") else None,
            step_discount=d(r["step_discount"]) if r.get("step_discount") else None,
            cap=d(r["cap"]) if r.get("cap") else None,
            include_promoted_lines=bool(r.get("include_promoted_lines")),
        )
    elif row.kind == rules.GIFT:
        rule = rules.Gift(
            gift_product=r["gift_product_id"],
            basis=r.get("basis", "quantity"),
            tiers=tuple((d(t["threshold"]), int(t["quantity"])) for t in r.get("tiers", [])),
            step=d(r["step"]) if r.get("step") else None,
            step_quantity=r.get("step_quantity"),
            cap=r.get("cap"),
            inclusive=bool(r.get("inclusive")),
        )
    elif row.kind == rules.SPECIAL_PRICE:
        rule = rules.SpecialPrice(price=d(r["price"]), cap_per_dealer=r.get("cap_per_dealer"))
    elif row.kind == rules.TIERED_PRICE:
        rule = rules.TieredPrice(
            brackets=tuple((b["min_quantity"], d(b["price"])) for b in r["brackets"]),
            mode=r.get("mode", "whole"),
        )
    else:
        rule = rules.Bundle(
            components=tuple((c["product_id"], c["quantity"]) for c in r["components"]), price=d(r["price"])
        )
    scope = rules.Scope(
        products=frozenset(s.get("products", [])),
        categories=frozenset(s.get("categories", [])),
        exclude_products=frozenset(s.get("exclude_products", [])),
        regions=frozenset(s.get("regions", [])),
        dealer_groups=frozenset(s.get("dealer_groups", [])),
        channels=frozenset(s.get("channels", [])),
    )
    return rules.Promotion(
        row.code,
        row.name_zh,
        row.kind,
        rule,
        scope,
        row.priority,
        row.exclusion_group,
        row.stackable,
        frozenset(row.excludes or []),
        row.valid_from,
        row.valid_to,
    )


def live_promotions(on: date) -> list[Promotion]:
    return list(
        db.session.scalars(
            select(Promotion).where(
                Promotion.status == "active", Promotion.valid_from <= on, Promotion.valid_to >= on
            )
        )
    )


def dealer_context(dealer: Dealer, live: list[Promotion], on: date) -> rules.DealerContext:
    area = db.session.scalar(
        select(DealerSalesArea)
        .where(DealerSalesArea.dealer_id == dealer.id)
        .order_by(DealerSalesArea.id)
        .limit(1)
    )
    gift_ids = {p.rule["gift_product_id"] for p in live if p.kind == rules.GIFT}
    # A gift product without a stock row has none left: gifts are never promised blindly.
    stock = dict.fromkeys(gift_ids, 0)
    if gift_ids:
        stock.update(
            {
                row.product_id: row.quantity
                for row in db.session.scalars(select(GiftStock).where(GiftStock.product_id.in_(gift_ids)))
            }
        )
    capped = {p.id: p.code for p in live if p.kind == rules.SPECIAL_PRICE and p.rule.get("cap_per_dealer")}
    used = {}
    if capped:
        for row in db.session.execute(
            select(PromotionUsage.promotion_id, PromotionUsage.product_id, func.sum(PromotionUsage.quantity))
            .where(PromotionUsage.dealer_id == dealer.id, PromotionUsage.promotion_id.in_(capped))
            .group_by(PromotionUsage.promotion_id, PromotionUsage.product_id)
        ):
            used[(capped[row[0]], row[1])] = int(row[2])
    return rules.DealerContext(
        dealer.id,
        on,
        region=dealer.region,
        dealer_group=area.customer_group if area else None,
        channel=area.distr_chan if area else None,
        used_quantities=used,
        gift_stock=stock,
    )


def cart_lines(
    user, lines: list[dict], on: date
) -> tuple[list[rules.CartLine], dict[int, Product], dict[int, catalog.DealerPrice]]:
    """Check a dealer's lines (available to it, priced, whole order multiples) → cart lines.

    A line's unit price is the dealer's net price (PR00 less its K004/K007 records, as the ERP
    prices it); promotions apply on top of it.

    Every bad line is reported at once, keyed by its position: ``{"lines": {"2": {...}}}``.
    """
    ids = [line["product_id"] for line in lines]
    visible = {
        p.id: p
        for p in db.session.scalars(
            select(Product).where(Product.id.in_(ids), *catalog.visibility_filters(user))
        )
    }
    prices = catalog.prices_for_dealer(user.dealer_id, list(visible), on)
    errors, out = {}, []
    for i, line in enumerate(lines):
        product, qty = visible.get(line["product_id"]), line["quantity"]
        problem = None
        if product is None:
            problem = {"product_id": ["This product is not available to you"]}
        elif product.id not in prices:
            problem = {"product_id": ["This product has no price for you yet"]}
        elif qty <= 0:
            problem = {"quantity": ["Must be at least 1"]}
        elif qty % product.order_multiple:
            problem = {"quantity": [f"Must be a multiple of {product.order_multiple} {product.sales_unit}"]}
        if problem:
            errors[str(i)] = problem
            continue
        categories = frozenset(int(x) for x in product.category_path.strip("/").split("/") if x)
        out.append(rules.CartLine(product.id, qty, prices[product.id].amount, categories))
    if errors:
        raise ValidationFailed({"lines": errors})
    return out, visible, prices


def priced_cart(
    user, lines: list[dict], on: date | None = None
) -> tuple[engine.PricingResult, dict[int, catalog.DealerPrice]]:
    """The cart priced with promotions, and the dealer prices (PR00, K004, K007) it started from."""
    if not catalog.is_dealer_user(user):
        raise Forbidden("Only dealers price a cart")
    on = on or date.today()
    dealer = db.session.get(Dealer, user.dealer_id)
    if dealer is None:
        raise NotFound("Dealer not found")
    cart, _, prices = cart_lines(user, lines, on)
    live = live_promotions(on)
    result = engine.price_cart(cart, [_to_engine(p) for p in live], dealer_context(dealer, live, on))
    return result, prices


def price_for_dealer(user, lines: list[dict], on: date | None = None) -> engine.PricingResult:
    return priced_cart(user, lines, on)[0]


def condition_discount(ln: engine.PricedLine, price: catalog.DealerPrice | None) -> Decimal:
    """What the line's K004/K007 records take off its PR00 list value."""
    if ln.is_gift or price is None or not price.has_discount:
        return Decimal("0")
    return rules.money((price.list_price - ln.list_unit_price) * ln.quantity)


def list_total(result: engine.PricingResult, prices: dict[int, catalog.DealerPrice]) -> Decimal:
    """The cart at PR00 list prices (before K004/K007 and promotions)."""
    return result.list_total + sum(
        (condition_discount(ln, prices.get(ln.product_id)) for ln in result.lines), Decimal("0")
    )


def preview(user, lines: list[dict], locale: str = "zh_CN") -> dict:
    """Price a cart live: lines (list price, K004/K007, promotions), gifts, totals and warnings."""
    result, prices = priced_cart(user, lines)
    ids = {ln.product_id for ln in result.lines}
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}

    def row(ln: engine.PricedLine) -> dict:
        product, price = products.get(ln.product_id), prices.get(ln.product_id)
        return {
            "product_id": ln.product_id,
            "material_number": product.material_number if product else "",
            "name": product.label(locale) if product else "",
            "quantity": ln.quantity,
            "unit_price": ln.list_unit_price,
            "list_price": price.list_price if price and not ln.is_gift else ln.list_unit_price,
            "material_discount": price.material_discount if price and not ln.is_gift else Decimal("0"),
            "customer_discount_percent": (
                price.customer_discount_percent if price and not ln.is_gift else Decimal("0")
            ),
            "condition_discount": condition_discount(ln, price),
            "list_amount": ln.list_amount,
            "line_amount": ln.line_amount,
            "net_amount": ln.net_amount,
            "is_gift": ln.is_gift,
            "line_promotion": ln.line_promotion.id if ln.line_promotion else None,
            "discounts": [
                {"promotion": c.promotion_id, "kind": c.kind, "amount": c.amount} for c in ln.conditions()
            ],
        }

    at_list = list_total(result, prices)
    return {
        "lines": [row(ln) for ln in result.lines if not ln.is_gift],
        "gifts": [row(ln) for ln in result.lines if ln.is_gift],
        "promotions": [
            {
                "code": a.id,
                "name": a.name,
                "kind": a.kind,
                "discount": a.discount,
                "gift_product_id": a.gift_product,
                "gift_quantity": a.gift_quantity,
            }
            for a in result.applied
        ],
        "list_total": at_list,
        "condition_discount_total": at_list - result.list_total,
        "discount_total": at_list - result.net_total,
        "net_total": result.net_total,
        "warnings": [
            {"code": w.code, "promotion": w.promotion_id, "message": w.message} for w in result.warnings
        ],
    }
