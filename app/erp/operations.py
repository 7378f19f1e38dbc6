"""``erp.*`` registry operations: the ERP over SOAP (connectors.erp.soap) or RFC
(connectors.erp.rfc, ``ERP_TRANSPORT``), logged per call. The sales-side operations are in
app.erp.sales (imported at the end)."""

from functools import partial

from flask import current_app
from marshmallow import EXCLUDE, Schema, fields

from app.erp import credit
from app.erp.services import log_exchange
from connectors.erp import rfc
from connectors.erp.soap import ErpSettings, client_for
from connectors.registry import BusinessError, CallContext, ConnectorError, registry

CREDIT_FIGURES = (("CREDIT_LIMIT", "credit_limit"), ("OPEN_ORDERS", "open_orders"),
                  ("OPEN_DELIVERIES", "open_deliveries"), ("OPEN_BILLING", "open_billing"),
                  ("RECEIVABLES", "receivables"), ("TOTAL_EXPOSURE", "total_exposure"),
                  ("AVAILABLE", "available"))


def _optional(cls=fields.String):
    return cls(load_default=None, allow_none=True)


def _settings() -> ErpSettings:
    cfg = current_app.config
    # Prefixed env values are parsed as JSON: a numeric password would arrive as an int.
    user, password = cfg.get("ERP_USER"), cfg.get("ERP_PASSWORD")
    return ErpSettings(url=cfg["ERP_URL"], timeout=float(cfg["ERP_TIMEOUT_SECONDS"]),
                       user=None if user is None else str(user),
                       password=None if password is None else str(password),
                       auth=cfg.get("ERP_AUTH", "basic"))


def _alpha(customer: str) -> str:
    """SAP's ALPHA conversion: a numeric customer number is zero-padded to 10 digits."""
    return customer.zfill(10) if customer.isdigit() else customer


def call_erp(operation: str, function: str, ctx: CallContext, **params) -> dict:
    """Call a BAPI through the SOAP client; every exchange goes to the message log."""
    on_exchange = partial(log_exchange, operation=operation, idempotency_key=ctx.idempotency_key,
                          instance_id=ctx.instance_id)
    return _client().call(function, on_exchange=on_exchange, **params)


def _client():
    """The configured transport's client: SOAP (default) or RFC (pyrfc)."""
    cfg = current_app.config
    transport = str(cfg.get("ERP_TRANSPORT") or "soap").lower()
    if transport == "soap":
        return client_for(_settings())
    if transport == "rfc":
        user, password = cfg.get("ERP_USER"), cfg.get("ERP_PASSWORD")
        return rfc.client_for(rfc.settings_from(
            cfg.get("ERP_RFC_CONNECTION") or {}, None if user is None else str(user),
            None if password is None else str(password)))
    raise ConnectorError(f"Unknown ERP_TRANSPORT {transport!r}: use soap or rfc")


class CreateCustomerParams(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True)
    city = fields.String(required=True)
    street = _optional()
    postal_code = _optional()
    phone = _optional()
    region = _optional()  # SAP region (province) code, e.g. "31" for Shanghai
    country = fields.String(load_default="CN")
    search_term = _optional()
    sales_org = fields.String(required=True)
    distr_chan = fields.String(required=True)
    division = fields.String(required=True)
    reference_customer = _optional()


@registry.register("erp.create_customer", schema=CreateCustomerParams,
                   description="Create a customer in the ERP (BAPI_CUSTOMER_CREATEFROMDATA1)")
def create_customer(params: dict, ctx: CallContext) -> dict:
    name, street = params["name"], params["street"]
    company = {"NAME": name[:35], "NAME_2": name[35:70] or None,  # SAP splits long names
               "SORT1": params["search_term"], "CITY": params["city"],
               "POSTL_COD1": params["postal_code"], "STREET": street[:35] if street else None,
               "COUNTRY": params["country"], "REGION": params["region"], "LANGU": "1",
               "TEL1_NUMB": params["phone"]}
    reference = {"SALESORG": params["sales_org"], "DISTR_CHAN": params["distr_chan"],
                 "DIVISION": params["division"], "REF_CUSTMR": params["reference_customer"]}
    result = call_erp("erp.create_customer", "BAPI_CUSTOMER_CREATEFROMDATA1", ctx,
                      PI_COMPANYDATA=company, PI_COPYREFERENCE=reference,
                      IDEMPOTENCY_KEY=ctx.idempotency_key)
    return {"customer_number": result["CUSTOMERNO"]}


class CreditStatusParams(Schema):
    class Meta:
        unknown = EXCLUDE

    customer_number = fields.String(required=True)
    credit_control_area = _optional()
    use_cache = fields.Boolean(load_default=False, metadata={
        "description": "when the ERP cannot answer, return the dealer's cached credit status "
                       "if younger than ERP_CREDIT_CACHE_MAX_AGE_SECONDS (source: cache)"})


@registry.register("erp.get_credit_status", schema=CreditStatusParams,
                   description="Read credit limit and exposure (BAPI_CREDIT_ACCOUNT_GET_STATUS)")
def get_credit_status(params: dict, ctx: CallContext) -> dict:
    area = params["credit_control_area"] or current_app.config["ERP_CREDIT_CONTROL_AREA"]
    customer = params["customer_number"]
    try:
        result = call_erp("erp.get_credit_status", "BAPI_CREDIT_ACCOUNT_GET_STATUS", ctx,
                          CUSTOMER=_alpha(customer), CREDITCONTROLAREA=area)
    except BusinessError:
        raise
    except Exception:
        cached = credit.fresh_figures(_alpha(customer)) if params.get("use_cache") else None
        if cached is None:
            raise  # retried with backoff, then an incident
        return cached
    figures = {key: str(result[name]) for name, key in CREDIT_FIGURES}
    return {"customer_number": customer, "credit_control_area": area,
            "currency": result["CURRENCY"], **figures}


class SetCreditLimitParams(Schema):
    class Meta:
        unknown = EXCLUDE

    customer_number = fields.String(required=True)
    credit_limit = fields.Decimal(required=True)  # >= 0, at most 2 decimals (CURR 15,2)
    currency = fields.String(load_default="CNY")
    credit_control_area = _optional()
    risk_category = _optional()  # KNKK-CTLPC; kept as it is when not given


@registry.register("erp.set_credit_limit", schema=SetCreditLimitParams,
                   description="Write a customer's credit limit (Z function module "
                               "ZDF_CREDIT_LIMIT_SET, FD32)")
def set_credit_limit(params: dict, ctx: CallContext) -> dict:
    customer, limit = params["customer_number"], params["credit_limit"]
    if limit < 0:  # the ERP rejects it too (same code); no need to send it
        raise BusinessError("ZDF022", f"Credit limit {limit} must not be negative",
                            {"credit_limit": str(limit)})
    area = params["credit_control_area"] or current_app.config["ERP_CREDIT_CONTROL_AREA"]
    result = call_erp("erp.set_credit_limit", "ZDF_CREDIT_LIMIT_SET", ctx,
                      CUSTOMER=_alpha(customer), CREDITCONTROLAREA=area, CREDIT_LIMIT=limit,
                      CURRENCY=params["currency"], RISK_CATEGORY=params["risk_category"],
                      IDEMPOTENCY_KEY=ctx.idempotency_key)
    return {"customer_number": customer, "credit_limit": str(result["CREDIT_LIMIT"])}


import app.erp.sales  # noqa: E402, F401  (registers the sales-side erp.* operations)
import app.erp.sync  # noqa: E402, F401  (registers the erp.master_data_sync periodic job)
