"""Run every Dealerflow benchmark in sequence (`make bench`); each in its own process.

Figures only, no assertions. Environment knobs: BENCH_N / BENCH_WARMUP (journey),
BENCH_SCALE_N / BENCH_SCALE_TASKS / BENCH_LIST_N (inbox at scale), BENCH_LOOPS (return
loop), BENCH_ENGINE_N (engine overhead), BENCH_BATCH_N / BENCH_BATCH_REPS / BENCH_SIGN_N
(approval operations), BENCH_FILTER_TASKS / BENCH_FILTER_N (inbox filters).
BENCH_ONLY=journey,engine runs a subset.
(approval operations), BENCH_ORDER_N (order to ERP), BENCH_SECONDS / BENCH_DEALERS (order
load). BENCH_MODELER_N (modeler). BENCH_ONLY=journey,engine runs a subset.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BENCHES = [
    ("journey", "bench_journey.py", "Whole 3-approval instance over HTTP"),
    ("inbox", "bench_inbox_scale.py", "Inbox at scale (100,000 open tasks)"),
    ("return", "bench_return_loop.py", "Return for revision 1,000 times"),
    ("commits", "bench_sqlite_commits.py", "SQLite commits: WAL checkpoint thread vs in commits"),
    ("engine", "bench_engine_overhead.py", "Platform vs raw SpiffWorkflow"),
    ("worker", "bench_worker.py", "Worker throughput with real SOAP calls"),
    ("erp", "bench_erp.py", "zeep vs raw requests round trip"),
    ("promotions", "bench_promotions.py", "Promotion engine: 200 lines x 50 promotions"),
    ("catalog", "bench_catalog.py", "Catalogue page with 5,000 products"),
    ("messages", "bench_messages.py", "Message delivery: correlation keys, business key, BPMN key"),
    ("erp_sales", "bench_erp_sales.py", "ERP sales-side round trips vs credit status"),
    ("latency", "bench_erp_latency.py", "Last approval to ERP customer, idle worker"),
    ("scaleout", "bench_workers_pg.py", "Two workers on one PostgreSQL (needs BENCH_PG_URL)"),
    ("order_erp", "bench_order_erp.py", "Order to ERP sales orders, idle worker"),
    ("load_orders", "bench_load_orders.py", "50 dealers ordering on PostgreSQL (needs BENCH_PG_URL)"),
    ("operations", "bench_task_operations.py", "Batch approve and countersign latency"),
    ("inbox_filters", "bench_inbox_filters.py", "Inbox filters, counts and the timeout scan"),
    ("stores", "stores.py", "Stores: 10,000 stores' inspections and the ledger page"),
    ("portal", "bench_portal.py", "Dealer portal: dashboard, announcements, staff order list"),
    ("price_import", "bench_price_import.py", "Price import: 20,000 rows to the ERP"),
    ("modeler", "bench_modeler.py", "Modeler pages, model check and the instance diagram"),
]


def main() -> int:
    only = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
    failed = []
    t_all = time.perf_counter()
    for key, script, title in BENCHES:
        if only and key not in only:
            continue
        print("\n" + "#" * 78)
        print(f"# {title}  ({script})")
        print("#" * 78, flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script)], cwd=ROOT)
        print(f"# {script}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(script)
    print(f"\nAll benchmarks done in {time.perf_counter() - t_all:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
