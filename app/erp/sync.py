"""The hourly ``erp.master_data_sync``: ERP materials and PR00 prices into the catalogue.

Materials are read in Chinese and English; each material's product hierarchy (PRODH levels,
BEV → BEVCSD) becomes its category path. PR00 condition records become list prices. The
catalogue keeps what operations staff completed (``app.catalog.services.upsert_materials``).
``flask erp sync`` runs the same sync from the shell.
"""

import logging
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.catalog.services import upsert_materials, upsert_prices
from app.dealers.models import Dealer
from app.erp import credit
from app.extensions import db
from app.jobs.periodic import register_periodic
from connectors.registry import BusinessError, CallContext, ConnectorError, registry

log = logging.getLogger(__name__)

ACTOR = "erp-sync"
DIVISION = "00"  # the ERP's one division for the dealer business


def _call(op_name: str, **params) -> dict:
    op = registry.get(op_name)
    return op.fn(op.load_params(params), CallContext(idempotency_key=f"sync:{op_name}", instance_id=0,
                                                     actor=ACTOR))


def _hierarchy(code: str | None, zh: dict, en: dict) -> list[tuple[str, str, str]]:
    """The category path of a hierarchy node, root first: [(code, name_zh, name_en), …]."""
    levels = []
    while code and code in zh:
        node = zh[code]
        levels.append((code, node["description"] or code, (en.get(code) or node)["description"] or code))
        code = node["parent"]
    return list(reversed(levels))


def _day(value) -> date | None:
    if not value:
        return None
    text = str(value)
    return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")


def material_rows(zh: dict, en: dict) -> list[dict]:
    """``erp.get_materials`` answers (zh and en) as ``upsert_materials`` rows."""
    tree_zh = {c["code"]: c for c in zh["categories"]}
    tree_en = {c["code"]: c for c in en["categories"]}
    names_en = {m["material"]: m["description"] for m in en["materials"]}
    return [{
        "material": m["material"], "name_zh": m["description"] or m["material"],
        "name_en": names_en.get(m["material"]) or m["description"] or m["material"],
        "hierarchy": _hierarchy(m["category"], tree_zh, tree_en),
        "sales_areas": sorted({(a["sales_org"], a["distr_chan"], DIVISION) for a in m["sales_areas"]}),
        "sales_unit": m["unit"] or None, "barcode": m["ean"] or None,
        "plant": (m["plants"][0]["plant"] if m["plants"] else None),
    } for m in zh["materials"]]


def price_rows(conditions: list[dict]) -> list[dict]:
    """PR00 condition records as ``upsert_prices`` rows."""
    return [{
        "material": c["material"], "sales_org": c["sales_org"], "distr_chan": c["distr_chan"],
        "price_list": None, "valid_from": _day(c["valid_from"]), "valid_to": _day(c["valid_to"]),
        "amount": Decimal(c["amount"]), "currency": c["currency"] or "CNY", "source": "erp",
    } for c in conditions if c["condition_type"] == "PR00" and c["material"] and c["amount"]]


def read_credit_statuses() -> tuple[list[tuple[int, dict]], list[str]]:
    """Each ERP customer dealer's credit status: ([(dealer id, status)], [failed customers]).

    A dealer the ERP does not answer for keeps its cached figures (and their age)."""
    dealers = db.session.execute(select(Dealer.id, Dealer.erp_customer_no)
                                 .where(Dealer.erp_customer_no.is_not(None))
                                 .order_by(Dealer.id)).all()
    db.session.commit()
    read, failed = [], []
    for dealer_id, customer in dealers:
        try:
            read.append((dealer_id, _call("erp.get_credit_status", customer_number=customer)))
        except (ConnectorError, BusinessError) as exc:
            log.warning("credit status of customer %s: %s", customer, exc)
            failed.append(customer)
    return read, failed


def sync_master_data() -> dict:
    """Read materials and PR00 prices from the ERP and write them into the catalogue; refresh
    every ERP customer dealer's cached credit status."""
    db.session.commit()  # no transaction open while the ERP calls log on their own connection
    zh = _call("erp.get_materials", language="zh")
    en = _call("erp.get_materials", language="en")
    conditions = _call("erp.get_price_conditions", condition_type="PR00")["conditions"]
    statuses, failed = read_credit_statuses()
    materials = upsert_materials(material_rows(zh, en), actor=ACTOR)
    prices = upsert_prices(price_rows(conditions), actor=ACTOR)
    for dealer_id, status in statuses:
        credit.remember(dealer_id, status)
    return {"materials": materials, "prices": prices, "credit_refreshed": len(statuses),
            "credit_failed": failed}


register_periodic("erp.master_data_sync", every=timedelta(hours=1), func=sync_master_data,
                  description="Materials (with category paths) and PR00 prices from the ERP")
