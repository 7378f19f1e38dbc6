"""Excel import of base prices (openpyxl), run in the background by the worker.

The workbook's first sheet has a header row and one price per row: product code, price list,
amount, currency, valid from, valid to, and optionally sales organisation and channel (when
not given, the price applies in every sales area the product is sold in). Every row is checked
and every problem is kept as (row, column, reason). Policy ``all_or_nothing`` (the default)
applies nothing when any row is bad; ``good_rows`` goes on with the good rows. The good rows
become one price change: the same approval and ERP write as a change entered by hand.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from openpyxl import Workbook, load_workbook
from sqlalchemy import or_, select, update

from app.audit.services import record
from app.catalog.models import Product, ProductSalesArea
from app.core.errors import ValidationFailed
from app.core.models import User, utcnow
from app.extensions import db
from app.pricing import services
from app.pricing.models import PriceImport

POLICIES = ("all_or_nothing", "good_rows")
# Column key → header names accepted (English or Chinese, any case).
COLUMNS = {
    "product": ("product code", "product", "material", "产品编码", "物料号"),
    "price_list": ("price list", "价格表"),
    "amount": ("amount", "price", "金额", "价格"),
    "currency": ("currency", "币种"),
    "valid_from": ("valid from", "生效日期"),
    "valid_to": ("valid to", "失效日期"),
    "sales_org": ("sales org", "sales organisation", "销售组织"),
    "distr_chan": ("channel", "distribution channel", "分销渠道"),
}
REQUIRED = ("product", "amount", "valid_from")
HEADER = (
    "Product code",
    "Price list",
    "Amount",
    "Currency",
    "Valid from",
    "Valid to",
    "Sales org",
    "Channel",
)
PROGRESS_EVERY = 500
STALE_AFTER = timedelta(minutes=2)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- upload -------------------------------------------------------------------------------


def _reject(message: str) -> ValidationFailed:
    return ValidationFailed({"file": [message]})


def read_upload(file_storage) -> bytes:
    """The uploaded workbook's bytes; 422 for a missing, too large or non-.xlsx file."""
    if file_storage is None or not file_storage.filename:
        raise _reject("Choose an .xlsx file")
    limit = int(current_app.config["PRICE_IMPORT_MAX_BYTES"])
    content = file_storage.stream.read(limit + 1)
    if len(content) > limit:
        raise _reject(f"The file is larger than {limit // (1024 * 1024)} MB")
    if not content:
        raise _reject("The file is empty")
    if not content.startswith(b"PK\x03\x04"):
        raise _reject("Not an Excel workbook (.xlsx)")
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        header = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
        book.close()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError, TypeError) as exc:
        raise _reject("Not an Excel workbook (.xlsx)") from exc
    missing = [key for key in REQUIRED if key not in header_map(header)]
    if missing:
        raise _reject("Missing columns: " + ", ".join(COLUMNS[k][0] for k in missing))
    return content


def header_map(header) -> dict[str, int]:
    names = {alias: key for key, aliases in COLUMNS.items() for alias in aliases}
    found = {}
    for index, cell in enumerate(header or ()):
        key = names.get(str(cell or "").strip().lower())
        if key and key not in found:
            found[key] = index
    return found


def queue_import(file_storage, policy: str, reason: str, user) -> PriceImport:
    """Check and store the workbook; the worker validates and applies it in the background."""
    errors = {}
    if policy not in POLICIES:
        errors["policy"] = [f"One of {', '.join(POLICIES)}"]
    if not (reason or "").strip() or len(reason) > 1000:
        errors["reason"] = ["Give a reason of 1 to 1,000 characters"]
    try:
        content = read_upload(file_storage)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    name = (file_storage.filename or "prices.xlsx").replace("\\", "/").rsplit("/", 1)[-1][:255]
    imp = PriceImport(
        policy=policy,
        filename=name,
        content=content,
        reason=reason.strip(),
        created_by=user.username,
        errors=[],
    )
    db.session.add(imp)
    db.session.flush()
    record(
        user.username,
        "price_import.queued",
        target_type="price_import",
        target_id=imp.id,
        details={"filename": name, "policy": policy, "bytes": len(content)},
    )
    return imp


# -- the background run -------------------------------------------------------------------


def run_queued_imports() -> dict:
    """Work every queued import (and any a dead worker left running); commits as it goes."""
    done = 0
    while (imp := _claim()) is not None:
        try:
            process_import(imp)
        except Exception as exc:  # noqa: BLE001 - a broken file must not stop the others
            db.session.rollback()
            imp = db.session.get(PriceImport, imp.id)
            imp.status, imp.failure, imp.finished_at = (
                "failed",
                f"{type(exc).__name__}: {exc}"[:2000],
                utcnow(),
            )
            db.session.commit()
        done += 1
    return {"imports": done}


def _claim() -> PriceImport | None:
    now = utcnow()
    candidate = db.session.scalar(
        select(PriceImport.id)
        .where(
            or_(
                PriceImport.status == "queued",
                (PriceImport.status == "running") & (PriceImport.heartbeat_at < now - STALE_AFTER),
            )
        )
        .order_by(PriceImport.id)
        .limit(1)
    )
    if candidate is None:
        db.session.commit()
        return None
    taken = db.session.execute(
        update(PriceImport)
        .where(
            PriceImport.id == candidate,
            or_(PriceImport.status == "queued", PriceImport.heartbeat_at < now - STALE_AFTER),
        )
        .values(status="running", heartbeat_at=now, processed=0)
    ).rowcount
    db.session.commit()
    if taken != 1:
        return _claim()  # another worker took it first
    return db.session.get(PriceImport, candidate)


def _rows(content: bytes):
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, ())
        yield header
        yield from rows
    finally:
        book.close()


def process_import(imp: PriceImport) -> None:
    """Validate every row (progress committed as it goes), then create the price change."""
    content = imp.content
    imp.total = sum(1 for row in _rows(content) if any(v not in (None, "") for v in row)) - 1
    db.session.commit()
    checker = RowChecker()
    rows = _rows(content)
    columns = header_map(next(rows))
    good, errors, seen = [], [], 0
    for number, row in enumerate(rows, start=2):
        if not any(v not in (None, "") for v in row):
            continue
        line, problems = checker.check(
            number, {k: row[i] if i < len(row) else None for k, i in columns.items()}
        )
        errors += problems
        if line is not None:
            good.append(line)
        seen += 1
        if seen % PROGRESS_EVERY == 0:
            _progress(imp, seen, len(errors))
    imp.processed, imp.error_count, imp.errors = seen, len(errors), errors
    imp.good_rows = len(good)
    if (errors and imp.policy == "all_or_nothing") or not good:
        imp.status, imp.finished_at = "invalid", utcnow()
        db.session.commit()
        return
    user = db.session.scalar(select(User).where(User.username == imp.created_by))
    change, _ = services.create_price_change(
        {"submit_key": f"import:{imp.id}", "reason": imp.reason, "lines": good}, user, source="import"
    )
    imp.status, imp.price_change_id, imp.finished_at = "done", change.id, utcnow()
    record(
        imp.created_by,
        "price_import.done",
        target_type="price_import",
        target_id=imp.id,
        details={"rows": seen, "errors": len(errors), "price_change": change.number},
    )
    db.session.commit()


def _progress(imp: PriceImport, seen: int, errors: int) -> None:
    db.session.execute(
        update(PriceImport)
        .where(PriceImport.id == imp.id)
        .values(processed=seen, error_count=errors, heartbeat_at=utcnow())
    )
    db.session.commit()


class RowChecker:
    """Checks rows one by one against the catalogue (loaded once) and earlier rows."""

    def __init__(self):
        self.products = dict(db.session.execute(select(Product.material_number, Product.id)).all())
        self.areas: dict[int, set] = {}
        for product_id, org, chan in db.session.execute(
            select(ProductSalesArea.product_id, ProductSalesArea.sales_org, ProductSalesArea.distr_chan)
        ):
            self.areas.setdefault(product_id, set()).add((org, chan))
        self.price_lists = services.known_price_lists()
        self.seen: dict[tuple, int] = {}

    def check(self, number: int, cells: dict) -> tuple[dict | None, list[dict]]:
        errors = []

        def bad(column: str, reason: str) -> None:
            errors.append({"row": number, "column": column, "reason": reason})

        code = _text(cells.get("product"))
        product_id = self.products.get(code) if code else None
        if not code:
            bad("product code", "Missing product code")
        elif product_id is None:
            bad("product code", f"Unknown product {code}")
        price_list = _text(cells.get("price_list")) or None
        if price_list and price_list not in self.price_lists:
            bad("price list", f"Unknown price list {price_list}")
        amount = _amount(cells.get("amount"))
        if amount is None:
            bad("amount", "Not a number")
        elif amount <= 0:
            bad("amount", "Must be greater than zero")
        elif amount != amount.quantize(Decimal("0.01")) or amount >= Decimal(10) ** 10:
            bad("amount", "At most two decimals and below 10,000,000,000")
        currency = (_text(cells.get("currency")) or "CNY").upper()
        if len(currency) != 3 or not currency.isalpha():
            bad("currency", f"Not a currency code: {currency}")
        start, start_ok = _date(cells.get("valid_from"))
        if start is None:
            bad("valid from", "Missing date" if start_ok else "Not a date (YYYY-MM-DD)")
        end, end_ok = _date(cells.get("valid_to"))
        if not end_ok:
            bad("valid to", "Not a date (YYYY-MM-DD)")
        elif start and end and end < start:
            bad("valid to", "Before the valid-from date")
        org, chan = _text(cells.get("sales_org")), _text(cells.get("distr_chan"))
        if org and product_id and (org, chan or "10") not in self.areas.get(product_id, set()):
            bad("sales org", f"The product is not sold in {org}/{chan or '10'}")
        if product_id and not org and not self.areas.get(product_id):
            bad("product code", "The product has no sales area")
        if errors:
            return None, errors
        key = (product_id, price_list, org, chan, start)
        if key in self.seen:
            return None, [
                {"row": number, "column": "product code", "reason": f"Duplicate of row {self.seen[key]}"}
            ]
        self.seen[key] = number
        return {
            "condition_type": "PR00",
            "product_id": product_id,
            "price_list": price_list,
            "sales_org": org or None,
            "distr_chan": (chan or "10") if org else None,
            "amount": amount,
            "percent": None,
            "currency": currency,
            "valid_from": start,
            "valid_to": end,
        }, []


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _amount(value) -> Decimal | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _date(value) -> tuple[date | None, bool]:
    """(date, ok): (None, True) for an empty cell, (None, False) for something else."""
    if value in (None, ""):
        return None, True
    if isinstance(value, datetime):
        return value.date(), True
    if isinstance(value, date):
        return value, True
    try:
        return date.fromisoformat(str(value).strip()[:10]), True
    except ValueError:
        return None, False


# -- reports ------------------------------------------------------------------------------


def error_workbook(imp: PriceImport):
    """The uploaded rows with an "Error" column naming each bad row's problems (.xlsx file)."""
    by_row: dict[int, list[str]] = {}
    for e in imp.errors or []:
        by_row.setdefault(e["row"], []).append(f"{e['column']}: {e['reason']}")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Prices")
    rows = _rows(imp.content)
    header = list(next(rows))
    sheet.append([*header, "Error"])
    for number, row in enumerate(rows, start=2):
        sheet.append([*row, "; ".join(by_row.get(number, []))])
    out = tempfile.TemporaryFile(suffix=".xlsx")
    book.save(out)
    out.seek(0)
    return out
