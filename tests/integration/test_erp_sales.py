"""The sales side of the ERP over SOAP: real zeep calls to the simulator over HTTP."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.erp.models import ErpMessage
from app.extensions import db
from connectors.erp.simulator_catalogue import MATERIALS
from connectors.registry import BusinessError, CallContext, registry

HOUR = 3600


def call(op_name: str, key: str = "7:task-a", **params) -> dict:
    db.session.commit()
    op = registry.get(op_name)
    return op.fn(op.load_params(params), CallContext(idempotency_key=key, instance_id=7))


def order(po: str = "PO-1", key: str | None = None, **overrides) -> dict:
    params = {"customer_number": "10001", "purchase_order_number": po, "sales_org": "1000",
              "distr_chan": "10", "items": [{"material": "DF-BV-1001", "quantity": "100"},
                                            {"material": "DF-SN-1001", "quantity": "10"}]}
    return call("erp.create_sales_order", key=key or f"7:{po}", **(params | overrides))


def exposure(customer: str = "10001") -> dict:
    status = call("erp.get_credit_status", customer_number=customer)
    return {k: Decimal(status[k]) for k in ("open_orders", "open_deliveries", "open_billing",
                                            "receivables", "total_exposure", "available")}


def advance(sim, seconds: float) -> None:
    import requests

    r = requests.post(f"{sim.base}/sim/admin/clock", json={"advance_seconds": seconds},
                      timeout=5)
    assert r.status_code == 200, r.text


def test_order_is_numbered_priced_and_read_back_with_its_status(sim):
    created = order()
    assert re.fullmatch(r"\d{10}", created["sales_document"])
    assert created["credit_blocked"] is False
    assert created["messages"][0]["code"] == "V1311"
    status = call("erp.get_sales_order_status", sales_document=created["sales_document"])
    assert status["purchase_order_number"] == "PO-1" and status["sold_to"] == "0000010001"
    # PR00 48.00 x 100 + 88.00 x 10, VAT 13 %
    assert Decimal(status["net_value"]) == Decimal("5680.00")
    assert Decimal(status["tax"]) == Decimal("738.40")
    assert [i["material"] for i in status["items"]] == ["DF-BV-1001", "DF-SN-1001"]
    assert status["items"][0]["net_price"] == "48.00" and status["items"][0]["plant"] == "1100"
    assert (status["credit_status"], status["delivery_status"], status["delivery"]) == (
        "A", "A", None)


def test_same_purchase_order_twice_is_one_order(sim):
    first = order("PO-DUP", key="7:first")
    again = order("PO-DUP", key="8:another-task")
    assert again["sales_document"] == first["sales_document"]
    assert "already exists" in again["messages"][0]["message"]
    assert sim.store.count_orders() == 1
    other_customer = order("PO-DUP", key="9:x", customer_number="10002")
    assert other_customer["sales_document"] != first["sales_document"]
    assert sim.store.count_orders() == 2


def test_target_qty_and_schedule_quantity_are_both_accepted(sim):
    by_target = order("PO-T", quantity_in="target")
    by_schedule = order("PO-S")
    values = [call("erp.get_sales_order_status", sales_document=o["sales_document"])
              for o in (by_target, by_schedule)]
    assert values[0]["net_value"] == values[1]["net_value"] == "5680.00"
    assert values[0]["items"][0]["quantity"] == "100.000"


def test_conditions_k004_k007_and_a_header_discount_change_the_net_value(sim):
    created = order("PO-COND", conditions=[
        {"item_number": "10", "type": "K004", "value": "3"},  # 45.00 per case
        {"type": "K007", "value": "10"},  # 10 % off every item
        {"type": "HB00", "value": "100"}])  # 100 off the order
    status = call("erp.get_sales_order_status", sales_document=created["sales_document"])
    # (48-3)*0.9 = 40.50 x 100 = 4050 ; 88*0.9 = 79.20 x 10 = 792 ; 4842 - 100
    assert Decimal(status["net_value"]) == Decimal("4742.00")
    assert status["items"][0]["net_price"] == "40.50"


@pytest.mark.parametrize(("overrides", "code", "text"), [
    ({"items": [{"material": "NOPE-1", "quantity": "1"}]}, "ZDF040", "NOPE-1 does not exist"),
    ({"items": [{"material": "DF-BV-1001", "quantity": "0"}]}, "ZDF043", "greater than zero"),
    ({"items": [{"material": "DF-BV-1001", "quantity": "-5"}]}, "ZDF043", "greater than zero"),
    ({"sales_org": "2000"}, "ZDF042", "not defined in sales area 2000/10/00"),
    ({"customer_number": "4711"}, "ZDF044", "0000004711 does not exist"),
    ({"purchase_order_number": "P" * 36}, "ZDF002", "longer than 35"),
    ({"items": [{"material": "DF-BV-1001-TOO-LONG-X", "quantity": "1"}]}, "ZDF002",
     "MATERIAL is longer than 18"),
    ({"distr_chan": "TOOLONG"}, "ZDF002", "DISTR_CHAN is longer than 2"),
    ({"items": []}, "ZDF045", "no items"),
    ({"conditions": [{"type": "ZZ99", "value": "1"}]}, "ZDF048", "ZZ99 cannot be entered"),
])
def test_order_business_errors(sim, overrides, code, text):
    with pytest.raises(BusinessError) as info:
        order("PO-BAD", **overrides)
    assert info.value.code == code and text in info.value.message
    assert sim.store.count_orders() == 0


def test_material_not_sold_in_south_china_and_blocked_customer(sim):
    with pytest.raises(BusinessError) as info:
        order("PO-S1", customer_number="10002", sales_org="2000",
              items=[{"material": "DF-PC-1001", "quantity": "1"}])
    assert info.value.code == "ZDF041"
    sim.faults(blocked_customers=["10001"])
    with pytest.raises(BusinessError) as info:
        order("PO-BLK")
    assert info.value.code == "F2153"
    assert sim.store.count_orders() == 0


def test_test_run_saves_nothing(sim):
    result = order("PO-TEST", test_run=True)
    assert result["sales_document"] is None
    assert "5680.00" in result["messages"][0]["message"]
    assert sim.store.count_orders() == 0


def test_unknown_sales_document_status_is_a_business_error(sim):
    with pytest.raises(BusinessError) as info:
        call("erp.get_sales_order_status", sales_document="123")
    assert info.value.code == "ZDF055" and "0000000123" in info.value.message


def test_exposure_follows_the_order_through_delivery_goods_issue_billing_and_payment(sim):
    start = exposure()
    created = order("PO-FLOW")
    gross = Decimal("6418.40")  # 5680.00 + 13 % VAT
    after_order = exposure()
    assert after_order["open_orders"] == start["open_orders"] + gross
    assert after_order["available"] == start["available"] - gross
    advance(sim, 2 * HOUR)  # delivery created
    delivered = exposure()
    assert delivered["open_orders"] == start["open_orders"]
    assert delivered["open_deliveries"] == start["open_deliveries"] + gross
    status = call("erp.get_sales_order_status", sales_document=created["sales_document"])
    assert re.fullmatch(r"80\d{6}", status["delivery"]) and status["goods_issue_status"] == "A"
    advance(sim, 22 * HOUR)  # goods issue
    issued = exposure()
    assert issued["open_deliveries"] == start["open_deliveries"]
    assert issued["open_billing"] == start["open_billing"] + gross
    advance(sim, HOUR)  # invoice
    billed = exposure()
    assert billed["open_billing"] == start["open_billing"]
    assert billed["receivables"] == start["receivables"] + gross
    assert billed["total_exposure"] == start["total_exposure"] + gross
    status = call("erp.get_sales_order_status", sales_document=created["sales_document"])
    assert re.fullmatch(r"90\d{6}", status["billing_document"])
    assert (status["goods_issue_status"], status["billing_status"]) == ("C", "C")
    advance(sim, 31 * 24 * HOUR)  # paid (and so is the opening balance)
    paid = exposure()
    assert paid["receivables"] == 0
    assert paid["total_exposure"] == start["total_exposure"] - start["receivables"]


def test_credit_blocked_order_adds_no_exposure_and_does_not_ship(sim):
    call("erp.set_credit_limit", key="7:limit", customer_number="10002", credit_limit="1000")
    before = exposure("10002")
    created = order("PO-BIG", customer_number="10002")
    assert created["credit_blocked"] is True and created["sales_document"]
    assert exposure("10002") == before
    advance(sim, 48 * HOUR)
    status = call("erp.get_sales_order_status", sales_document=created["sales_document"])
    assert status["credit_status"] == "B" and status["delivery"] is None


def test_delivery_appears_in_changed_since_after_simulated_time(sim):
    since = datetime.now(UTC) - timedelta(minutes=1)
    created = order("PO-DLV")
    empty = call("erp.get_deliveries_changed", changed_since=since.isoformat())
    assert empty["deliveries"] == []
    advance(sim, 3 * HOUR)
    found = call("erp.get_deliveries_changed", changed_since=empty["until"])
    [delivery] = found["deliveries"]
    assert delivery["sales_document"] == created["sales_document"]
    assert delivery["purchase_order_number"] == "PO-DLV" and delivery["goods_issued"] is False
    assert [i["material"] for i in delivery["items"]] == ["DF-BV-1001", "DF-SN-1001"]
    assert call("erp.get_deliveries_changed", changed_since=found["until"])["deliveries"] == []
    advance(sim, 22 * HOUR)
    [issued] = call("erp.get_deliveries_changed", changed_since=found["until"])["deliveries"]
    assert issued["delivery"] == delivery["delivery"]
    assert issued["goods_issue_status"] == "C" and issued["goods_issued"] is True
    assert issued["goods_issue_date"]
    only_other = call("erp.get_deliveries_changed", changed_since=since.isoformat(),
                      customer_number="10002")
    assert only_other["deliveries"] == []


def test_billing_documents_by_customer_period_and_by_order(sim):
    first, second = order("PO-B1"), order("PO-B2", customer_number="10002")
    advance(sim, 26 * HOUR)
    mine = call("erp.get_billing_documents", customer_number="10001")["billing_documents"]
    assert [d["sales_document"] for d in mine] == [first["sales_document"]]
    assert mine[0]["type"] == "F2" and mine[0]["net_value"] == "5680.00"
    assert mine[0]["tax"] == "738.40" and re.fullmatch(r"90\d{6}", mine[0]["billing_document"])
    by_order = call("erp.get_billing_documents", sales_document=second["sales_document"])
    assert [d["sold_to"] for d in by_order["billing_documents"]] == ["0000010002"]
    day = date.fromisoformat(mine[0]["date"])
    assert call("erp.get_billing_documents", customer_number="10001",
                date_from=(day + timedelta(days=1)).isoformat())["billing_documents"] == []
    with pytest.raises(BusinessError) as info:
        call("erp.get_billing_documents")
    assert info.value.code == "ZDF057"


def test_open_items_and_statement_for_a_period(sim):
    opening = call("erp.get_open_items", customer_number="10001")
    assert [i["amount"] for i in opening["items"]] == ["210000.00"]
    order("PO-AR")
    advance(sim, 26 * HOUR)
    items = call("erp.get_open_items", customer_number="10001")["items"]
    assert [i["amount"] for i in items] == ["210000.00", "6418.40"]
    invoice = items[1]
    assert invoice["type"] == "RV" and re.fullmatch(r"90\d{6}", invoice["billing_document"])
    today = date.fromisoformat(invoice["posting_date"])
    advance(sim, 31 * 24 * HOUR)
    assert call("erp.get_open_items", customer_number="10001")["items"] == []
    on_billing_day = call("erp.get_open_items", customer_number="10001",
                          key_date=today.isoformat())
    assert on_billing_day["total"] == "216418.40"  # open as of that day
    statement = call("erp.get_statement", customer_number="10001",
                     date_from=today.isoformat(),
                     date_to=(today + timedelta(days=40)).isoformat())
    kinds = [(i["type"], i["amount"]) for i in statement["items"]]
    assert ("RV", "6418.40") in kinds and ("DZ", "-6418.40") in kinds
    assert ("DZ", "-210000.00") in kinds  # the opening invoice was paid in the period
    assert statement["opening_balance"] == "210000.00"
    assert statement["closing_balance"] == "0.00"
    with pytest.raises(BusinessError) as info:
        call("erp.get_open_items", customer_number="4711")
    assert info.value.code == "ZDF021"
    with pytest.raises(BusinessError) as info:
        call("erp.get_statement", customer_number="10001", date_from="2026-02-01",
             date_to="2026-01-01")
    assert info.value.code == "ZDF058"


def test_materials_with_categories_sales_areas_and_plants(sim):
    everything = call("erp.get_materials")
    assert [m["material"] for m in everything["materials"]] == sorted(m[0] for m in MATERIALS)
    cola = next(m for m in everything["materials"] if m["material"] == "DF-BV-1001")
    assert cola["description"] == "清爽可乐 330ml×24罐" and cola["category"] == "BEVCSD"
    assert {p["plant"] for p in cola["plants"]} == {"1100", "2100"}
    assert {(a["sales_org"], a["distr_chan"]) for a in cola["sales_areas"]} == {
        ("1000", "10"), ("1000", "20"), ("2000", "10"), ("2000", "20")}
    tree = {c["code"]: c for c in everything["categories"]}
    assert tree["BEVCSD"]["parent"] == "BEV" and tree["BEV"]["parent"] is None
    south = call("erp.get_materials", sales_org="2000", language="en")
    assert "DF-PC-1001" not in {m["material"] for m in south["materials"]}
    assert next(m for m in south["materials"] if m["material"] == "DF-BV-1001")[
        "description"] == "Cola 330 ml x 24 cans"
    snacks = call("erp.get_materials", category="SNK")
    assert {m["category"] for m in snacks["materials"]} == {"SNKCHP", "SNKBIS"}


def test_price_conditions_written_then_read_back_and_used_by_orders(sim):
    written = call("erp.set_price_conditions", key="7:prices", conditions=[
        {"condition_type": "PR00", "sales_org": "1000", "distr_chan": "10",
         "material": "DF-BV-1001", "valid_from": "2030-01-01", "amount": "50.00"},
        {"condition_type": "K004", "sales_org": "1000", "distr_chan": "10",
         "material": "DF-BV-1001", "valid_from": "2020-01-01", "valid_to": "2099-12-31",
         "amount": "2.00"},
        {"condition_type": "K007", "sales_org": "1000", "distr_chan": "10",
         "customer_number": "10001", "valid_from": "2020-01-01", "amount": "5"}])
    numbers = [c["condition_number"] for c in written["conditions"]]
    assert all(re.fullmatch(r"\d{10}", n) for n in numbers) and len(set(numbers)) == 3
    prices = call("erp.get_price_conditions", condition_type="PR00", sales_org="1000",
                  distr_chan="10", material="DF-BV-1001")["conditions"]
    assert [(p["valid_from"], p["valid_to"], p["amount"]) for p in prices] == [
        ("2020-01-01", "2029-12-31", "48.00"), ("2030-01-01", "9999-12-31", "50.00")]
    later = call("erp.get_price_conditions", condition_type="PR00", material="DF-BV-1001",
                 sales_org="1000", distr_chan="10", valid_on="2031-06-01")["conditions"]
    assert [p["amount"] for p in later] == ["50.00"]
    k007 = call("erp.get_price_conditions", condition_type="K007", customer_number="10001")
    assert [(c["amount"], c["currency"]) for c in k007["conditions"]] == [("5.00", "%")]
    replay = call("erp.set_price_conditions", key="7:prices", conditions=[
        {"condition_type": "PR00", "sales_org": "1000", "distr_chan": "10",
         "material": "DF-BV-1001", "valid_from": "2030-01-01", "amount": "50.00"},
        {"condition_type": "K004", "sales_org": "1000", "distr_chan": "10",
         "material": "DF-BV-1001", "valid_from": "2020-01-01", "valid_to": "2099-12-31",
         "amount": "2.00"},
        {"condition_type": "K007", "sales_org": "1000", "distr_chan": "10",
         "customer_number": "10001", "valid_from": "2020-01-01", "amount": "5"}])
    assert [c["condition_number"] for c in replay["conditions"]] == numbers
    created = order("PO-PRICED", items=[{"material": "DF-BV-1001", "quantity": "10"}],
                    requested_date=date(2028, 5, 1).isoformat())
    status = call("erp.get_sales_order_status", sales_document=created["sales_document"])
    assert status["items"][0]["net_price"] == "43.70"  # (48 - 2) x 0.95


@pytest.mark.parametrize(("record", "code"), [
    ({"condition_type": "PR00", "material": "NOPE", "amount": "1"}, "ZDF040"),
    ({"condition_type": "PR00", "material": "DF-BV-1001", "amount": "0"}, "ZDF072"),
    ({"condition_type": "K007", "customer_number": "10001", "amount": "120"}, "ZDF072"),
    ({"condition_type": "K007", "customer_number": "4711", "amount": "1"}, "ZDF044"),
    ({"condition_type": "PR00", "material": "DF-BV-1001", "amount": "1",
      "valid_to": "2019-01-01"}, "ZDF074"),
    ({"condition_type": "ZK01", "material": "DF-BV-1001", "amount": "1"}, "ZDF070"),
    ({"condition_type": "PR00", "material": "DF-BV-1001", "amount": "1", "sales_org": "9999"},
     "ZDF071"),
])
def test_invalid_condition_records_write_nothing(sim, record, code):
    base = {"sales_org": "1000", "distr_chan": "10", "valid_from": "2020-01-01"}
    before = call("erp.get_price_conditions")["conditions"]
    with pytest.raises(BusinessError) as info:
        call("erp.set_price_conditions", conditions=[
            {"condition_type": "K004", "sales_org": "1000", "distr_chan": "10",
             "material": "DF-BV-1002", "valid_from": "2020-01-01", "amount": "1"},
            base | record])
    assert info.value.code == code
    assert call("erp.get_price_conditions")["conditions"] == before


def test_sales_order_exchange_is_logged_with_tables(sim):
    order("PO-LOG", key="9:order")
    [logged] = db.session.query(ErpMessage).filter_by(operation="erp.create_sales_order").all()
    assert logged.function == "BAPI_SALESORDER_CREATEFROMDAT2" and logged.outcome == "ok"
    assert "<PURCH_NO_C>PO-LOG</PURCH_NO_C>" in logged.request_xml
    assert "<REQ_QTY>100</REQ_QTY>" in logged.request_xml
    assert "<SALESDOCUMENT>" in logged.response_xml


def test_clock_admin_rejects_going_back(sim):
    import requests

    r = requests.post(f"{sim.base}/sim/admin/clock", json={"advance_seconds": -1}, timeout=5)
    assert r.status_code == 400 and "forward" in r.json()["error"]
    r = requests.post(f"{sim.base}/sim/admin/clock",
                      json={"lead_times": {"delivery_hours": 0}}, timeout=5)
    assert r.json()["lead_times"]["delivery_hours"] == 0


def test_concurrent_creates_of_one_purchase_order_make_one_order(app, sim):
    from concurrent.futures import ThreadPoolExecutor

    from connectors.erp.soap import ErpSettings, client_for

    settings = ErpSettings(url=app.config["ERP_URL"])
    tables = order_tables_for("PO-RACE")

    def create(_):
        return client_for(settings).call("BAPI_SALESORDER_CREATEFROMDAT2", **tables)[
            "SALESDOCUMENT"]

    with ThreadPoolExecutor(8) as pool:
        numbers = set(pool.map(create, range(16)))
    assert len(numbers) == 1 and sim.store.count_orders() == 1


def order_tables_for(po: str) -> dict:
    from app.erp.sales import CreateSalesOrderParams, order_tables

    return order_tables(CreateSalesOrderParams().load({
        "customer_number": "10001", "purchase_order_number": po, "sales_org": "1000",
        "distr_chan": "10", "items": [{"material": "DF-BV-2001", "quantity": "3"}]}))


@pytest.mark.parametrize("fault", [{"down": True}, {"fault_rate": 1}])
def test_injected_faults_reach_the_new_operations_as_technical_errors(sim, fault):
    from connectors.registry import ConnectorError

    sim.faults(**fault)
    with pytest.raises(ConnectorError):
        order("PO-FAULT")
    with pytest.raises(ConnectorError):
        call("erp.get_materials")
    sim.faults(down=False, fault_rate=0)
    assert sim.store.count_orders() == 0
    assert order("PO-FAULT")["sales_document"] == "0000500000"


@pytest.mark.parametrize("items", [
    [{"material": "DF-BV-1001", "quantity": "1e12"}],
    [{"material": "DF-BV-1001", "quantity": "1.0001"}],
    [{"item_number": "10", "material": "DF-BV-1001", "quantity": "1"},
     {"item_number": "10", "material": "DF-BV-1002", "quantity": "1"}],
])
def test_quantities_outside_quan_13_3_and_duplicate_items_are_business_errors(sim, items):
    with pytest.raises(BusinessError) as info:
        order("PO-ODD", items=items)
    assert info.value.code in ("ZDF043", "ZDF062")
    assert sim.store.count_orders() == 0


def test_a_condition_amount_that_does_not_fit_is_a_business_error(sim):
    with pytest.raises(BusinessError) as info:
        call("erp.set_price_conditions", conditions=[
            {"condition_type": "PR00", "sales_org": "1000", "distr_chan": "10",
             "material": "DF-BV-1001", "valid_from": "2030-01-01", "amount": "12345678901.5"}])
    assert info.value.code == "ZDF072"


def test_a_promotion_price_inside_the_list_price_splits_its_validity(sim):
    call("erp.set_price_conditions", key="7:promo", conditions=[
        {"condition_type": "PR00", "sales_org": "2000", "distr_chan": "20",
         "material": "DF-SN-2001", "valid_from": "2027-01-01", "valid_to": "2027-01-31",
         "amount": "90.00"}])
    prices = call("erp.get_price_conditions", condition_type="PR00", sales_org="2000",
                  distr_chan="20", material="DF-SN-2001")["conditions"]
    assert [(p["valid_from"], p["valid_to"], p["amount"]) for p in prices] == [
        ("2020-01-01", "2026-12-31", "100.80"), ("2027-01-01", "2027-01-31", "90.00"),
        ("2027-02-01", "9999-12-31", "100.80")]
    assert call("erp.get_price_conditions", condition_type="PR00", sales_org="2000",
                distr_chan="10", material="DF-SN-2001")["conditions"][0]["amount"] == "96.00"
