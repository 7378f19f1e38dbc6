"""The simulator's SD/FI function modules: orders, status, deliveries, billing, receivables,
materials and price conditions. Same conventions as simulator_bapis (errors as RETURN rows).

Message class ZDF numbers used here (the simulator's own checks): 040 unknown material,
041 material not sold in the sales area, 042 customer not in the sales area, 043 quantity not
positive, 044 unknown customer, 045 no items, 046 plant, 047 item category, 048 condition
type, 049 condition item, 050 order exists for the purchase order, 051 no PR00 price,
052 test run, 053 credit block (W), 055 unknown sales document, 056 bad time stamp,
057 selection missing, 058 bad date, 060 no sold-to, 061 order type, 062 item numbers,
070-074 condition records.
"""

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from connectors.erp import simulator_catalogue as cat
from connectors.erp.simulator_bapis import SIM_MSG_ID, _alpha, _blocked, _field_errors
from connectors.erp.simulator_sales_store import CENT, ZERO, cents
from connectors.erp.simulator_soap import bapiret2, child_text, structure, table
from connectors.erp.simulator_store import CREDIT_CONTROL_AREA, SimulatorStore

HEADER_LENGTHS = {"DOC_TYPE": 4, "SALES_ORG": 4, "DISTR_CHAN": 2, "DIVISION": 2,
                  "REQ_DATE_H": 10, "PURCH_NO_C": 35, "PURCH_DATE": 10, "PMNTTRMS": 4,
                  "PRICE_LIST": 2, "CURRENCY": 5}
HEADER_REQUIRED = ("DOC_TYPE", "SALES_ORG", "DISTR_CHAN", "DIVISION")
PARTNER_LENGTHS = {"PARTN_ROLE": 2, "PARTN_NUMB": 10}
# MATERIAL: 18 characters (MATNR of ECC; S/4 allows 40, the WSDL type is char40).
ITEM_LENGTHS = {"ITM_NUMBER": 6, "MATERIAL": 18, "PLANT": 4, "TARGET_QTY": 20, "TARGET_QU": 3,
                "ITEM_CATEG": 4, "SHORT_TEXT": 40}
SCHEDULE_LENGTHS = {"ITM_NUMBER": 6, "SCHED_LINE": 4, "REQ_DATE": 10, "REQ_QTY": 20}
COND_LENGTHS = {"ITM_NUMBER": 6, "COND_TYPE": 4, "COND_VALUE": 40, "CURRENCY": 5}
ORDER_TYPES = {"TA", "OR"}  # standard order (German / English key)
ITEM_CATEGORIES = {"", "TAN", "TANN"}  # standard item, free-of-charge item
ORDER_CONDITIONS = {"PR00", "K004", "K005", "K007", "RB00", "HB00"}
HEADER_ITEM = "000000"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
COND_RECORD_LENGTHS = {"COND_NO": 10, "COND_TYPE": 4, "SALES_ORG": 4, "DISTR_CHAN": 2,
                       "PRICE_LIST": 2,
                       "CUSTOMER": 10, "MATERIAL": 18, "VALID_FROM": 10, "VALID_TO": 10,
                       "AMOUNT": 20, "CURRENCY": 5, "COND_UNIT": 3}
WRITABLE_CONDITIONS = {"PR00", "K004", "K007"}


def _error(number: str, message: str, **extra) -> dict:
    return bapiret2("E", SIM_MSG_ID, number, message, **extra)


MAX_VALUE = Decimal(10) ** 10  # QUAN 13,3 and the amounts here: at most 10 integer digits


def _decimal(text: str | None) -> Decimal | None:
    """A finite number below 10^10 with at most 3 decimals, else None."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or abs(value) >= MAX_VALUE or value.as_tuple().exponent < -3:
        return None
    return value


def _valid_date(text: str | None) -> bool:
    if not text or not DATE.match(text):
        return False
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _table_errors(parameter: str, rows: list[dict], lengths: dict) -> list[dict]:
    errors = []
    for n, row in enumerate(rows, start=1):
        for error in _field_errors(parameter, row, lengths, ()):
            extra = {k: error[k] for k in ("MESSAGE_V1", "PARAMETER", "FIELD") if k in error}
            errors.append(bapiret2(error["TYPE"], error["ID"], error["NUMBER"],
                                   f"{error['MESSAGE']} (row {n})", ROW=n, **extra))
    return errors


def _catch_up(store: SimulatorStore) -> datetime:
    now = store.clock.now()
    store.advance(now, store.clock.lead)
    return now


# ----- BAPI_SALESORDER_CREATEFROMDAT2 ---------------------------------------------------------

def create_sales_order(store: SimulatorStore, faults, call: etree._Element) -> dict:
    now = _catch_up(store)
    header = structure(call, "ORDER_HEADER_IN")
    partners = table(call, "ORDER_PARTNERS")
    items = table(call, "ORDER_ITEMS_IN")
    schedules = table(call, "ORDER_SCHEDULES_IN")
    conditions = table(call, "ORDER_CONDITIONS_IN")
    key = (child_text(call, "IDEMPOTENCY_KEY") or "").strip() or None
    errors = (_field_errors("ORDER_HEADER_IN", header, HEADER_LENGTHS, HEADER_REQUIRED)
              + _table_errors("ORDER_PARTNERS", partners, PARTNER_LENGTHS)
              + _table_errors("ORDER_ITEMS_IN", items, ITEM_LENGTHS)
              + _table_errors("ORDER_SCHEDULES_IN", schedules, SCHEDULE_LENGTHS)
              + _table_errors("ORDER_CONDITIONS_IN", conditions, COND_LENGTHS))
    if key and len(key) > 120:
        errors.append(_error("002", "IDEMPOTENCY_KEY is longer than 120", FIELD="IDEMPOTENCY_KEY"))
    if errors:
        return {"SALESDOCUMENT": "", "RETURN": errors}
    roles = {p.get("PARTN_ROLE", "").strip(): _alpha(p.get("PARTN_NUMB", "").strip())
             for p in partners}
    sold_to = roles.get("AG") or roles.get("SP")
    if not sold_to:
        return _order_errors([_error("060", "No sold-to party (partner role AG) was given",
                                     PARAMETER="ORDER_PARTNERS", FIELD="PARTN_ROLE")])
    ship_to = roles.get("WE") or roles.get("SH") or sold_to
    bstkd = (header.get("PURCH_NO_C") or "").strip() or None
    existing = store.find_order(sold_to, bstkd, key)
    if existing:
        return _existing(existing, bstkd)
    if sold_to in faults.blocked_customers():
        return {"SALESDOCUMENT": "", **_blocked(sold_to)}
    area = (header["SALES_ORG"].strip(), header["DISTR_CHAN"].strip(),
            header["DIVISION"].strip())
    errors = _header_errors(store, header, area, sold_to, ship_to)
    if errors:
        return _order_errors(errors)
    on = header.get("REQ_DATE_H") or now.date().isoformat()
    pltyp = (header.get("PRICE_LIST") or "").strip() or None
    priced, errors = _price_items(store, area, sold_to, on, items, schedules, conditions,
                                  pltyp)
    if errors:
        return _order_errors(errors)
    net = sum((i["netwr"] for i in priced), ZERO)
    if (call.findtext("TESTRUN") or "").strip().upper() == "X":
        return {"SALESDOCUMENT": "", "RETURN": [bapiret2(
            "S", SIM_MSG_ID, "052", f"Test run: the order would be saved with net value {net}",
            MESSAGE_V1=str(net))]}
    values = {"auart": header["DOC_TYPE"].strip(), "vkorg": area[0], "vtweg": area[1],
              "spart": area[2], "kunnr": sold_to, "kunwe": ship_to, "bstkd": bstkd,
              "vdatu": header.get("REQ_DATE_H") or None,
              "waerk": (header.get("CURRENCY") or "CNY").strip()}
    vbeln, created, cmgst = store.create_order(values, priced, key, now, CREDIT_CONTROL_AREA)
    if not created:
        return _existing(vbeln, bstkd)
    rows = [bapiret2("S", "V1", "311", f"Standard Order {vbeln} has been saved",
                     MESSAGE_V1="Standard Order", MESSAGE_V2=vbeln)]
    if cmgst == "B":
        rows.append(bapiret2("W", SIM_MSG_ID, "053", f"Credit limit exceeded: order {vbeln} is"
                             " blocked for delivery", MESSAGE_V1=vbeln))
    return {"SALESDOCUMENT": vbeln, "RETURN": rows}


def _order_errors(errors: list[dict]) -> dict:
    return {"SALESDOCUMENT": "", "RETURN": errors}


def _existing(vbeln: str, bstkd: str | None) -> dict:
    return {"SALESDOCUMENT": vbeln, "RETURN": [bapiret2(
        "S", SIM_MSG_ID, "050", f"Order {vbeln} already exists for purchase order {bstkd or ''}"
        .strip(), MESSAGE_V1=vbeln, MESSAGE_V2=(bstkd or "")[:50])]}


def _header_errors(store, header: dict, area: tuple, sold_to: str, ship_to: str) -> list[dict]:
    errors = []
    if header["DOC_TYPE"].strip().upper() not in ORDER_TYPES:
        errors.append(_error("061", f"Sales document type {header['DOC_TYPE']} is not allowed",
                             PARAMETER="ORDER_HEADER_IN", FIELD="DOC_TYPE"))
    for date_field in ("REQ_DATE_H", "PURCH_DATE"):
        if header.get(date_field) and not _valid_date(header[date_field]):
            errors.append(_error("058", f"{date_field} '{header[date_field]}' is not a date",
                                 PARAMETER="ORDER_HEADER_IN", FIELD=date_field))
    for role, kunnr in (("AG", sold_to), ("WE", ship_to)):
        if not store.customer_exists(kunnr):
            errors.append(_error("044", f"Customer {kunnr} does not exist", MESSAGE_V1=kunnr,
                                 PARAMETER="ORDER_PARTNERS", FIELD="PARTN_NUMB"))
        elif role == "AG" and area not in store.customer_areas(kunnr):
            errors.append(_error("042", f"Customer {kunnr} is not defined in sales area "
                                 f"{'/'.join(area)}", MESSAGE_V1=kunnr,
                                 MESSAGE_V2="/".join(area), PARAMETER="ORDER_PARTNERS",
                                 FIELD="PARTN_NUMB"))
    return errors


def _quantities(items: list[dict], schedules: list[dict]) -> dict[str, Decimal | None]:
    """Ordered quantity per item: the sum of its schedule lines, else TARGET_QTY."""
    result = {}
    for n, item in enumerate(items, start=1):
        posnr = (item.get("ITM_NUMBER") or str(n * 10)).zfill(6)
        lines = [s for s in schedules if (s.get("ITM_NUMBER") or "").zfill(6) == posnr]
        if lines:
            values = [_decimal(s.get("REQ_QTY")) for s in lines]
            result[posnr] = None if None in values else sum(values, Decimal(0))
        else:
            result[posnr] = _decimal(item.get("TARGET_QTY"))
    return result


def _price_items(store, area, sold_to, on, items, schedules, conditions, pltyp=None):
    """Priced items (VBAP values) or the error rows."""
    if not items:
        return [], [_error("045", "The order has no items", PARAMETER="ORDER_ITEMS_IN")]
    quantities = _quantities(items, schedules)
    manual, errors = _manual_conditions(conditions, set(quantities))
    if len(quantities) < len(items):
        errors.append(_error("062", "Item numbers (ITM_NUMBER) must be unique",
                             PARAMETER="ORDER_ITEMS_IN", FIELD="ITM_NUMBER"))
        return [], errors
    priced = []
    for n, item in enumerate(items, start=1):
        posnr = (item.get("ITM_NUMBER") or str(n * 10)).zfill(6)
        row, item_errors = _price_item(store, area, sold_to, on, n, posnr, item,
                                       quantities[posnr], manual, pltyp)
        errors += item_errors
        if row:
            priced.append(row)
    if errors:
        return [], errors
    _apply_header_discount(priced, manual.get((HEADER_ITEM, "HB00")))
    return priced, []


def _manual_conditions(conditions: list[dict], items: set[str]):
    manual, errors = {}, []
    for n, cond in enumerate(conditions, start=1):
        kind = (cond.get("COND_TYPE") or "").strip().upper()
        posnr = (cond.get("ITM_NUMBER") or HEADER_ITEM).zfill(6)
        value = _decimal(cond.get("COND_VALUE"))
        if kind not in ORDER_CONDITIONS:
            errors.append(_error("048", f"Condition type {kind or '(empty)'} cannot be entered",
                                 MESSAGE_V1=kind, PARAMETER="ORDER_CONDITIONS_IN", ROW=n,
                                 FIELD="COND_TYPE"))
        elif posnr != HEADER_ITEM and posnr not in items:
            errors.append(_error("049", f"Condition {kind} names item {posnr}, which the order"
                                 " does not have", PARAMETER="ORDER_CONDITIONS_IN", ROW=n,
                                 FIELD="ITM_NUMBER"))
        elif value is None or value < 0:
            errors.append(_error("004", f"COND_VALUE of condition {kind} is not an amount >= 0",
                                 PARAMETER="ORDER_CONDITIONS_IN", ROW=n, FIELD="COND_VALUE"))
        elif kind == "RB00":
            # Several absolute discounts on one item (one per promotion) add up.
            manual[(posnr, kind)] = manual.get((posnr, kind), ZERO) + value
            manual.setdefault((posnr, "RB00*"), []).append(value)
        else:
            manual[(posnr, kind)] = value
    return manual, errors


def _price_item(store, area, sold_to, on, n, posnr, item, qty, manual, pltyp=None):
    vkorg, vtweg = area[0], area[1]
    matnr = (item.get("MATERIAL") or "").strip().upper()
    where = {"PARAMETER": "ORDER_ITEMS_IN", "ROW": n}
    material = store.material(matnr) if matnr else None
    if material is None:
        return None, [_error("040", f"Material {matnr or '(empty)'} does not exist",
                             MESSAGE_V1=matnr[:50], FIELD="MATERIAL", **where)]
    errors = []
    if (vkorg, vtweg) not in material["sales"]:
        errors.append(_error("041", f"Material {matnr} is not sold in sales organisation "
                             f"{vkorg}, channel {vtweg}", MESSAGE_V1=matnr, FIELD="MATERIAL",
                             **where))
    plant = (item.get("PLANT") or "").strip() or material["sales"].get((vkorg, vtweg))
    if plant and plant not in material["plants"]:
        errors.append(_error("046", f"Material {matnr} is not maintained in plant {plant}",
                             MESSAGE_V1=matnr, MESSAGE_V2=plant, FIELD="PLANT", **where))
    category = (item.get("ITEM_CATEG") or "").strip().upper()
    if category not in ITEM_CATEGORIES:
        errors.append(_error("047", f"Item category {category} is not allowed",
                             FIELD="ITEM_CATEG", **where))
    if qty is None or qty <= 0:
        errors.append(_error("043", f"Quantity of item {posnr} must be greater than zero",
                             MESSAGE_V1=posnr, FIELD="TARGET_QTY", **where))
    if errors:
        return None, errors
    free = category == "TANN"
    price = manual.get((posnr, "PR00"))
    if price is None and not free:
        price = store.condition_amount("PR00", vkorg, vtweg, on, matnr=matnr, pltyp=pltyp)
        if price is None:
            return None, [_error("051", f"No price (PR00) for material {matnr} in {vkorg}/"
                                 f"{vtweg} on {on}", MESSAGE_V1=matnr, FIELD="MATERIAL", **where)]
    if free:
        net_price = ZERO
    else:
        off = manual.get((posnr, "K004"), manual.get((posnr, "K005")))
        if off is None:
            off = store.condition_amount("K004", vkorg, vtweg, on, matnr=matnr) or ZERO
        percent = manual.get((posnr, "K007"), manual.get((HEADER_ITEM, "K007")))
        if percent is None:
            percent = store.condition_amount("K007", vkorg, vtweg, on, kunnr=sold_to) or ZERO
        net_price = cents(max(price - off, ZERO) * (1 - percent / 100))
    netwr = max(cents(qty * net_price) - manual.get((posnr, "RB00"), ZERO), ZERO)
    conditions = [] if free else _item_conditions(qty, price, off, percent, net_price,
                                                 manual.get((posnr, "RB00*"), []))
    return {"posnr": posnr, "matnr": matnr, "arktx": material["maktx"], "pstyv":
            category or "TAN", "werks": plant, "kwmeng": qty.quantize(Decimal("0.001")),
            "vrkme": (item.get("TARGET_QU") or material["meins"]).strip(),
            "netpr": net_price, "netwr": netwr, "conditions": conditions}, []


def _item_conditions(qty, price, off, percent, net_price, discounts) -> list[dict]:
    """The item's pricing as KONV rows: rate (KBETR) and value (KWERT) per condition."""
    rows = [{"kschl": "PR00", "kbetr": price, "waers": "CNY",
             "kwert": cents(qty * price)}]
    if off:
        rows.append({"kschl": "K004", "kbetr": -off, "waers": "CNY",
                     "kwert": -cents(qty * off)})
    if percent:
        value = cents(qty * max(price - off, ZERO)) - cents(qty * net_price)
        rows.append({"kschl": "K007", "kbetr": -percent, "waers": "%", "kwert": -value})
    rows += [{"kschl": "RB00", "kbetr": -value, "waers": "CNY", "kwert": -value}
             for value in discounts]
    return rows


def _apply_header_discount(items: list[dict], amount: Decimal | None) -> None:
    """HB00: an absolute header discount spread over the items pro rata (never below 0)."""
    total = sum((i["netwr"] for i in items), ZERO)
    if not amount or total <= 0:
        return
    amount = min(amount, total)
    left = amount
    for index, item in enumerate(items):
        share = left if index == len(items) - 1 else cents(amount * item["netwr"] / total)
        item["netwr"] -= share
        left -= share
        if share:
            item.setdefault("conditions", []).append(
                {"kschl": "HB00", "kbetr": -amount, "waers": "CNY", "kwert": -share})


# ----- BAPI_SALESORDER_GETSTATUS --------------------------------------------------------------

def sales_order_status(store: SimulatorStore, faults, call: etree._Element) -> dict:
    _catch_up(store)
    vbeln = _alpha((child_text(call, "SALESDOCUMENT") or "").strip())
    order = store.order(vbeln)
    if order is None:
        return {"RETURN": [_error("055", f"Sales document {vbeln} does not exist",
                                  MESSAGE_V1=vbeln)]}
    dlv, bill = order["delivery"], order["billing"]
    rows = []
    for item in order["items"]:
        rows.append({
            "DOC_NUMBER": vbeln, "DOC_DATE": order["erdat"], "PURCH_NO": order["bstkd"],
            "SOLD_TO": order["kunnr"], "SALES_ORG": order["vkorg"],
            "DISTR_CHAN": order["vtweg"], "DIVISION": order["spart"],
            "ITM_NUMBER": item["posnr"], "MATERIAL": item["matnr"], "SHORT_TEXT": item["arktx"],
            "ITEM_CATEG": item["pstyv"], "PLANT": item["werks"], "REQ_QTY": item["kwmeng"],
            "SALES_UNIT": item["vrkme"], "NET_PRICE": item["netpr"], "NET_VALUE": item["netwr"],
            "NET_VAL_HD": order["netwr"], "TAX_AMOUNT_HD": order["mwsbk"],
            "CURRENCY": order["waerk"], "CREDIT_STAT": order["cmgst"],
            "DLV_STAT_H": order["lfstk"], "DLV_STAT_I": order["lfstk"],
            "DELIV_NUMB": dlv["vbeln"] if dlv else None,
            "DELIV_DATE": dlv["lfdat"] if dlv else None,
            "DLV_QTY": item["kwmeng"] if dlv else None,
            "GI_STAT": dlv["wbstk"] if dlv else None,
            "GI_DATE": dlv["gi_at"][:10] if dlv and dlv["gi_at"] else None,
            "BILL_STAT_H": order["fkstk"], "BILL_DOC": bill["vbeln"] if bill else None,
            "BILL_DATE": bill["fkdat"] if bill else None})
    conditions = [{"ITM_NUMBER": c["posnr"], "COND_ST_NO": f"{c['stunr']:03d}",
                   "COND_TYPE": c["kschl"], "COND_VALUE": c["kbetr"], "CURRENCY": c["waers"],
                   "CONDVALUE": c["kwert"]} for c in order["conditions"]]
    return {"STATUSINFO": rows, "ORDER_CONDITIONS_OUT": conditions,
            "RETURN": [bapiret2("S", SIM_MSG_ID, "000", "Status read")]}


# ----- ZDF_DELIVERIES_GET_CHANGED -------------------------------------------------------------

def _stamp(value: str) -> str:
    return value.replace("-", "").replace(":", "").replace(" ", "")


def deliveries_changed(store: SimulatorStore, faults, call: etree._Element) -> dict:
    now = _catch_up(store)
    text = (child_text(call, "CHANGED_SINCE") or "").strip()
    try:
        since = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return {"RETURN": [_error("056", f"CHANGED_SINCE '{text[:20]}' is not a time stamp "
                                  "YYYYMMDDhhmmss", FIELD="CHANGED_SINCE")]}
    kunnr = _alpha((child_text(call, "SOLD_TO") or "").strip()) or None
    vkorg = (child_text(call, "SALES_ORG") or "").strip() or None
    heads, items = store.deliveries_changed(since, kunnr, vkorg)
    return {
        "DELIVERIES": [{"DELIV_NUMB": h["vbeln"], "DELIV_TYPE": h["lfart"],
                        "SHIP_POINT": h["vstel"], "SALES_ORG": h["vkorg"], "SOLD_TO": h["kunag"],
                        "SHIP_TO": h["kunnr"], "SALES_DOC": h["vgbel"], "PURCH_NO": h["bstkd"],
                        "DELIV_DATE": h["lfdat"], "WBSTK": h["wbstk"],
                        "GI_DATE": h["gi_at"][:10] if h["gi_at"] else None,
                        "CHANGED_AT": _stamp(h["changed_at"])} for h in heads],
        "DELIVERY_ITEMS": [{"DELIV_NUMB": i["vbeln"], "DELIV_ITEM": i["posnr"],
                            "MATERIAL": i["matnr"], "PLANT": i["werks"], "DLV_QTY": i["lfimg"],
                            "SALES_UNIT": i["vrkme"], "SALES_DOC": i["vgbel"],
                            "SALES_ITEM": i["vgpos"]} for i in items],
        "TIMESTAMP": now.strftime("%Y%m%d%H%M%S"),
        "RETURN": [bapiret2("S", SIM_MSG_ID, "000", f"{len(heads)} deliveries changed")]}


# ----- BAPI_BILLINGDOC_GETLIST ----------------------------------------------------------------

def _date_errors(call: etree._Element, names: tuple[str, ...]) -> list[dict]:
    return [_error("058", f"{name} '{(child_text(call, name) or '')[:20]}' is not a date "
                   "YYYY-MM-DD", FIELD=name)
            for name in names if child_text(call, name) and not _valid_date(child_text(call, name))]


def billing_documents(store: SimulatorStore, faults, call: etree._Element) -> dict:
    _catch_up(store)
    kunnr = _alpha((child_text(call, "CUSTOMER") or "").strip()) or None
    vbeln = _alpha((child_text(call, "SALESDOCUMENT") or "").strip()) or None
    errors = _date_errors(call, ("DATE_FROM", "DATE_TO"))
    if not (kunnr or vbeln):
        errors.append(_error("057", "Select billing documents by CUSTOMER or SALESDOCUMENT"))
    if errors:
        return {"RETURN": errors}
    docs = store.billing_documents(kunnr, vbeln, child_text(call, "DATE_FROM") or None,
                                   child_text(call, "DATE_TO") or None)
    return {"BILLINGDOCUMENTDETAIL": [
        {"BILLINGDOC": d["vbeln"], "BILL_TYPE": d["fkart"], "BILL_DATE": d["fkdat"],
         "SALES_ORG": d["vkorg"], "SOLD_TO": d["kunag"], "PAYER": d["kunrg"],
         "NET_VALUE": d["netwr"], "TAX_AMOUNT": d["mwsbk"], "CURRENCY": d["waerk"],
         "SALES_DOC": d["aubel"], "DELIV_NUMB": d["vgbel"], "ACC_DOC": d["belnr"],
         "CANCELLED": d["fksto"] or None} for d in docs],
        "RETURN": [bapiret2("S", SIM_MSG_ID, "000", f"{len(docs)} billing documents")]}


# ----- BAPI_AR_ACC_GETOPENITEMS / GETSTATEMENT -----------------------------------------------

def _line(item: dict) -> dict:
    return {"COMP_CODE": item["bukrs"], "CUSTOMER": item["kunnr"], "DOC_NO": item["belnr"],
            "FISC_YEAR": item["gjahr"], "ITEM_NUM": item["buzei"], "DOC_TYPE": item["blart"],
            "PSTNG_DATE": item["budat"], "DOC_DATE": item["bldat"],
            "BLINE_DATE": item["zfbdt"], "NET_DUE_DATE": item["netdt"],
            "DB_CR_IND": item["shkzg"], "LC_AMOUNT": item["dmbtr"], "CURRENCY": item["waers"],
            "BILL_DOC": item["vbeln"], "REF_DOC_NO": item["xblnr"],
            "CLR_DOC_NO": item["augbl"], "CLEAR_DATE": item["augdt"],
            "ITEM_TEXT": item["sgtxt"]}


def _account_errors(store, call, dates: tuple[str, ...]) -> tuple[str, str, list[dict]]:
    bukrs = (child_text(call, "COMPANYCODE") or "").strip()
    kunnr = _alpha((child_text(call, "CUSTOMER") or "").strip())
    errors = _field_errors("", {n: child_text(call, n) or "" for n in
                                ("COMPANYCODE", "CUSTOMER", *dates)},
                           {"COMPANYCODE": 4, "CUSTOMER": 10} | {d: 10 for d in dates},
                           ("COMPANYCODE", "CUSTOMER", *dates))
    errors += _date_errors(call, dates) if not errors else []
    if not errors and bukrs not in cat.COMPANY_CODE.values():
        errors.append(_error("059", f"Company code {bukrs} does not exist", MESSAGE_V1=bukrs,
                             FIELD="COMPANYCODE"))
    if not errors and not store.customer_exists(kunnr):
        errors.append(_error("021", f"Customer {kunnr} does not exist", MESSAGE_V1=kunnr,
                             FIELD="CUSTOMER"))
    return bukrs, kunnr, errors


def open_items(store: SimulatorStore, faults, call: etree._Element) -> dict:
    now = _catch_up(store)
    bukrs, kunnr, errors = _account_errors(store, call, ())
    errors += _date_errors(call, ("KEYDATE",))
    if errors:
        return {"RETURN": errors}
    key = child_text(call, "KEYDATE") or now.date().isoformat()
    items = [i for i in store.line_items(bukrs, kunnr)
             if i["budat"] <= key and (i["augdt"] is None or i["augdt"] > key)]
    return {"LINEITEMS": [_line(i) | {"CLR_DOC_NO": None, "CLEAR_DATE": None} for i in items],
            "RETURN": [bapiret2("S", SIM_MSG_ID, "000", f"{len(items)} open items")]}


def _signed(item: dict) -> Decimal:
    amount = Decimal(item["dmbtr"])
    return amount if item["shkzg"] == "S" else -amount


def statement(store: SimulatorStore, faults, call: etree._Element) -> dict:
    _catch_up(store)
    bukrs, kunnr, errors = _account_errors(store, call, ("DATE_FROM", "DATE_TO"))
    start, end = child_text(call, "DATE_FROM"), child_text(call, "DATE_TO")
    if not errors and start > end:
        errors.append(_error("058", f"DATE_FROM {start} is after DATE_TO {end}",
                             FIELD="DATE_FROM"))
    if errors:
        return {"RETURN": errors}
    items = store.line_items(bukrs, kunnr)
    opening = sum((_signed(i) for i in items if i["budat"] < start), ZERO)
    period = [i for i in items if start <= i["budat"] <= end]
    closing = opening + sum((_signed(i) for i in period), ZERO)
    return {"LINEITEMS": [_line(i) for i in period], "OPENING_BALANCE": opening,
            "CLOSING_BALANCE": closing, "CURRENCY": "CNY",
            "RETURN": [bapiret2("S", SIM_MSG_ID, "000", f"{len(period)} line items")]}


# ----- ZDF_MATERIALS_GET ----------------------------------------------------------------------

def materials(store: SimulatorStore, faults, call: etree._Element) -> dict:
    args = {n: (child_text(call, n) or "").strip() or None
            for n in ("SALES_ORG", "DISTR_CHAN", "PLANT", "PROD_HIER", "LANGUAGE")}
    found = store.materials(args["SALES_ORG"], args["DISTR_CHAN"], args["PLANT"],
                            args["PROD_HIER"], (args["LANGUAGE"] or "1").upper())
    return {
        "MATERIALS": [{"MATERIAL": m["matnr"], "MATL_DESC": m["maktx"], "PROD_HIER": m["prodh"],
                       "MATL_GROUP": m["matkl"], "BASE_UOM": m["meins"], "EAN_UPC": m["ean11"]}
                      for m in found["materials"]],
        "HIERARCHY": [{"PROD_HIER": h["prodh"], "LEVEL_NO": h["stufe"],
                       "DESCRIPTION": h["vtext"]} for h in found["hierarchy"]],
        "SALES_AREAS": [{"MATERIAL": s["matnr"], "SALES_ORG": s["vkorg"],
                         "DISTR_CHAN": s["vtweg"], "DELIV_PLANT": s["dwerk"]}
                        for s in found["sales"]],
        "PLANTS": [{"MATERIAL": p["matnr"], "PLANT": p["werks"], "PLANT_NAME": p["name1"]}
                   for p in found["plants"]],
        "RETURN": [bapiret2("S", SIM_MSG_ID, "000", f"{len(found['materials'])} materials")]}


# ----- ZDF_PRICE_CONDITIONS_GET / _SET --------------------------------------------------------

def _condition_out(row: dict) -> dict:
    return {"COND_NO": row["knumh"], "COND_TYPE": row["kschl"], "SALES_ORG": row["vkorg"],
            "DISTR_CHAN": row["vtweg"], "CUSTOMER": row["kunnr"], "MATERIAL": row["matnr"],
            "VALID_FROM": row["datab"], "VALID_TO": row["datbi"], "AMOUNT": row["kbetr"],
            "CURRENCY": row["konwa"], "COND_UNIT": row["kmein"], "PRICE_LIST": row.get("pltyp")}


def get_conditions(store: SimulatorStore, faults, call: etree._Element) -> dict:
    args = {n: (child_text(call, n) or "").strip() or None
            for n in ("COND_TYPE", "SALES_ORG", "DISTR_CHAN", "MATERIAL", "CUSTOMER",
                      "VALID_ON", "PRICE_LIST")}
    errors = _date_errors(call, ("VALID_ON",))
    if errors:
        return {"RETURN": errors}
    rows = store.conditions(args["COND_TYPE"], args["SALES_ORG"], args["DISTR_CHAN"],
                            args["MATERIAL"], _alpha(args["CUSTOMER"] or "") or None,
                            args["VALID_ON"], args["PRICE_LIST"])
    return {"CONDITIONS": [_condition_out(r) for r in rows],
            "RETURN": [bapiret2("S", SIM_MSG_ID, "000", f"{len(rows)} condition records")]}


def _condition_record(store, n: int, row: dict) -> tuple[dict | None, list[dict]]:
    where = {"PARAMETER": "CONDITIONS", "ROW": n}
    kind = (row.get("COND_TYPE") or "").strip().upper()
    vkorg, vtweg = (row.get("SALES_ORG") or "").strip(), (row.get("DISTR_CHAN") or "").strip()
    matnr = (row.get("MATERIAL") or "").strip().upper() or None
    kunnr = _alpha((row.get("CUSTOMER") or "").strip()) or None
    pltyp = (row.get("PRICE_LIST") or "").strip() or None
    start, end = row.get("VALID_FROM") or "", row.get("VALID_TO") or cat.PRICE_VALID_TO
    amount = _decimal(row.get("AMOUNT"))
    if kind not in WRITABLE_CONDITIONS:
        return None, [_error("070", f"Condition type {kind or '(empty)'} cannot be maintained"
                             " here (PR00, K004, K007)", FIELD="COND_TYPE", **where)]
    errors = []
    if vkorg not in cat.SALES_ORGS or vtweg not in cat.CHANNELS:
        errors.append(_error("071", f"Sales area {vkorg}/{vtweg} does not exist",
                             FIELD="SALES_ORG", **where))
    if kind in ("PR00", "K004"):
        material = store.material(matnr) if matnr else None
        if material is None:
            errors.append(_error("040", f"Material {matnr or '(empty)'} does not exist",
                                 FIELD="MATERIAL", **where))
        kunnr = None
        pltyp = pltyp if kind == "PR00" else None
    else:
        pltyp = None
        if not kunnr or not store.customer_exists(kunnr):
            errors.append(_error("044", f"Customer {kunnr or '(empty)'} does not exist",
                                 FIELD="CUSTOMER", **where))
        matnr = None
    if amount is None or amount < 0 or (kind == "PR00" and amount == 0) or (
            kind == "K007" and amount > 100) or amount != amount.quantize(CENT):
        errors.append(_error("072", f"Amount {row.get('AMOUNT') or '(empty)'} is not valid for"
                             f" {kind}", FIELD="AMOUNT", **where))
    if not _valid_date(start) or not _valid_date(end) or start > end:
        errors.append(_error("074", f"Validity {start or '?'} to {end} is not a period",
                             FIELD="VALID_FROM", **where))
    if errors:
        return None, errors
    currency = "%" if kind == "K007" else (row.get("CURRENCY") or "CNY").strip()
    return {"kschl": kind, "vkorg": vkorg, "vtweg": vtweg, "kunnr": kunnr, "matnr": matnr,
            "datab": start, "datbi": end, "kbetr": str(cents(amount)),
            "konwa": currency, "kmein": None if kind == "K007" else cat.BASE_UOM,
            "pltyp": pltyp}, []


def set_conditions(store: SimulatorStore, faults, call: etree._Element) -> dict:
    rows = table(call, "CONDITIONS")
    key = (child_text(call, "IDEMPOTENCY_KEY") or "").strip() or None
    errors = _table_errors("CONDITIONS", rows, COND_RECORD_LENGTHS)
    if not rows:
        errors.append(_error("001", "CONDITIONS is required", PARAMETER="CONDITIONS"))
    records = []
    if not errors:
        for n, row in enumerate(rows, start=1):
            record, row_errors = _condition_record(store, n, row)
            errors += row_errors
            records.append(record)
    if errors:
        return {"RETURN": errors}
    request = json.dumps(records, sort_keys=True)
    outcome, numbers = store.set_conditions(records, key, request)
    if outcome == "key_conflict":
        return {"RETURN": [_error("025", "Idempotency key was already used for another "
                                  "condition write")]}
    text = ("Condition records were already written for this idempotency key"
            if outcome == "replayed" else f"{len(numbers)} condition records saved")
    out = [_condition_out({"knumh": number, **record})
           for number, record in zip(numbers, records, strict=True)]
    return {"CONDITIONS": out, "RETURN": [bapiret2(
        "S", SIM_MSG_ID, "075" if outcome == "set" else "076", text)]}


HANDLERS = {
    "BAPI_SALESORDER_CREATEFROMDAT2": create_sales_order,
    "BAPI_SALESORDER_GETSTATUS": sales_order_status,
    "ZDF_DELIVERIES_GET_CHANGED": deliveries_changed,
    "BAPI_BILLINGDOC_GETLIST": billing_documents,
    "BAPI_AR_ACC_GETOPENITEMS": open_items,
    "BAPI_AR_ACC_GETSTATEMENT": statement,
    "ZDF_MATERIALS_GET": materials,
    "ZDF_PRICE_CONDITIONS_GET": get_conditions,
    "ZDF_PRICE_CONDITIONS_SET": set_conditions,
}
