"""The BAPIs the ERP simulator implements, with the checks SAP does and zeep does not.

Each handler takes (store, faults, call element) and returns the response values in the order
of the WSDL's response sequence. Errors are RETURN rows (HTTP 200), as SAP answers them.
"""

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
SIM_MSG_ID = "ZDF"  # message class of the simulator's own checks


def _field_errors(parameter: str, data: dict, lengths: dict, required: tuple) -> list[dict]:
    rows = []
    for name in required:
        if not (data.get(name) or "").strip():
            rows.append(bapiret2("E", SIM_MSG_ID, "001", f"{parameter}-{name} is required",
                                 PARAMETER=parameter, FIELD=name))
    for name, value in data.items():
        limit = lengths.get(name)
        if limit is None:
            rows.append(bapiret2("E", SIM_MSG_ID, "003", f"{parameter}-{name} is not a known field",
                                 PARAMETER=parameter, FIELD=name[:30]))
        elif len(value) > limit:
            rows.append(bapiret2("E", SIM_MSG_ID, "002",
                                 f"{parameter}-{name} is longer than {limit} characters",
                                 MESSAGE_V1=str(limit), PARAMETER=parameter, FIELD=name))
    return rows


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


def credit_status(store: SimulatorStore, faults, call: etree._Element) -> dict:
    kunnr = (child_text(call, "CUSTOMER") or "").strip()
    area = (child_text(call, "CREDITCONTROLAREA") or "").strip()
    if kunnr.isdigit():
        kunnr = kunnr.zfill(10)  # SAP's ALPHA conversion of customer numbers
    if kunnr in faults.blocked_customers():
        return {"RETURN": [bapiret2("E", "F2", "153", f"Customer {kunnr} is blocked",
                                    MESSAGE_V1=kunnr)]}
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


HANDLERS = {
    "BAPI_CUSTOMER_CREATEFROMDATA1": create_customer,
    "BAPI_CREDIT_ACCOUNT_GET_STATUS": credit_status,
}


def dispatch(function: str, store: SimulatorStore, faults, call: etree._Element) -> dict:
    handler = HANDLERS.get(function)
    if handler is None:
        raise SoapFault("Client", f"Function module {function} not found")
    return handler(store, faults, call)
