"""Price changes (调价): request, approval outcome, ERP condition records, catalogue prices.

Customer service (who keep the product data) and admins request a change; the sales director
approves it in the ``price_change`` process; the worker writes the condition records to the
ERP (``erp.set_price_conditions``) and, once the ERP has them, the catalogue's PR00 prices
change for the validity period. K004 and K007 records are not copied: the catalogue reads
them from the lines of applied changes (``app.catalog.services.condition_discounts``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, inspect, select

from app.audit.services import record
from app.catalog.models import DealerSalesArea, Product, ProductPrice, ProductSalesArea
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.models import utcnow
from app.dealers.models import Dealer
from app.extensions import db
from app.pricing.models import PriceChange, PriceChangeLine

REQUEST_ROLES = ("admin", "customer_service")
VIEW_ROLES = (*REQUEST_ROLES, "sales_director", "finance")
PROCESS_KEY = "price_change"
OPEN_END = date(9999, 12, 31)
CENT = Decimal("0.01")


# -- reading ------------------------------------------------------------------------------


def list_price_changes(status: str | None = None, limit: int = 200) -> list[PriceChange]:
    stmt = select(PriceChange).order_by(PriceChange.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(PriceChange.status == status)
    return list(db.session.scalars(stmt))


def get_price_change(change_id: int) -> PriceChange:
    change = db.session.get(PriceChange, change_id)
    if change is None:
        raise NotFound(f"Price change {change_id} not found")
    return change


def known_price_lists() -> set[str]:
    """Price lists (PLTYP) in use by dealers or prices, plus the configured ones."""
    used = set(db.session.scalars(select(DealerSalesArea.price_list).distinct()))
    used |= set(db.session.scalars(select(ProductPrice.price_list).distinct()))
    return {p for p in used if p} | set(current_app.config.get("PRICE_LISTS") or ())


def current_prices(keys: set[tuple]) -> dict[tuple, Decimal]:
    """PR00 amount per (product_id, org, channel, price_list, day) valid on that day."""
    if not keys:
        return {}
    product_ids = {k[0] for k in keys}
    rows = defaultdict(list)
    for chunk in _chunks(sorted(product_ids), 900):
        for price in db.session.scalars(select(ProductPrice).where(ProductPrice.product_id.in_(chunk))):
            rows[(price.product_id, price.sales_org, price.distr_chan, price.price_list)].append(price)
    found = {}
    for key in keys:
        day = key[4]
        for price in rows.get(key[:4], ()):
            if price.valid_from <= day <= price.valid_to:
                found[key] = price.amount
    return found


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- creating -----------------------------------------------------------------------------


def create_price_change(data: dict, user, source: str = "manual") -> tuple[PriceChange, bool]:
    """Store a price change and start its approval; (change, created).

    The same ``submit_key`` answers the first change (a double click requests one change).
    Every line is checked first: 422 names each bad field as ``lines.<n>.<field>``.
    """
    existing = db.session.scalar(select(PriceChange).where(PriceChange.submit_key == data["submit_key"]))
    if existing is not None:
        if existing.created_by != user.username:
            raise Conflict("This submit key was already used", code="submit_key_used")
        return existing, False
    lines = resolve_lines(data["lines"])
    change = PriceChange(
        number="pending",
        submit_key=data["submit_key"],
        reason=data["reason"],
        source=source,
        created_by=user.username,
        line_count=len(lines),
    )
    db.session.add(change)
    db.session.flush()
    change.number = f"PC{utcnow():%Y%m%d}{change.id:06d}"
    add_lines(change, lines)
    record(
        user.username,
        "price_change.requested",
        target_type="price_change",
        target_id=change.id,
        details={"number": change.number, "lines": len(lines), "source": source},
    )
    _start_approval(change, user)
    return change, True


def add_lines(change: PriceChange, lines: list[dict]) -> None:
    """Insert resolved lines in bulk (an import may bring tens of thousands)."""
    rows = [
        {"change_id": change.id, "line_no": (n + 1) * 10, "created_at": utcnow(), **ln}
        for n, ln in enumerate(lines)
    ]
    for chunk in _chunks(rows, 2000):
        db.session.execute(PriceChangeLine.__table__.insert(), chunk)
    change.line_count = len(lines)
    db.session.flush()


def resolve_lines(raw_lines: list[dict]) -> list[dict]:
    """Validated input lines → line rows (one per sales area when none is given); 422 per field."""
    products = _products({ln["product_id"] for ln in raw_lines if ln.get("product_id")})
    dealers = _dealers({ln["dealer_id"] for ln in raw_lines if ln.get("dealer_id")})
    price_lists = known_price_lists()
    errors, resolved = {}, []
    for n, ln in enumerate(raw_lines):
        problems, rows = _resolve_line(n, ln, products, dealers, price_lists)
        if problems:
            errors[str(n)] = problems
        resolved += rows
    if errors:
        raise ValidationFailed({"lines": errors})
    _fill_old_and_percent(resolved)
    bad = {
        str(r.pop("_input")): {"percent": ["No current price to change by a percentage"]}
        for r in resolved
        if r["amount"] is None
    }
    if bad:
        raise ValidationFailed({"lines": bad})
    for r in resolved:
        r.pop("_input", None)
        r.pop("_percent", None)
    return resolved


def _products(ids: set[int]) -> dict[int, tuple[Product, list[tuple[str, str]]]]:
    if not ids:
        return {}
    found = {}
    for chunk in _chunks(sorted(ids), 900):
        found |= {p.id: (p, []) for p in db.session.scalars(select(Product).where(Product.id.in_(chunk)))}
    for chunk in _chunks(sorted(found), 900):
        for area in db.session.scalars(
            select(ProductSalesArea)
            .where(ProductSalesArea.product_id.in_(chunk))
            .order_by(ProductSalesArea.id)
        ):
            pair = (area.sales_org, area.distr_chan)
            if pair not in found[area.product_id][1]:
                found[area.product_id][1].append(pair)
    return found


def _dealers(ids: set[int]) -> dict[int, tuple[Dealer, list[tuple[str, str]]]]:
    if not ids:
        return {}
    found = {d.id: (d, []) for d in db.session.scalars(select(Dealer).where(Dealer.id.in_(ids)))}
    for area in db.session.scalars(select(DealerSalesArea).where(DealerSalesArea.dealer_id.in_(found))):
        pair = (area.sales_org, area.distr_chan)
        if pair not in found[area.dealer_id][1]:
            found[area.dealer_id][1].append(pair)
    return found


def _resolve_line(
    n: int, ln: dict, products: dict, dealers: dict, price_lists: set[str]
) -> tuple[dict, list[dict]]:
    kind, problems = ln["condition_type"], {}
    product = dealer = None
    areas: list[tuple[str, str]] = []
    if kind in ("PR00", "K004"):
        if not ln.get("product_id"):
            problems["product_id"] = [f"Required for {kind}"]
        elif ln["product_id"] not in products:
            problems["product_id"] = ["Unknown product"]
        else:
            product, areas = products[ln["product_id"]]
    else:
        if not ln.get("dealer_id"):
            problems["dealer_id"] = ["Required for K007 (a customer discount)"]
        elif ln["dealer_id"] not in dealers:
            problems["dealer_id"] = ["Unknown dealer"]
        else:
            dealer, areas = dealers[ln["dealer_id"]]
            if not dealer.erp_customer_no:
                problems["dealer_id"] = ["The dealer has no ERP customer number yet"]
    price_list = ln.get("price_list") or None
    if price_list and kind != "PR00":
        problems["price_list"] = ["Only PR00 prices belong to a price list"]
    elif price_list and price_list not in price_lists:
        problems["price_list"] = ["Unknown price list"]
    if ln.get("sales_org"):
        wanted = (ln["sales_org"], ln.get("distr_chan") or "10")
        if areas and wanted not in areas:
            problems["sales_org"] = ["Not a sales area of this product or dealer"]
        areas = [wanted]
    elif (product or dealer) and not areas:
        problems["sales_org"] = ["The product or dealer has no sales area"]
    if problems:
        return problems, []
    amount = ln.get("amount")
    if kind == "K007" and amount is not None and amount > 100:
        return {"amount": ["A K007 discount is a percentage of at most 100"]}, []
    rows = [
        {
            "condition_type": kind,
            "product_id": product.id if product else None,
            "material_number": product.material_number if product else None,
            "dealer_id": dealer.id if dealer else None,
            "customer_number": dealer.erp_customer_no if dealer else None,
            "sales_org": org,
            "distr_chan": chan,
            "price_list": price_list,
            "old_amount": None,
            "amount": amount,
            "currency": ln.get("currency") or "CNY",
            "valid_from": ln["valid_from"],
            "valid_to": ln.get("valid_to") or OPEN_END,
            "_percent": ln.get("percent"),
            "_input": n,
        }
        for org, chan in areas
    ]
    return {}, rows


def _fill_old_and_percent(rows: list[dict]) -> None:
    """Old PR00 amount of every line; a percentage change becomes the new amount."""
    keys = {
        (r["product_id"], r["sales_org"], r["distr_chan"], r["price_list"], r["valid_from"])
        for r in rows
        if r["condition_type"] == "PR00"
    }
    old = current_prices(keys)
    for r in rows:
        if r["condition_type"] != "PR00":
            continue
        r["old_amount"] = old.get(
            (r["product_id"], r["sales_org"], r["distr_chan"], r["price_list"], r["valid_from"])
        )
        if r["amount"] is None and r["_percent"] is not None and r["old_amount"] is not None:
            factor = 1 + r["_percent"] / Decimal(100)
            r["amount"] = (r["old_amount"] * factor).quantize(CENT, rounding=ROUND_HALF_UP)


def _start_approval(change: PriceChange, user) -> None:
    from app.engine.services import start_with_data

    instance = start_with_data(
        PROCESS_KEY,
        user,
        {
            "price_change_id": change.id,
            "number": change.number,
            "reason": change.reason,
            "line_count": change.line_count,
            "source": change.source,
        },
        title=f"{change.number} {change.reason[:60]}",
        business_key=change.number,
        subject=("price_change", change.id),
    )
    change.instance_id = instance.id


# -- the process's steps ------------------------------------------------------------------


def _in_instance(change_id: int, instance_id: int | None) -> PriceChange:
    change = get_price_change(change_id)
    if instance_id and change.instance_id != instance_id:
        raise Conflict(f"Price change {change.number} belongs to another approval")
    return change


def apply_decision(
    change_id: int, decision: str, comment: str | None, decided_by: str | None, instance_id
) -> PriceChange:
    """The approver's outcome: ``writing`` (to the ERP next) or ``rejected`` with the reason."""
    change = _in_instance(change_id, instance_id)
    target = "writing" if decision == "approve" else "rejected"
    if change.status == target:
        return change
    if change.status != "pending":
        raise Conflict(f"Price change {change.number} is {change.status}, not waiting for approval")
    change.status, change.decision_comment = target, comment
    change.decided_by, change.decided_at = decided_by, utcnow()
    record(
        decided_by or "system",
        f"price_change.{'approved' if target == 'writing' else 'rejected'}",
        target_type="price_change",
        target_id=change.id,
        instance_id=instance_id,
        details={"number": change.number, "comment": comment},
    )
    return change


def erp_conditions(change: PriceChange) -> list[dict]:
    """``erp.set_price_conditions`` records of every line."""
    return [
        {
            "condition_type": ln.condition_type,
            "sales_org": ln.sales_org,
            "distr_chan": ln.distr_chan,
            "material": ln.material_number,
            "customer_number": ln.customer_number,
            "price_list": ln.price_list,
            "valid_from": ln.valid_from.isoformat(),
            "valid_to": None if ln.valid_to == OPEN_END else ln.valid_to.isoformat(),
            "amount": str(ln.amount),
            "currency": None if ln.condition_type == "K007" else ln.currency,
        }
        for ln in change.lines
    ]


def record_erp_error(change_id: int, message: str, instance_id) -> PriceChange:
    change = _in_instance(change_id, instance_id)
    change.status, change.erp_error = "erp_error", message
    record(
        "worker",
        "price_change.erp_rejected",
        target_type="price_change",
        target_id=change.id,
        instance_id=instance_id,
        details={"number": change.number, "error": message[:500]},
    )
    return change


def resolve_erp_error(
    change_id: int, decision: str, comment: str | None, actor: str | None, instance_id
) -> PriceChange:
    """The requester resubmits the (corrected) change for approval, or cancels it."""
    change = _in_instance(change_id, instance_id)
    target = "pending" if decision == "resubmit" else "cancelled"
    if change.status == target:
        return change
    if change.status != "erp_error":
        raise Conflict(f"Price change {change.number} is {change.status}")
    change.status = target
    change.decided_by = change.decided_at = None
    if target == "cancelled":
        change.decision_comment = comment
    record(
        actor or "system",
        f"price_change.{'resubmitted' if target == 'pending' else 'cancelled'}",
        target_type="price_change",
        target_id=change.id,
        instance_id=instance_id,
        details={"number": change.number, "comment": comment},
    )
    return change


def replace_lines(change: PriceChange, raw_lines: list[dict], user) -> PriceChange:
    """Correct the lines of a change the ERP refused (before resubmitting it)."""
    if change.status != "erp_error":
        raise Conflict(f"Only a price change the ERP refused can be corrected; this one is {change.status}")
    if change.created_by != user.username and not user.has_role("admin"):
        raise NotFound(f"Price change {change.id} not found")
    lines = resolve_lines(raw_lines)
    db.session.execute(PriceChangeLine.__table__.delete().where(PriceChangeLine.change_id == change.id))
    db.session.expire(change, ["lines"])
    add_lines(change, lines)
    record(
        user.username,
        "price_change.corrected",
        target_type="price_change",
        target_id=change.id,
        details={"number": change.number, "lines": len(lines)},
    )
    return change


def apply_to_catalogue(change_id: int, instance_id) -> PriceChange:
    """The ERP holds the records: the catalogue's PR00 prices change for their periods."""
    change = _in_instance(change_id, instance_id)
    if change.status == "applied":
        return change
    if change.status != "writing":
        raise Conflict(f"Price change {change.number} is {change.status}, not being written")
    pr00 = [ln for ln in change.lines if ln.condition_type == "PR00"]
    existing = defaultdict(list)
    for chunk in _chunks(sorted({ln.product_id for ln in pr00}), 900):
        for price in db.session.scalars(select(ProductPrice).where(ProductPrice.product_id.in_(chunk))):
            existing[(price.product_id, price.sales_org, price.distr_chan, price.price_list)].append(price)
    for ln in pr00:
        key = (ln.product_id, ln.sales_org, ln.distr_chan, ln.price_list)
        existing[key] = _cut(existing[key], ln.valid_from, ln.valid_to)
        price = ProductPrice(
            product_id=ln.product_id,
            sales_org=ln.sales_org,
            distr_chan=ln.distr_chan,
            price_list=ln.price_list,
            amount=ln.amount,
            currency=ln.currency,
            valid_from=ln.valid_from,
            valid_to=ln.valid_to,
            source="change",
        )
        db.session.add(price)
        existing[key].append(price)
    change.status, change.applied_at = "applied", utcnow()
    db.session.flush()
    record(
        "worker",
        "price_change.applied",
        target_type="price_change",
        target_id=change.id,
        instance_id=instance_id,
        details={"number": change.number, "catalogue_prices": len(pr00)},
    )
    return change


def _cut(prices: list[ProductPrice], start: date, end: date) -> list[ProductPrice]:
    """Existing prices of one key lose the part of their validity [start, end] takes (as VK11)."""
    day, kept = timedelta(days=1), []
    for old in prices:
        if old.valid_to < start or old.valid_from > end:
            kept.append(old)
            continue
        if old.valid_to > end:
            tail = ProductPrice(
                product_id=old.product_id,
                sales_org=old.sales_org,
                distr_chan=old.distr_chan,
                price_list=old.price_list,
                amount=old.amount,
                currency=old.currency,
                valid_from=end + day,
                valid_to=old.valid_to,
                source=old.source,
            )
            db.session.add(tail)
            kept.append(tail)
        if old.valid_from < start:
            old.valid_to = start - day
            kept.append(old)
        elif inspect(old).pending:
            db.session.expunge(old)  # a tail cut off by an earlier line of this change
        else:
            db.session.delete(old)
    return kept


def counts_by_status() -> dict[str, int]:
    return dict(
        db.session.execute(select(PriceChange.status, func.count()).group_by(PriceChange.status)).all()
    )
