"""The BAPIs the ERP simulator implements, with the checks SAP does and zeep does not.

Each handler takes (store, faults, call element) and returns the response values in the order
of the WSDL's response sequence. Errors are RETURN rows (HTTP 200), as SAP answers them.
"""

from decimal import Decimal, InvalidOperation

from lxml import etree

from connectors.erp.simulator_soap import SoapFault, bapiret2, child_text, structure
from connectors.erp.simulator_store import SimulatorStore

# Field lengths of the DDIC types behind the structures (KNA1/ADRC and the KNVV key).
COMPANY_LENGTHS = {"NAME": 35, "NAME_2": 35, "SORT1": 20, "CITY": 35, "POSTL_COD1": 10,
                   "STREET": 35, "COUNTRY": 3, "REGION": 3, "LANGU": 1, "TEL1_NUMB": 30,
                   "CURRENCY": 5}
COMPANY_REQUIRED = ("NAME", "CITY", "COUNTRY")
REFERENCE_LENGTHS = {"SALESORG": 4, "DISTR_CHAN": 2, "DIVISION": 2, "REF_CUSTMR": 10}
REFERENCE_REQUIRED = ("SALESORG", "DISTR_CHAN", "DIVISION")
LIMIT_LENGTHS = {"CUSTOMER": 10, "CREDITCONTROLAREA": 4, "CURRENCY": 5, "RISK_CATEGORY": 3,
                 "IDEMPOTENCY_KEY": 120}
LIMIT_REQUIRED = ("CUSTOMER", "CREDITCONTROLAREA", "CURRENCY")
SIM_MSG_ID = "ZDF"  # message class of the simulator's own checks (and of the Z function module)
MAX_AMOUNT = Decimal(10) ** 13  # CURR 15,2: at most 13 integer digits


def _field_errors(parameter: str, data: dict, lengths: dict, required: tuple) -> list[dict]:
    """Required and length checks; ``parameter`` is "" for scalar parameters."""
    rows = []
    for name in required:
        if not (data.get(name) or "").strip():
            rows.append(bapiret2("E", SIM_MSG_ID, "001", f"{_label(parameter, name)} is required",
                                 PARAMETER=parameter or name, FIELD=name))
    for name, value in data.items():
        limit = lengths.get(name)
        if limit is None:
            rows.append(bapiret2("E", SIM_MSG_ID, "003",
                                 f"{_label(parameter, name)} is not a known field",
                                 PARAMETER=parameter, FIELD=name[:30]))
        elif len(value) > limit:
            rows.append(bapiret2("E", SIM_MSG_ID, "002",
                                 f"{_label(parameter, name)} is longer than {limit} characters",
                                 MESSAGE_V1=str(limit), PARAMETER=parameter or name, FIELD=name))
    return rows


def _label(parameter: str, name: str) -> str:
    return f"{parameter}-{name}" if parameter else name


def create_customer(store: SimulatorStore, faults, call: etree._Element) -> dict:
    company = structure(call, "PI_COMPANYDATA")
    reference = structure(call, "PI_COPYREFERENCE")
    key = (child_text(call, "IDEMPOTENCY_KEY") or "").strip() or None
    errors = (_field_errors("PI_COMPANYDATA", company, COMPANY_LENGTHS, COMPANY_REQUIRED)
              + _field_errors("PI_COPYREFERENCE", reference, REFERENCE_LENGTHS,
                              REFERENCE_REQUIRED))
    if key and len(key) > 120:
        errors.append(bapiret2("E", SIM_MSG_ID, "002", "IDEMPOTENCY_KEY is longer than 120",
                               FIELD="IDEMPOTENCY_KEY"))
    if errors:
        return {"CUSTOMERNO": "", "RETURN": errors}
    area = (reference["SALESORG"], reference["DISTR_CHAN"], reference["DIVISION"])
    kunnr, created = store.create_customer(company, area, key)
    if created:
        row = bapiret2("S", "F2", "172", f"Customer {kunnr} has been created", MESSAGE_V1=kunnr)
    else:
        row = bapiret2("S", SIM_MSG_ID, "010",
                       f"Customer {kunnr} was already created for this idempotency key",
                       MESSAGE_V1=kunnr)
    return {"CUSTOMERNO": kunnr, "RETURN": [row]}


def _blocked(kunnr: str) -> dict:
    return {"RETURN": [bapiret2("E", "F2", "153", f"Customer {kunnr} is blocked",
                                MESSAGE_V1=kunnr)]}


def credit_status(store: SimulatorStore, faults, call: etree._Element) -> dict:
    kunnr = _alpha((child_text(call, "CUSTOMER") or "").strip())
    area = (child_text(call, "CREDITCONTROLAREA") or "").strip()
    if kunnr in faults.blocked_customers():
        return _blocked(kunnr)
    store.advance(store.clock.now(), store.clock.lead)
    figures = store.credit_account(kunnr, area)
    if figures is None:
        return {"RETURN": [bapiret2("E", SIM_MSG_ID, "020",
                                    f"Customer {kunnr} has no credit account in area {area}",
                                    MESSAGE_V1=kunnr, MESSAGE_V2=area)]}
    exposure = (figures["open_orders"] + figures["open_deliveries"] + figures["open_billing"]
                + figures["receivables"])
    return {"CREDIT_LIMIT": figures["credit_limit"], "OPEN_ORDERS": figures["open_orders"],
            "OPEN_DELIVERIES": figures["open_deliveries"], "OPEN_BILLING": figures["open_billing"],
            "RECEIVABLES": figures["receivables"], "TOTAL_EXPOSURE": exposure,
            "AVAILABLE": figures["credit_limit"] - exposure, "CURRENCY": figures["currency"],
            "RETURN": [bapiret2("S", SIM_MSG_ID, "000", "Credit status read")]}


def _alpha(kunnr: str) -> str:
    return kunnr.zfill(10) if kunnr.isdigit() else kunnr  # SAP's ALPHA conversion


def _limit_error(number: str, message: str, **extra) -> dict:
    return {"RETURN": [bapiret2("E", SIM_MSG_ID, number, message, **extra)]}


def _parse_limit(text: str | None) -> tuple[Decimal | None, dict | None]:
    """CREDIT_LIMIT as a Decimal, or the error response: negative, not CURR 15,2."""
    try:
        limit = Decimal((text or "").strip())
    except InvalidOperation:
        return None, _limit_error("004", f"CREDIT_LIMIT '{(text or '')[:30]}' is not an amount",
                                  FIELD="CREDIT_LIMIT")
    if not limit.is_finite():
        return None, _limit_error("004", "CREDIT_LIMIT is not an amount", FIELD="CREDIT_LIMIT")
    if limit < 0:
        return None, _limit_error("022", f"Credit limit {limit} must not be negative",
                                  MESSAGE_V1=str(limit)[:50], FIELD="CREDIT_LIMIT")
    if limit != limit.quantize(Decimal("0.01")) or limit >= MAX_AMOUNT:
        return None, _limit_error("023", f"Credit limit {limit} does not fit CURR 15,2 "
                                  "(13 integer digits, 2 decimals)",
                                  MESSAGE_V1=str(limit)[:50], FIELD="CREDIT_LIMIT")
    return limit, None


SET_OUTCOMES = {  # store outcome -> (message number, text); text gets kunnr, area, detail
    "unknown_customer": ("021", "Customer {0} does not exist"),
    "currency_mismatch": ("024", "Credit account of {0} in area {1} is kept in {2}"),
    "key_conflict": ("025", "Idempotency key was already used for another credit limit write"),
}


def set_credit_limit(store: SimulatorStore, faults, call: etree._Element) -> dict:
    """ZDF_CREDIT_LIMIT_SET: the Z function module writing KNKK-KLIMK (FD32)."""
    data = {n: child_text(call, n) for n in LIMIT_LENGTHS if child_text(call, n) is not None}
    errors = _field_errors("", data, LIMIT_LENGTHS, LIMIT_REQUIRED)
    if errors:
        return {"RETURN": errors}
    limit, error = _parse_limit(child_text(call, "CREDIT_LIMIT"))
    if error:
        return error
    kunnr, area = _alpha(data["CUSTOMER"].strip()), data["CREDITCONTROLAREA"].strip()
    if kunnr in faults.blocked_customers():
        return _blocked(kunnr)
    outcome, detail = store.set_credit_limit(
        kunnr, area, limit, data["CURRENCY"].strip(),
        (data.get("RISK_CATEGORY") or "").strip() or None,
        (data.get("IDEMPOTENCY_KEY") or "").strip() or None)
    return _set_response(outcome, detail, kunnr, area)


def _set_response(outcome: str, detail: str | None, kunnr: str, area: str) -> dict:
    if outcome in SET_OUTCOMES:
        number, text = SET_OUTCOMES[outcome]
        return _limit_error(number, text.format(kunnr, area, detail), MESSAGE_V1=kunnr,
                            MESSAGE_V2=area)
    if outcome == "set":
        number, text = "030", f"Credit limit of customer {kunnr} in area {area} set to {detail}"
    else:
        number, text = "031", "Credit limit was already set for this idempotency key"
    return {"CREDIT_LIMIT": detail,
            "RETURN": [bapiret2("S", SIM_MSG_ID, number, text, MESSAGE_V1=kunnr,
                                MESSAGE_V2=area)]}


HANDLERS = {
    "BAPI_CUSTOMER_CREATEFROMDATA1": create_customer,
    "BAPI_CREDIT_ACCOUNT_GET_STATUS": credit_status,
    "ZDF_CREDIT_LIMIT_SET": set_credit_limit,
}


def dispatch(function: str, store: SimulatorStore, faults, call: etree._Element) -> dict:
    handler = HANDLERS.get(function)
    if handler is None:
        raise SoapFault("Client", f"Function module {function} not found")
    return handler(store, faults, call)
