"""Modeler pages and the instance diagram, in process (Flask test client, temp SQLite).

Data: the demo users and the shipped processes; one dealer admission instance waiting at its
first approval. Measured BENCH_MODELER_N (50) times each, median and p90:
- baseline: ``GET /api/v1/instances/{id}`` (the instance with its tasks and data);
- ``GET /api/v1/instances/{id}/diagram`` (version XML + element states from the workflow);
- the process list ``/modeler`` and the editor page ``/modeler/dealer_admission``;
- ``POST /modeler/check`` with the dealer admission XML vs ``POST /api/v1/processes/check``
  with the same file (the page adds the bundle's other files and the JSON body).

    .venv/bin/python bench/bench_modeler.py
"""

import io
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common as c

N = int(os.environ.get("BENCH_MODELER_N", "50"))
KEY = "dealer_admission"


def timed(call, expect: int = 200) -> list[float]:
    for _ in range(3):
        call()
    out = []
    for _ in range(N):
        t0 = time.perf_counter()
        r = call()
        out.append(time.perf_counter() - t0)
        if r.status_code != expect:
            raise SystemExit(f"HTTP {r.status_code}: {r.data[:300]!r}")
    return out


def main() -> None:
    tmp = c.temp_dir("bench-modeler-")
    try:
        c.quiet_logging()
        app = c.make_service_app(tmp)
        app.config["WTF_CSRF_ENABLED"] = False
        c.quiet_logging()
        with app.app_context():
            from app.extensions import db

            licence = c.add_attachment()
            db.session.commit()
        applicant, analyst = c.logged_in_client(app, "applicant"), c.logged_in_client(app, "analyst")
        r = applicant.post(f"/api/v1/processes/{KEY}/instances",
                           json={"data": c.application(licence)})
        if r.status_code != 201:
            raise SystemExit(f"start: HTTP {r.status_code} {r.json}")
        iid = r.json["id"]
        xml = analyst.get(f"/modeler/{KEY}/download").data
        base = timed(lambda: analyst.get(f"/api/v1/instances/{iid}"))
        api_check = timed(lambda: analyst.post(
            "/api/v1/processes/check", content_type="multipart/form-data",
            data={"files": [(io.BytesIO(xml), f"{KEY}.bpmn"),
                            (io.BytesIO((Path(app.config["PROCESSES_DIR"])
                                         / "credit_decision.dmn").read_bytes()),
                             "credit_decision.dmn")]}))
        rows = []
        for label, values in [
            ("baseline: GET /api/v1/instances/{id}", base),
            ("GET /api/v1/instances/{id}/diagram",
             timed(lambda: analyst.get(f"/api/v1/instances/{iid}/diagram"))),
            ("GET /modeler (process list)", timed(lambda: analyst.get("/modeler"))),
            (f"GET /modeler/{KEY} (editor page)", timed(lambda: analyst.get(f"/modeler/{KEY}"))),
            ("POST /api/v1/processes/check (reference)", api_check),
            ("POST /modeler/check", timed(lambda: analyst.post(
                "/modeler/check", json={"xml": xml.decode(), "filename": f"{KEY}.bpmn",
                                        "key": KEY}))),
        ]:
            rows.append((label, c.ms(c.median(values)), c.ms(c.p90(values)),
                         c.median(values) / c.median(base)))
        c.print_table(["request", "median ms", "p90 ms", "× baseline"], rows,
                      title=f"Modeler and instance diagram, in process, n={N}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
