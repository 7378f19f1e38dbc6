"""ERP sales-side round trips through the zeep client, against a credit-status baseline.

Starts the ERP simulator in a werkzeug thread (temp SQLite file) and times, in the same run:
BAPI_CREDIT_ACCOUNT_GET_STATUS (the baseline: the smallest call), BAPI_SALESORDER_CREATEFROMDAT2
(two items, a new purchase order each time), a repeated create (answered by the PURCH_NO_C
dedupe), BAPI_SALESORDER_GETSTATUS, ZDF_MATERIALS_GET (whole catalogue) and
ZDF_DELIVERIES_GET_CHANGED after the clock moved one day (every order delivered). Prints medians,
p95 and each median's ratio to the baseline. Figures only. BENCH_ERP_N sets N (default 200).
"""

import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.erp.simulator import SOAP_PATH, create_simulator  # noqa: E402
from connectors.erp.soap import ErpClient, ErpSettings  # noqa: E402

N = int(os.environ.get("BENCH_ERP_N", "200"))


def _timed(fn, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def _order(po: str) -> dict:
    return {"ORDER_HEADER_IN": {"DOC_TYPE": "TA", "SALES_ORG": "1000", "DISTR_CHAN": "10",
                                "DIVISION": "00", "PURCH_NO_C": po},
            "ORDER_PARTNERS": {"item": [{"PARTN_ROLE": "AG", "PARTN_NUMB": "0000010001"}]},
            "ORDER_ITEMS_IN": {"item": [{"ITM_NUMBER": "000010", "MATERIAL": "DF-BV-1001"},
                                        {"ITM_NUMBER": "000020", "MATERIAL": "DF-SN-1001"}]},
            "ORDER_SCHEDULES_IN": {"item": [{"ITM_NUMBER": "000010", "REQ_QTY": "1"},
                                            {"ITM_NUMBER": "000020", "REQ_QTY": "1"}]}}


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        server = make_server("127.0.0.1", 0, create_simulator({"database": f"{tmp}/sim.db"}),
                             threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            run(base)
        finally:
            server.shutdown()
            server.server_close()


def run(base: str) -> None:
    client = ErpClient(ErpSettings(url=base + SOAP_PATH, timeout=5))
    numbers = count()
    last = {}

    def credit():
        client.call("BAPI_CREDIT_ACCOUNT_GET_STATUS", CUSTOMER="0000010001",
                    CREDITCONTROLAREA="1000")

    def create():
        last["doc"] = client.call("BAPI_SALESORDER_CREATEFROMDAT2",
                                  **_order(f"BENCH-{next(numbers)}"))["SALESDOCUMENT"]

    def repeat():
        client.call("BAPI_SALESORDER_CREATEFROMDAT2", **_order("BENCH-0"))

    def status():
        client.call("BAPI_SALESORDER_GETSTATUS", SALESDOCUMENT=last["doc"])

    def materials():
        client.call("ZDF_MATERIALS_GET")

    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y%m%d%H%M%S")

    def deliveries():
        client.call("ZDF_DELIVERIES_GET_CHANGED", CHANGED_SINCE=since)

    for fn in (credit, create, status, materials):
        _timed(fn, 10)  # warm-up
    rows = [("credit status (baseline)", _timed(credit, N)),
            ("create sales order", _timed(create, N)),
            ("create again (dedupe)", _timed(repeat, N)),
            ("sales order status", _timed(status, N)),
            ("materials (catalogue)", _timed(materials, N))]
    r = requests.post(f"{base}/sim/admin/clock", json={"advance_seconds": 86400}, timeout=5)
    r.raise_for_status()
    orders = N + 10
    rows.append((f"deliveries changed ({orders})", _timed(deliveries, max(N // 10, 5))))
    baseline = statistics.median(rows[0][1])
    print(f"ERP sales round trips through zeep, {N} calls each (werkzeug threaded)")
    print(f"{'call':<30} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11}")
    for name, values in rows:
        median = statistics.median(values)
        print(f"{name:<30} {median:>10.2f} {_p95(values):>8.2f} {median / baseline:>10.2f}x")


if __name__ == "__main__":
    main()
