"""Price import at scale: a 20,000-row .xlsx checked, approved and written to the ERP simulator.

In process, on a temp SQLite database (tables from the models, demo seed, processes deployed)
and a live ERP simulator (SOAP over loopback). The workbook names the simulator's materials,
each with 2,000 one-day validity periods in sales area 1000/10, so every row is a distinct
condition record the ERP accepts.

Figures (BENCH_IMPORT_N repetitions, median):
- baseline: reading the workbook once with openpyxl (read-only), the floor of any import;
- check only: the background run over 20,000 rows with one bad row (all or nothing: no change);
- full: the good workbook → price change (lines, old prices), then approval → ERP write (40
  SOAP batches of 500) → catalogue prices; measured once.
"""

import io
import os
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c  # noqa: E402  (puts the repository on sys.path)

ROWS = 20_000
N = int(os.environ.get("BENCH_IMPORT_N", "3"))


def workbook(materials: list[str], bad_last: bool) -> bytes:
    from openpyxl import Workbook

    from app.pricing.imports import HEADER

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Prices")
    sheet.append(list(HEADER))
    start = date(2030, 1, 1)
    per = ROWS // len(materials)
    for m, material in enumerate(materials):
        for n in range(per):
            day = start + timedelta(days=n)
            amount = 0 if bad_last and m == len(materials) - 1 and n == per - 1 else 40 + (n % 50) / 10
            sheet.append([material, "", amount, "CNY", day, day, "1000", "10"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> int:
    from openpyxl import load_workbook
    from werkzeug.serving import make_server

    from app import create_app
    from app.admin.demo import seed_demo
    from app.catalog.services import upsert_materials, upsert_prices
    from app.engine.services import deploy_directory
    from app.extensions import db
    from app.jobs.services import run_due_jobs
    from app.pricing.imports import run_queued_imports
    from app.pricing.models import PriceChange, PriceImport
    from connectors.erp import simulator_catalogue as sim_cat
    from connectors.erp.simulator import SOAP_PATH, create_simulator

    tmp = Path(tempfile.mkdtemp(prefix="bench-price-import-"))
    simulator = create_simulator({"database": str(tmp / "erp-sim.db")})
    server = make_server("127.0.0.1", 0, simulator, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "bench",
            "UPLOAD_DIR": str(tmp / "up"),
            "JOB_BACKOFF_SECONDS": 0,
            "DEPLOY_ON_STARTUP": False,
            "ERP_URL": f"http://127.0.0.1:{server.server_port}{SOAP_PATH}",
            "ERP_TIMEOUT_SECONDS": 30,
        }
    )
    materials = [m[0] for m in sim_cat.MATERIALS]
    with app.app_context():
        db.create_all()
        seed_demo()
        deploy_directory(actor="bench")
        upsert_materials(
            [{"material": m, "name_zh": m, "sales_areas": [("1000", "10", "00")]} for m in materials]
        )
        upsert_prices(
            [
                {
                    "material": m,
                    "sales_org": "1000",
                    "distr_chan": "10",
                    "amount": Decimal("48.00"),
                    "valid_from": date(2020, 1, 1),
                }
                for m in materials
            ]
        )
        db.session.commit()

        client = app.test_client()
        token = client.post("/api/v1/auth/token", json={"username": "cs", "password": "demo"}).json["token"]
        cs = {"Authorization": f"Bearer {token}"}
        bad, good = workbook(materials, bad_last=True), workbook(materials, bad_last=False)
        print(f"workbook: {ROWS:,} rows, {len(good) / 1024:.0f} KB; machine load {os.getloadavg()[0]:.1f}")

        def upload(content: bytes, policy: str) -> int:
            r = client.post(
                "/api/v1/price-imports",
                headers=cs,
                content_type="multipart/form-data",
                data={"file": (io.BytesIO(content), "prices.xlsx"), "policy": policy, "reason": "bench"},
            )
            assert r.status_code == 202, r.json
            return r.json["id"]

        baseline, check = [], []
        for _ in range(N):
            t0 = time.perf_counter()
            book = load_workbook(io.BytesIO(bad), read_only=True)
            sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
            book.close()
            baseline.append(time.perf_counter() - t0)
            import_id = upload(bad, "all_or_nothing")
            t0 = time.perf_counter()
            run_queued_imports()
            check.append(time.perf_counter() - t0)
            assert db.session.get(PriceImport, import_id).status == "invalid"

        import_id = upload(good, "all_or_nothing")
        t0 = time.perf_counter()
        run_queued_imports()
        to_change = time.perf_counter() - t0
        change_id = db.session.get(PriceImport, import_id).price_change_id
        token = client.post("/api/v1/auth/token", json={"username": "director", "password": "demo"}).json[
            "token"
        ]
        director = {"Authorization": f"Bearer {token}"}
        [task] = [
            t
            for t in client.get("/api/v1/tasks?scope=group", headers=director).json
            if t["bpmn_id"] == "director_review"
        ]
        client.post(f"/api/v1/tasks/{task['id']}/claim", headers=director)
        t0 = time.perf_counter()
        client.post(
            f"/api/v1/tasks/{task['id']}/complete",
            headers=director,
            json={"data": {"decision": "approve", "comment": "ok"}},
        )
        while run_due_jobs("bench"):
            pass
        to_erp = time.perf_counter() - t0
        change = db.session.get(PriceChange, change_id)
        status, lines = change.status, change.line_count
    server.shutdown()
    c.print_table(
        ["step", "median s", "x baseline"],
        [
            ["baseline: openpyxl reads the workbook", c.median(baseline), 1.0],
            [
                "check 20,000 rows (1 bad, nothing applied)",
                c.median(check),
                c.median(check) / c.median(baseline),
            ],
            ["good workbook → price change", to_change, to_change / c.median(baseline)],
            ["approve → ERP write → catalogue", to_erp, to_erp / c.median(baseline)],
        ],
        title=f"Price import, {ROWS:,} rows (N={N}); final change: {status}, {lines:,} lines",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
