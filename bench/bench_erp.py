"""ERP round trip: the zeep client vs a raw requests POST of the same envelope.

Starts the ERP simulator in a werkzeug thread (temp SQLite file), then times N credit-status
calls each way (BAPI_CREDIT_ACCOUNT_GET_STATUS of a seeded dealer) and prints medians, p95 and
the ratio. Figures only. BENCH_ERP_N sets N (default 200). Runs in a few seconds.
"""

import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.erp.simulator import SOAP_PATH, create_simulator  # noqa: E402
from connectors.erp.soap import ErpClient, ErpSettings  # noqa: E402

N = int(os.environ.get("BENCH_ERP_N", "200"))
PARAMS = {"CUSTOMER": "0000010001", "CREDITCONTROLAREA": "1000"}


def _timed(fn, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per call
    with tempfile.TemporaryDirectory() as tmp:
        server = make_server("127.0.0.1", 0, create_simulator({"database": f"{tmp}/sim.db"}),
                             threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}{SOAP_PATH}"
        try:
            run(url)
        finally:
            server.shutdown()
            server.server_close()


def run(url: str) -> None:
    client = ErpClient(ErpSettings(url=url, timeout=5))
    captured = []
    client.call("BAPI_CREDIT_ACCOUNT_GET_STATUS", on_exchange=captured.append, **PARAMS)
    envelope = captured[0].request_xml.encode()
    session = requests.Session()
    headers = dict(captured[0].request_headers)

    def raw():
        r = session.post(url, data=envelope, headers=headers, timeout=5)
        assert r.status_code == 200 and b"CREDIT_LIMIT" in r.content

    def zeep_call():
        client.call("BAPI_CREDIT_ACCOUNT_GET_STATUS", **PARAMS)

    for fn in (raw, zeep_call):
        _timed(fn, 20)  # warm-up
    raw_ms, zeep_ms = _timed(raw, N), _timed(zeep_call, N)
    print(f"ERP round trip, BAPI_CREDIT_ACCOUNT_GET_STATUS, {N} calls each (werkzeug threaded)")
    print(f"{'client':<28} {'median ms':>10} {'p95 ms':>8}")
    for name, values in (("raw requests POST", raw_ms), ("zeep (ErpClient.call)", zeep_ms)):
        print(f"{name:<28} {statistics.median(values):>10.2f} {_p95(values):>8.2f}")
    ratio = statistics.median(zeep_ms) / statistics.median(raw_ms)
    print(f"zeep / raw median ratio: {ratio:.2f}x "
          f"(+{statistics.median(zeep_ms) - statistics.median(raw_ms):.2f} ms per call)")


if __name__ == "__main__":
    main()
