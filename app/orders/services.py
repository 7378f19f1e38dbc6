"""Order services: submit a priced, idempotent order; split it; what each caller may see."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from app.audit.services import record
from app.catalog import services as catalog
from app.catalog.models import Product
from app.core.errors import Conflict, Forbidden, NotFound
from app.dealers.models import Dealer
from app.extensions import db
from app.orders.models import OrderEvent, OrderLine, OrderPart, SalesOrder
from app.promotions import services as pricing
from app.promotions.models import GiftStock, Promotion, PromotionUsage
from app.promotions.rules import CENT, LINE_KINDS, SPECIAL_PRICE

APPROVAL_PROCESS = "order_approval"
STAFF_ROLES = ("admin", "customer_service", "finance", "sales_director")
# Orders whose amount the ERP does not know yet: they count against the dealer's credit here.
NOT_IN_ERP = ("submitted", "returned", "credit_blocked", "approved")
ZERO = Decimal("0")


def _dealer_of(user) -> Dealer:
    if not catalog.is_dealer_user(user):
        raise Forbidden("Only dealers place orders")
    dealer = db.session.get(Dealer, user.dealer_id)
    if dealer is None or dealer.status != "active":
        raise Forbidden("Your dealer account is not active")
    return dealer


def event(order: SalesOrder, kind: str, actor: str | None = None, note: str | None = None, **details) -> None:
    order.events.append(OrderEvent(kind=kind, actor=actor, note=note, details=details))


def submit_order(user, data: dict) -> tuple[SalesOrder, bool]:
    """Price and store the dealer's order and start its approval; (order, created).

    The same ``submit_key`` returns the first order (a double click places one order). When
    ``expected_net_total`` no longer matches the price now, nothing is stored: 409 with the
    new figures, and the dealer confirms again.
    """
    dealer = _dealer_of(user)
    existing = db.session.scalar(
        select(SalesOrder).where(
            SalesOrder.dealer_id == dealer.id, SalesOrder.submit_key == data["submit_key"]
        )
    )
    if existing is not None:
        return existing, False
    today = date.today()
    result, prices = pricing.priced_cart(user, data["lines"], today)
    expected = data.get("expected_net_total")
    if expected is not None and Decimal(expected) != result.net_total:
        raise Conflict(
            "Prices or promotions changed since your cart was priced; please confirm again",
            code="pricing_changed",
            details={"pricing": {"net_total": str(result.net_total), "expected_net_total": str(expected)}},
        )
    order = SalesOrder(
        number="pending",
        dealer_id=dealer.id,
        submit_key=data["submit_key"],
        list_total=pricing.list_total(result, prices),
        discount_total=pricing.list_total(result, prices) - result.net_total,
        net_total=result.net_total,
        ship_to=data.get("ship_to"),
        requested_date=data.get("requested_date"),
        remark=data.get("remark"),
        created_by=user.username,
        promotions=[
            {
                "code": a.id,
                "name": a.name,
                "kind": a.kind,
                "discount": str(a.discount),
                "gift_product_id": a.gift_product,
                "gift_quantity": a.gift_quantity,
            }
            for a in result.applied
        ],
    )
    _add_lines(order, user, result, prices)
    _consume_gifts(order)
    _count_usage(dealer, result.usage)
    db.session.add(order)
    db.session.flush()
    order.number = f"SO{today:%Y%m%d}{order.id:06d}"
    event(order, "submitted", user.username, net_total=str(order.net_total))
    db.session.flush()
    record(
        user.username,
        "order.submitted",
        target_type="order",
        target_id=order.id,
        dealer_id=dealer.id,
        details={"number": order.number, "net_total": str(order.net_total)},
    )
    _start_approval(order, dealer, user)
    return order, True


def _add_lines(order: SalesOrder, user, result, prices: dict) -> None:
    ids = {ln.product_id for ln in result.lines}
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}
    areas = catalog.dealer_areas(user.dealer_id)
    missing = [pid for pid in ids if pid not in prices]  # gifts of products not in the cart
    if missing:
        prices = prices | catalog.prices_for_dealer(user.dealer_id, missing, areas=areas)
    # The price list is the dealer's (SAP: PLTYP per customer and sales area), whichever
    # condition record priced the line.
    lists = {(a.sales_org, a.distr_chan, a.division): a.price_list for a in areas}
    for no, ln in enumerate(result.lines, start=1):
        product, price = products[ln.product_id], prices.get(ln.product_id)
        key = (
            (price.sales_org, price.distr_chan, price.division)
            if price
            else (areas[0].sales_org, areas[0].distr_chan, areas[0].division)
        )
        area = (*key, lists.get(key))
        promo = ln.line_promotion
        priced = None if ln.is_gift else price
        order.lines.append(
            OrderLine(
                line_no=no * 10,
                product_id=product.id,
                material_number=product.material_number,
                name=product.name_zh,
                quantity=ln.quantity,
                sales_unit=product.sales_unit,
                unit_price=ln.list_unit_price,
                list_price=ZERO if ln.is_gift else (price.list_price if price else ln.list_unit_price),
                material_discount=priced.material_discount if priced else ZERO,
                customer_discount_percent=priced.customer_discount_percent if priced else ZERO,
                list_amount=ln.list_amount + pricing.condition_discount(ln, price),
                line_amount=ln.line_amount,
                net_amount=ln.net_amount,
                is_gift=ln.is_gift,
                line_promotion=promo.id if promo else None,
                line_promotion_kind=promo.kind if promo else None,
                plant=product.plant,
                discounts=[
                    {"promotion": c.promotion_id, "kind": c.kind, "amount": str(c.amount)}
                    for c in ln.conditions()
                ],
                sales_org=area[0],
                distr_chan=area[1],
                division=area[2],
                price_list=area[3],
            )
        )


def _consume_gifts(order: SalesOrder) -> None:
    """Take the gift units from stock with a guarded update: never below zero, even in a race."""
    for line in order.lines:
        if not line.is_gift:
            continue
        taken = db.session.execute(
            update(GiftStock)
            .where(GiftStock.product_id == line.product_id, GiftStock.quantity >= line.quantity)
            .values(quantity=GiftStock.quantity - line.quantity)
        )
        if taken.rowcount != 1:
            raise Conflict(
                "The gift stock ran out while you ordered; please confirm again", code="gift_stock_exhausted"
            )


def _count_usage(dealer: Dealer, usage: dict) -> None:
    if not usage:
        return
    codes = {code for code, _ in usage}
    ids = dict(
        db.session.execute(select(Promotion.code, Promotion.id).where(Promotion.code.in_(codes))).all()
    )
    for (code, product_id), units in usage.items():
        row = db.session.scalar(
            select(PromotionUsage).where(
                PromotionUsage.promotion_id == ids[code],
                PromotionUsage.dealer_id == dealer.id,
                PromotionUsage.product_id == product_id,
            )
        )
        if row is None:
            db.session.add(
                PromotionUsage(
                    promotion_id=ids[code], dealer_id=dealer.id, product_id=product_id, quantity=units
                )
            )
        else:
            row.quantity += units


def _start_approval(order: SalesOrder, dealer: Dealer, user) -> None:
    from app.engine.services import start_with_data

    instance = start_with_data(
        APPROVAL_PROCESS,
        user,
        {
            "order_id": order.id,
            "order_number": order.number,
            "dealer_id": dealer.id,
            "dealer_code": dealer.code,
            "dealer_name": dealer.name,
            "customer_number": dealer.erp_customer_no,
            "net_total": order.net_total,
            "region": dealer.region,
        },
        title=f"{order.number} {dealer.name}",
        business_key=order.number,
        subject=("order", order.id),
        region=dealer.region,
    )
    order.instance_id = instance.id


# -- splitting ---------------------------------------------------------------------------


def order_type_of(line: OrderLine) -> tuple[str, bool]:
    """(ERP order type, needs shipment approval): free goods and special prices are checked."""
    if line.is_gift:
        return "ZFD", True
    if line.line_promotion_kind == SPECIAL_PRICE:
        return "ZSP", True
    return "ZOR", False


def split_order(order: SalesOrder) -> list[OrderPart]:
    """One part per sales area, price list and order type; idempotent (a retry keeps them)."""
    if order.parts:
        return order.parts
    groups: dict[tuple, list[OrderLine]] = defaultdict(list)
    for line in order.lines:
        order_type, _ = order_type_of(line)
        groups[(line.sales_org, line.distr_chan, line.division, line.price_list, order_type)].append(line)
    for no, (key, lines) in enumerate(
        sorted(groups.items(), key=lambda kv: tuple(x or "" for x in kv[0])), 1
    ):
        org, chan, div, price_list, order_type = key
        for line in lines:
            line.part_no = no
        order.parts.append(
            OrderPart(
                part_no=no,
                sales_org=org,
                distr_chan=chan,
                division=div,
                price_list=price_list,
                order_type=order_type,
                needs_shipment_approval=order_type != "ZOR",
                purch_no=f"{order.number}-{no}",
                net_total=sum((ln.net_amount for ln in lines), Decimal("0")),
            )
        )
    db.session.flush()
    event(order, "split", "worker", parts=len(order.parts))
    return order.parts


def part_payload(order: SalesOrder, part: OrderPart, customer_number: str, doc_types: dict) -> dict:
    """``erp.create_sales_order`` parameters for one part.

    Each item carries its pricing as condition records (ERP-NOTES §5, ``ORDER_CONDITIONS_IN``):
    PR00 the dealer's price-list price, or the promotion's unit price when a special price,
    tiered price or bundle gives the whole line one price in cents (a PR00 override); every
    other promotion allocation on the line (满减 shares, a capped special price, an inclusive
    gift) is one RB00 absolute discount of its allocated amount. Gifts are free-of-charge items
    (TANN) without conditions. So the ERP's net value of the part equals the platform's.
    ``doc_types`` maps the platform's order type to the ERP's (ERP_ORDER_TYPES).
    """
    lines = [ln for ln in order.lines if ln.part_no == part.part_no]
    items, conditions = [], []
    for ln in lines:
        item_no = str(ln.line_no)
        items.append(
            {
                "item_number": item_no,
                "material": ln.material_number,
                "quantity": ln.quantity,
                "unit": ln.sales_unit,
                "plant": ln.plant,
                "item_category": "TANN" if ln.is_gift else None,
            }
        )
        if not ln.is_gift:
            conditions += item_conditions(ln)
    return {
        "purchase_order_number": part.purch_no,
        "customer_number": customer_number,
        "doc_type": doc_types.get(part.order_type, part.order_type),
        "sales_org": part.sales_org,
        "distr_chan": part.distr_chan,
        "division": part.division,
        "ship_to": None,
        "requested_date": order.requested_date.isoformat() if order.requested_date else None,
        "items": items,
        "conditions": conditions,
    }


def item_conditions(line: OrderLine) -> list[dict]:
    """ERP condition records of one priced order line (see ``part_payload``).

    The ERP prices an item PR00 → K004 (amount off per unit) → K007 (percent off), rounded to
    the cent per unit, then subtracts RB00 amounts: the platform's dealer price follows the
    same steps. K004 and K007 always go with the order (0 when none applies, or when a line
    promotion's price replaces the whole price), so the ERP never adds a record of its own.
    """
    item_no = str(line.line_no)
    with_conditions = line.list_price is not None
    price = line.list_price if with_conditions else line.unit_price
    off = line.material_discount or ZERO
    percent = line.customer_discount_percent or ZERO
    discounts = []
    for allocation in line.discounts or []:
        amount = Decimal(allocation["amount"])
        if amount <= 0:
            continue
        unit = line.line_amount / line.quantity if line.quantity else None
        if allocation["kind"] in LINE_KINDS and unit is not None and unit == unit.quantize(CENT):
            # the line's promotion price replaces the dealer price (PR00 override, no K004/K007)
            price, off, percent = unit.quantize(CENT), ZERO, ZERO
            continue
        discounts.append(amount)
    rows = [{"item_number": item_no, "type": "PR00", "value": str(price)}]
    if with_conditions:
        rows += [
            {"item_number": item_no, "type": "K004", "value": str(off)},
            {"item_number": item_no, "type": "K007", "value": str(percent)},
        ]
    rows += [{"item_number": item_no, "type": "RB00", "value": str(amount)} for amount in discounts]
    return rows


def pending_exposure(dealer_id: int, exclude_order_id: int | None = None) -> Decimal:
    """Net value of this dealer's orders the ERP does not hold yet."""
    stmt = select(func.coalesce(func.sum(SalesOrder.net_total), 0)).where(
        SalesOrder.dealer_id == dealer_id, SalesOrder.status.in_(NOT_IN_ERP)
    )
    if exclude_order_id is not None:
        stmt = stmt.where(SalesOrder.id != exclude_order_id)
    return Decimal(db.session.scalar(stmt) or 0)


# -- reading -----------------------------------------------------------------------------


def _visible_dealer_ids(user) -> list[int] | None:
    """Dealer ids the caller may see orders of; None means every dealer."""
    if catalog.is_dealer_user(user):
        children = db.session.scalars(select(Dealer.id).where(Dealer.parent_id == user.dealer_id))
        return [user.dealer_id, *children]
    if user.has_role(*STAFF_ROLES):
        return None
    if user.has_role("regional_manager") and user.region:
        return list(db.session.scalars(select(Dealer.id).where(Dealer.region == user.region)))
    raise Forbidden("Your role may not see orders")


def list_orders(user, status: str | None = None, limit: int = 100) -> list[SalesOrder]:
    ids = _visible_dealer_ids(user)
    stmt = select(SalesOrder).options(selectinload(SalesOrder.parts)).order_by(
        SalesOrder.id.desc()).limit(limit)
    if ids is not None:
        stmt = stmt.where(SalesOrder.dealer_id.in_(ids))
    if status:
        stmt = stmt.where(SalesOrder.status == status)
    return list(db.session.scalars(stmt))


def search_orders(user, *, status: str | None = None, dealer_id: int | None = None,
                  region: str | None = None, date_from: date | None = None,
                  date_to: date | None = None, page: int = 1, per_page: int = 50
                  ) -> tuple[list[SalesOrder], int]:
    """One page of the orders the caller may see, filtered; (rows, total matching)."""
    from datetime import datetime, time

    ids = _visible_dealer_ids(user)
    where = []
    if ids is not None:
        where.append(SalesOrder.dealer_id.in_(ids))
    if status:
        where.append(SalesOrder.status == status)
    if dealer_id:
        where.append(SalesOrder.dealer_id == dealer_id)
    if region:
        where.append(SalesOrder.dealer_id.in_(select(Dealer.id).where(Dealer.region == region)))
    if date_from:
        where.append(SalesOrder.created_at >= datetime.combine(date_from, time.min))
    if date_to:
        where.append(SalesOrder.created_at < datetime.combine(date_to, time.min) + timedelta(days=1))
    total = db.session.scalar(select(func.count(SalesOrder.id)).where(*where)) or 0
    rows = db.session.scalars(
        select(SalesOrder).options(selectinload(SalesOrder.parts)).where(*where)
        .order_by(SalesOrder.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


def get_order_for(order_id: int, user) -> SalesOrder:
    """The order, or 404 when the caller may not see it (another dealer's id says nothing)."""
    order = db.session.get(SalesOrder, order_id)
    ids = _visible_dealer_ids(user)
    if order is None or (ids is not None and order.dealer_id not in ids):
        raise NotFound(f"Order {order_id} not found")
    return order


def find_order(order_id: int) -> SalesOrder:
    return SalesOrder.get_or_404(order_id, "Order")


def search_by_erp_number(erp_number: str) -> OrderPart | None:
    return db.session.scalar(select(OrderPart).where(OrderPart.erp_order_number == erp_number))


EXPOSURE_PARTS = ("open_orders", "open_deliveries", "open_billing", "receivables")


def exposure_split(status: dict) -> dict:
    """The ERP's exposure by kind (SAP's credit exposure categories) from a credit status."""
    return {part: Decimal(str(status.get(part) or "0")) for part in EXPOSURE_PARTS}


def credit_for(user, config) -> dict:
    """Limit, exposure and available credit: live from the ERP, plus orders not yet there.

    A live answer refreshes the dealer's credit cache. When the ERP cannot answer, the cached
    figures are shown with their fetch time (``source: cache``, ``as_of``); with nothing cached,
    the dealer master's limit with the platform's own open orders (``source: dealer_master``)
    so nobody mistakes either for a live ERP figure.
    """
    from app.erp import credit as credit_cache
    from connectors.registry import BusinessError, CallContext, ConnectorError, registry

    dealer = _dealer_of(user)
    pending = pending_exposure(dealer.id)
    op = registry.get("erp.get_credit_status")
    if dealer.erp_customer_no and op is not None:
        try:
            erp = op.fn(
                op.load_params({"customer_number": dealer.erp_customer_no}),
                CallContext(idempotency_key=f"credit-read:{dealer.id}", instance_id=0, actor=user.username),
            )
        except (ConnectorError, BusinessError):
            erp = None
        if erp is not None:
            fetched_at = credit_cache.remember_now(dealer.id, erp)
            limit, exposure = Decimal(erp["credit_limit"]), Decimal(erp["total_exposure"])
            return {
                "customer_number": dealer.erp_customer_no,
                "currency": erp["currency"],
                "credit_limit": limit,
                "erp_exposure": exposure,
                "platform_pending": pending,
                "available": limit - exposure - pending,
                "exposure_split": exposure_split(erp),
                "source": "erp",
                "as_of": fetched_at,
            }
        row = credit_cache.cached(dealer.id)
        if row is not None:
            return {
                "customer_number": dealer.erp_customer_no,
                "currency": row.currency,
                "credit_limit": row.credit_limit,
                "erp_exposure": row.total_exposure,
                "platform_pending": pending,
                "available": row.credit_limit - row.total_exposure - pending,
                "exposure_split": exposure_split(credit_cache.as_status(row)),
                "source": "cache",
                "as_of": row.fetched_at,
            }
    limit = dealer.credit_limit or Decimal("0")
    return {
        "customer_number": dealer.erp_customer_no,
        "currency": "CNY",
        "credit_limit": limit,
        "erp_exposure": Decimal("0"),
        "platform_pending": pending,
        "available": limit - pending,
        "exposure_split": None,
        "source": "dealer_master",
        "as_of": None,
    }
