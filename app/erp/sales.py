"""Sales-side ``erp.*`` operations: orders, their status, deliveries, billing, receivables,
materials and price conditions. Parameters and results use plain names (amounts as strings);
the function modules and their fields are described in connectors/erp/sap_functions.wsdl."""

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields, validate

from app.erp.operations import _alpha, _optional, call_erp
from connectors.registry import CallContext, registry

ERROR_TYPES = ("E", "A")


class _Params(Schema):
    class Meta:
        unknown = EXCLUDE


def _text(value) -> str | None:
    """Amounts and quantities (Decimals from the transport) as JSON-friendly strings."""
    return None if value is None or value == "" else str(value)


def _messages(result: dict) -> list[dict]:
    return [{"type": r.get("TYPE"), "code": f"{r.get('ID') or ''}{r.get('NUMBER') or ''}",
             "message": r.get("MESSAGE")} for r in result["RETURN"]
            if (r.get("TYPE") or "") not in ERROR_TYPES]


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


# ----- erp.create_sales_order -----------------------------------------------------------------

class OrderItem(_Params):
    item_number = _optional()  # POSNR, e.g. "000010"; 10, 20, … when not given
    material = fields.String(required=True)
    quantity = fields.Decimal(required=True)
    unit = _optional()
    plant = _optional()
    item_category = _optional()  # TAN (default) or TANN (free of charge)
    text = _optional()


class OrderCondition(_Params):
    item_number = _optional()  # None: a header condition (HB00, K007)
    type = fields.String(required=True)  # PR00, K004, K005, K007, RB00, HB00
    value = fields.Decimal(required=True)
    currency = _optional()


class CreateSalesOrderParams(_Params):
    customer_number = fields.String(required=True)  # sold-to (AG)
    ship_to = _optional()  # ship-to (WE); the sold-to when not given
    purchase_order_number = fields.String(required=True)  # PURCH_NO_C: the dedupe key
    sales_org = fields.String(required=True)
    distr_chan = fields.String(required=True)
    division = fields.String(load_default="00")
    doc_type = fields.String(load_default="TA")
    requested_date = fields.Date(load_default=None, allow_none=True)
    currency = fields.String(load_default="CNY")
    items = fields.List(fields.Nested(OrderItem), required=True)
    conditions = fields.List(fields.Nested(OrderCondition), load_default=list)
    # Where the quantity goes: ORDER_SCHEDULES_IN-REQ_QTY (what SAP expects) or TARGET_QTY.
    quantity_in = fields.String(load_default="schedule",
                                validate=validate.OneOf(["schedule", "target"]))
    test_run = fields.Boolean(load_default=False)


def order_tables(params: dict) -> dict:
    """BAPI_SALESORDER_CREATEFROMDAT2 parameters (RFC shape) for the operation's params."""
    header = {"DOC_TYPE": params["doc_type"], "SALES_ORG": params["sales_org"],
              "DISTR_CHAN": params["distr_chan"], "DIVISION": params["division"],
              "REQ_DATE_H": _date(params["requested_date"]),
              "PURCH_NO_C": params["purchase_order_number"], "CURRENCY": params["currency"]}
    partners = [{"PARTN_ROLE": "AG", "PARTN_NUMB": _alpha(params["customer_number"])}]
    if params["ship_to"]:
        partners.append({"PARTN_ROLE": "WE", "PARTN_NUMB": _alpha(params["ship_to"])})
    items, schedules = [], []
    for n, item in enumerate(params["items"], start=1):
        posnr = (item["item_number"] or str(n * 10)).zfill(6)
        row = {"ITM_NUMBER": posnr, "MATERIAL": item["material"], "PLANT": item["plant"],
               "TARGET_QU": item["unit"], "ITEM_CATEG": item["item_category"],
               "SHORT_TEXT": item["text"]}
        if params["quantity_in"] == "target":
            row["TARGET_QTY"] = item["quantity"]
        else:
            schedules.append({"ITM_NUMBER": posnr, "SCHED_LINE": "0001",
                              "REQ_DATE": _date(params["requested_date"]),
                              "REQ_QTY": item["quantity"]})
        items.append(row)
    conditions = [{"ITM_NUMBER": (c["item_number"] or "0").zfill(6), "COND_TYPE": c["type"],
                   "COND_VALUE": c["value"], "CURRENCY": c["currency"]}
                  for c in params["conditions"]]
    tables = {"ORDER_HEADER_IN": header, "ORDER_PARTNERS": partners, "ORDER_ITEMS_IN": items}
    if schedules:
        tables["ORDER_SCHEDULES_IN"] = schedules
    if conditions:
        tables["ORDER_CONDITIONS_IN"] = conditions
    return tables


@registry.register("erp.create_sales_order", schema=CreateSalesOrderParams,
                   description="Create a sales order (BAPI_SALESORDER_CREATEFROMDAT2); a "
                               "repeated purchase order number answers the existing order")
def create_sales_order(params: dict, ctx: CallContext) -> dict:
    result = call_erp("erp.create_sales_order", "BAPI_SALESORDER_CREATEFROMDAT2", ctx,
                      **order_tables(params), TESTRUN="X" if params["test_run"] else None,
                      IDEMPOTENCY_KEY=ctx.idempotency_key)
    messages = _messages(result)
    return {"sales_document": result.get("SALESDOCUMENT") or None,
            "purchase_order_number": params["purchase_order_number"],
            "credit_blocked": any(m["type"] == "W" and m["code"] == "ZDF053" for m in messages),
            "messages": messages}


# ----- erp.get_sales_order_status -------------------------------------------------------------

class SalesOrderStatusParams(_Params):
    sales_document = fields.String(required=True)


@registry.register("erp.get_sales_order_status", schema=SalesOrderStatusParams,
                   description="Read an order's status, delivery and billing (BAPI_SALESORDER_"
                               "GETSTATUS)")
def get_sales_order_status(params: dict, ctx: CallContext) -> dict:
    result = call_erp("erp.get_sales_order_status", "BAPI_SALESORDER_GETSTATUS", ctx,
                      SALESDOCUMENT=_alpha(params["sales_document"]))
    rows = result.get("STATUSINFO") or []
    head = rows[0] if rows else {}
    return {
        "sales_document": head.get("DOC_NUMBER") or _alpha(params["sales_document"]),
        "document_date": head.get("DOC_DATE"), "purchase_order_number": head.get("PURCH_NO"),
        "sold_to": head.get("SOLD_TO"), "sales_org": head.get("SALES_ORG"),
        "net_value": _text(head.get("NET_VAL_HD")), "tax": _text(head.get("TAX_AMOUNT_HD")),
        "currency": head.get("CURRENCY"), "credit_status": head.get("CREDIT_STAT"),
        "delivery_status": head.get("DLV_STAT_H"), "goods_issue_status": head.get("GI_STAT"),
        "billing_status": head.get("BILL_STAT_H"), "delivery": head.get("DELIV_NUMB"),
        "goods_issue_date": head.get("GI_DATE"), "billing_document": head.get("BILL_DOC"),
        "billing_date": head.get("BILL_DATE"),
        "items": [{"item_number": r.get("ITM_NUMBER"), "material": r.get("MATERIAL"),
                   "text": r.get("SHORT_TEXT"), "item_category": r.get("ITEM_CATEG"),
                   "plant": r.get("PLANT"), "quantity": _text(r.get("REQ_QTY")),
                   "unit": r.get("SALES_UNIT"), "net_price": _text(r.get("NET_PRICE")),
                   "net_value": _text(r.get("NET_VALUE")),
                   "delivered_quantity": _text(r.get("DLV_QTY"))} for r in rows],
        "conditions": [{"item_number": c.get("ITM_NUMBER"), "step": c.get("COND_ST_NO"),
                        "type": c.get("COND_TYPE"), "rate": _text(c.get("COND_VALUE")),
                        "currency": c.get("CURRENCY"), "value": _text(c.get("CONDVALUE"))}
                       for c in result.get("ORDER_CONDITIONS_OUT") or []]}


# ----- erp.get_deliveries_changed -------------------------------------------------------------

class DeliveriesChangedParams(_Params):
    changed_since = fields.AwareDateTime(required=True, default_timezone=UTC)
    customer_number = _optional()
    sales_org = _optional()


def _stamp_to_iso(stamp: str | None) -> str | None:
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC).isoformat()


@registry.register("erp.get_deliveries_changed", schema=DeliveriesChangedParams,
                   description="Outbound deliveries created or changed since a time, with "
                               "goods-issue status (ZDF_DELIVERIES_GET_CHANGED)")
def get_deliveries_changed(params: dict, ctx: CallContext) -> dict:
    since = params["changed_since"].astimezone(UTC).strftime("%Y%m%d%H%M%S")
    customer = params["customer_number"]
    result = call_erp("erp.get_deliveries_changed", "ZDF_DELIVERIES_GET_CHANGED", ctx,
                      CHANGED_SINCE=since, SOLD_TO=_alpha(customer) if customer else None,
                      SALES_ORG=params["sales_org"])
    items: dict[str, list] = {}
    for row in result.get("DELIVERY_ITEMS") or []:
        items.setdefault(row["DELIV_NUMB"], []).append({
            "item_number": row.get("DELIV_ITEM"), "material": row.get("MATERIAL"),
            "plant": row.get("PLANT"), "quantity": _text(row.get("DLV_QTY")),
            "unit": row.get("SALES_UNIT"), "sales_document": row.get("SALES_DOC"),
            "sales_item": row.get("SALES_ITEM")})
    return {"until": _stamp_to_iso(result.get("TIMESTAMP")), "deliveries": [{
        "delivery": d["DELIV_NUMB"], "sales_document": d.get("SALES_DOC"),
        "purchase_order_number": d.get("PURCH_NO"), "sold_to": d.get("SOLD_TO"),
        "ship_to": d.get("SHIP_TO"), "sales_org": d.get("SALES_ORG"),
        "shipping_point": d.get("SHIP_POINT"), "delivery_date": d.get("DELIV_DATE"),
        "goods_issue_status": d.get("WBSTK"), "goods_issued": d.get("WBSTK") == "C",
        "goods_issue_date": d.get("GI_DATE"), "changed_at": _stamp_to_iso(d.get("CHANGED_AT")),
        "items": items.get(d["DELIV_NUMB"], [])} for d in result.get("DELIVERIES") or []]}


# ----- erp.get_billing_documents --------------------------------------------------------------

class BillingDocumentsParams(_Params):
    customer_number = _optional()
    sales_document = _optional()
    date_from = fields.Date(load_default=None, allow_none=True)
    date_to = fields.Date(load_default=None, allow_none=True)


@registry.register("erp.get_billing_documents", schema=BillingDocumentsParams,
                   description="Billing documents of a customer in a period or of an order "
                               "(BAPI_BILLINGDOC_GETLIST)")
def get_billing_documents(params: dict, ctx: CallContext) -> dict:
    customer, order = params["customer_number"], params["sales_document"]
    result = call_erp("erp.get_billing_documents", "BAPI_BILLINGDOC_GETLIST", ctx,
                      CUSTOMER=_alpha(customer) if customer else None,
                      SALESDOCUMENT=_alpha(order) if order else None,
                      DATE_FROM=_date(params["date_from"]), DATE_TO=_date(params["date_to"]))
    return {"billing_documents": [{
        "billing_document": d.get("BILLINGDOC"), "type": d.get("BILL_TYPE"),
        "date": d.get("BILL_DATE"), "sales_org": d.get("SALES_ORG"),
        "sold_to": d.get("SOLD_TO"), "payer": d.get("PAYER"),
        "net_value": _text(d.get("NET_VALUE")), "tax": _text(d.get("TAX_AMOUNT")),
        "currency": d.get("CURRENCY"), "sales_document": d.get("SALES_DOC"),
        "delivery": d.get("DELIV_NUMB"), "accounting_document": d.get("ACC_DOC"),
        "cancelled": d.get("CANCELLED") == "X"} for d in result.get("BILLINGDOCUMENTDETAIL")
        or []]}


# ----- erp.get_open_items / erp.get_statement -------------------------------------------------

def _line_item(row: dict) -> dict:
    amount = Decimal(row.get("LC_AMOUNT") or 0)
    return {"document": row.get("DOC_NO"), "fiscal_year": row.get("FISC_YEAR"),
            "item": row.get("ITEM_NUM"), "type": row.get("DOC_TYPE"),
            "posting_date": row.get("PSTNG_DATE"), "due_date": row.get("NET_DUE_DATE"),
            "debit_credit": row.get("DB_CR_IND"),
            "amount": str(amount if row.get("DB_CR_IND") == "S" else -amount),
            "currency": row.get("CURRENCY"), "billing_document": row.get("BILL_DOC"),
            "reference": row.get("REF_DOC_NO"), "clearing_document": row.get("CLR_DOC_NO"),
            "clearing_date": row.get("CLEAR_DATE"), "text": row.get("ITEM_TEXT")}


def _company_code(params: dict) -> str:
    return params["company_code"] or current_app.config["ERP_COMPANY_CODE"]


class OpenItemsParams(_Params):
    customer_number = fields.String(required=True)
    company_code = _optional()
    key_date = fields.Date(load_default=None, allow_none=True)  # the ERP's today when not given


@registry.register("erp.get_open_items", schema=OpenItemsParams,
                   description="A customer's open items on a key date (BAPI_AR_ACC_GETOPENITEMS)")
def get_open_items(params: dict, ctx: CallContext) -> dict:
    result = call_erp("erp.get_open_items", "BAPI_AR_ACC_GETOPENITEMS", ctx,
                      COMPANYCODE=_company_code(params),
                      CUSTOMER=_alpha(params["customer_number"]),
                      KEYDATE=_date(params["key_date"]))
    items = [_line_item(r) for r in result.get("LINEITEMS") or []]
    return {"customer_number": params["customer_number"], "key_date": _date(params["key_date"]),
            "items": items, "total": str(sum((Decimal(i["amount"]) for i in items),
                                             Decimal("0.00")))}


class StatementParams(_Params):
    customer_number = fields.String(required=True)
    company_code = _optional()
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)


@registry.register("erp.get_statement", schema=StatementParams,
                   description="A customer's account statement for a period "
                               "(BAPI_AR_ACC_GETSTATEMENT)")
def get_statement(params: dict, ctx: CallContext) -> dict:
    result = call_erp("erp.get_statement", "BAPI_AR_ACC_GETSTATEMENT", ctx,
                      COMPANYCODE=_company_code(params),
                      CUSTOMER=_alpha(params["customer_number"]),
                      DATE_FROM=params["date_from"].isoformat(),
                      DATE_TO=params["date_to"].isoformat())
    return {"customer_number": params["customer_number"],
            "date_from": params["date_from"].isoformat(),
            "date_to": params["date_to"].isoformat(),
            "opening_balance": _text(result.get("OPENING_BALANCE")),
            "closing_balance": _text(result.get("CLOSING_BALANCE")),
            "currency": result.get("CURRENCY"),
            "items": [_line_item(r) for r in result.get("LINEITEMS") or []]}


# ----- erp.get_materials ----------------------------------------------------------------------

class MaterialsParams(_Params):
    sales_org = _optional()
    distr_chan = _optional()
    plant = _optional()
    category = _optional()  # a product hierarchy node: BEV, BEVCSD, …
    language = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))


@registry.register("erp.get_materials", schema=MaterialsParams,
                   description="Materials with product hierarchy, sales areas and plants "
                               "(ZDF_MATERIALS_GET)")
def get_materials(params: dict, ctx: CallContext) -> dict:
    result = call_erp("erp.get_materials", "ZDF_MATERIALS_GET", ctx,
                      SALES_ORG=params["sales_org"], DISTR_CHAN=params["distr_chan"],
                      PLANT=params["plant"], PROD_HIER=params["category"],
                      LANGUAGE="1" if params["language"] == "zh" else "E")
    areas: dict[str, list] = {}
    for row in result.get("SALES_AREAS") or []:
        areas.setdefault(row["MATERIAL"], []).append({
            "sales_org": row.get("SALES_ORG"), "distr_chan": row.get("DISTR_CHAN"),
            "delivering_plant": row.get("DELIV_PLANT")})
    plants: dict[str, list] = {}
    for row in result.get("PLANTS") or []:
        plants.setdefault(row["MATERIAL"], []).append({"plant": row.get("PLANT"),
                                                       "name": row.get("PLANT_NAME")})
    categories = []
    for row in result.get("HIERARCHY") or []:
        code, level = row["PROD_HIER"], int(row.get("LEVEL_NO") or 1)
        parent = next((c["code"] for c in reversed(categories)
                       if c["level"] == level - 1 and code.startswith(c["code"])), None)
        categories.append({"code": code, "level": level, "description": row.get("DESCRIPTION"),
                           "parent": parent})
    return {"categories": categories, "materials": [{
        "material": m["MATERIAL"], "description": m.get("MATL_DESC"),
        "category": m.get("PROD_HIER"), "material_group": m.get("MATL_GROUP"),
        "unit": m.get("BASE_UOM"), "ean": m.get("EAN_UPC"),
        "sales_areas": areas.get(m["MATERIAL"], []), "plants": plants.get(m["MATERIAL"], [])}
        for m in result.get("MATERIALS") or []]}


# ----- erp.get_price_conditions / erp.set_price_conditions ------------------------------------

CONDITION_TYPES = ["PR00", "K004", "K007"]


def _condition(row: dict) -> dict:
    return {"condition_number": row.get("COND_NO"), "condition_type": row.get("COND_TYPE"),
            "sales_org": row.get("SALES_ORG"), "distr_chan": row.get("DISTR_CHAN"),
            "customer_number": row.get("CUSTOMER"), "material": row.get("MATERIAL"),
            "valid_from": row.get("VALID_FROM"), "valid_to": row.get("VALID_TO"),
            "amount": _text(row.get("AMOUNT")), "currency": row.get("CURRENCY"),
            "unit": row.get("COND_UNIT"), "price_list": row.get("PRICE_LIST") or None}


class GetConditionsParams(_Params):
    condition_type = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(CONDITION_TYPES))
    sales_org = _optional()
    distr_chan = _optional()
    material = _optional()
    customer_number = _optional()
    valid_on = fields.Date(load_default=None, allow_none=True)
    price_list = _optional()


@registry.register("erp.get_price_conditions", schema=GetConditionsParams,
                   description="Read price condition records PR00/K004/K007 "
                               "(ZDF_PRICE_CONDITIONS_GET)")
def get_price_conditions(params: dict, ctx: CallContext) -> dict:
    customer = params["customer_number"]
    result = call_erp("erp.get_price_conditions", "ZDF_PRICE_CONDITIONS_GET", ctx,
                      COND_TYPE=params["condition_type"], SALES_ORG=params["sales_org"],
                      DISTR_CHAN=params["distr_chan"], MATERIAL=params["material"],
                      CUSTOMER=_alpha(customer) if customer else None,
                      VALID_ON=_date(params["valid_on"]), PRICE_LIST=params["price_list"])
    return {"conditions": [_condition(r) for r in result.get("CONDITIONS") or []]}


class ConditionRecord(_Params):
    condition_type = fields.String(required=True)  # PR00, K004 (per material), K007 (customer)
    sales_org = fields.String(required=True)
    distr_chan = fields.String(required=True)
    material = _optional()
    customer_number = _optional()
    price_list = _optional()  # PR00 of one price list (PLTYP); the area's base when not given
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, allow_none=True)  # open-ended when not given
    amount = fields.Decimal(required=True)  # CNY per unit; percent for K007
    currency = _optional()


class SetConditionsParams(_Params):
    conditions = fields.List(fields.Nested(ConditionRecord), required=True,
                             validate=validate.Length(min=1))


@registry.register("erp.set_price_conditions", schema=SetConditionsParams,
                   description="Write price condition records PR00/K004/K007 with validity "
                               "periods (ZDF_PRICE_CONDITIONS_SET)")
def set_price_conditions(params: dict, ctx: CallContext) -> dict:
    rows = [{"COND_TYPE": c["condition_type"], "SALES_ORG": c["sales_org"],
             "DISTR_CHAN": c["distr_chan"], "CUSTOMER": _alpha(c["customer_number"])
             if c["customer_number"] else None, "MATERIAL": c["material"],
             "VALID_FROM": _date(c["valid_from"]), "VALID_TO": _date(c["valid_to"]),
             "AMOUNT": c["amount"], "CURRENCY": c["currency"], "PRICE_LIST": c["price_list"]}
            for c in params["conditions"]]
    result = call_erp("erp.set_price_conditions", "ZDF_PRICE_CONDITIONS_SET", ctx,
                      CONDITIONS=rows, IDEMPOTENCY_KEY=ctx.idempotency_key)
    return {"conditions": [_condition(r) for r in result.get("CONDITIONS") or []]}
