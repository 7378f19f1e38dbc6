"""Service-task throughput of one worker: each task a real zeep call to the ERP simulator.

N instances of a one-service-task process (``erp.get_credit_status``) are started, then one
in-process worker (``run_due_jobs``, WORKER_CONCURRENCY calls at once) works the queue; the ERP
simulator runs in its own process over loopback HTTP, first as `flask erp-sim` serves it
(werkzeug, which closes every connection), then under gunicorn with keep-alive. Prints tasks/s
(target ≥ 150 on SQLite) and, as the baseline measured in the same run, the same queue with a
no-op operation (``platform.echo``), and the ratio, and the CPU the worker process spent per
task (all its threads): on a shared machine the rate follows the load, the CPU far less.

    .venv/bin/python bench/bench_worker.py        (BENCH_WORKER_N, default 300)
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c
import requests

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="PID" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:serviceTask id="call"><bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="OP" resultVariable="result"><spiffworkflow:parameters>
      PARAMS</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
  <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""
ERP_PARAM = '<spiffworkflow:parameter id="customer_number" type="str" value="\'0000010001\'"/>'


def _model(pid: str, op: str, params: str) -> bytes:
    return MODEL.replace("PID", pid).replace("OP", op).replace("PARAMS", params).encode()


def _start_simulator(tmp: Path, server: str = "werkzeug") -> tuple[str, subprocess.Popen]:
    """The simulator in its own process (no shared GIL).

    ``werkzeug``: as `flask erp-sim` serves it (threaded; a new connection per call, since the
    werkzeug server always closes). ``gunicorn``: the same app under gunicorn's threaded worker
    with keep-alive, the way a SAP ICM endpoint keeps connections open.
    """
    from connectors.erp.simulator import SOAP_PATH

    port = c.free_port()
    factory = f"connectors.erp.simulator:create_simulator({{'database': '{tmp / 'sim.db'}'}})"
    if server == "gunicorn":
        cmd = [c.GUNICORN, "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
               "--workers", "1", "--threads", "16", "--keep-alive", "30", "--log-level",
               "warning", factory]
    else:
        cmd = [sys.executable, "-c", SIMULATOR, str(port), str(tmp / "sim.db")]
    proc = subprocess.Popen(cmd, cwd=c.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(base + "/sap/bc/srt/wsdl", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    return base + SOAP_PATH, proc


SIMULATOR = """
import sys
from werkzeug.serving import run_simple
from connectors.erp.simulator import create_simulator
run_simple("127.0.0.1", int(sys.argv[1]), create_simulator({"database": sys.argv[2]}),
           threaded=True)
"""


def _queue_and_drain(app, pid: str, n: int) -> float:
    from app.core.models import User
    from app.extensions import db
    from app.jobs.services import run_due_jobs
    from app.tasks.services import start_instance

    with app.app_context():
        admin = User.by_username("admin")
        for _ in range(n):
            start_instance(pid, admin, None)
        db.session.commit()
        t0, cpu0 = time.perf_counter(), time.process_time()
        done = run_due_jobs("bench", limit=n + 10)
        elapsed = time.perf_counter() - t0
        CPU_MS[pid] = (time.process_time() - cpu0) * 1000 / n  # every thread of this process
        assert done == n, done
    return elapsed


CPU_MS: dict[str, float] = {}  # worker CPU per task of the last drain of each process


def run(app, n: int) -> None:
    from app.engine.services import deploy_files
    from app.extensions import db

    with app.app_context():
        deploy_files({"erp.bpmn": _model("erp_bench", "erp.get_credit_status", ERP_PARAM),
                      "noop.bpmn": _model("noop_bench", "platform.echo", "")}, "bench")
        db.session.commit()
    concurrency = app.config["WORKER_CONCURRENCY"]
    rows, figures = [], {}
    for server in ("werkzeug", "gunicorn"):
        url, simulator = _start_simulator(Path(app.instance_path), server)
        app.config["ERP_URL"] = url
        try:
            _queue_and_drain(app, "erp_bench", 40)  # warm up zeep (a client per thread) and caches
            if server == "werkzeug":
                noop = _queue_and_drain(app, "noop_bench", n)
                rows.append(["no-op operation (baseline)", c.fmt(n / noop, 0),
                             c.fmt(noop * 1000 / n), "-", c.fmt(CPU_MS["noop_bench"])])
                app.config["WORKER_CONCURRENCY"] = 1
                serial = _queue_and_drain(app, "erp_bench", n)
                app.config["WORKER_CONCURRENCY"] = concurrency
                rows.append(["erp.get_credit_status, one call at a time, `flask erp-sim`",
                             c.fmt(n / serial, 0), c.fmt(serial * 1000 / n),
                             f"{serial / noop:.2f}×", c.fmt(CPU_MS["erp_bench"])])
            erp = figures[server] = _queue_and_drain(app, "erp_bench", n)
        finally:
            os.killpg(simulator.pid, signal.SIGTERM)
            simulator.wait(timeout=10)
        label = {"werkzeug": f"{concurrency} at once, `flask erp-sim` (werkzeug, no keep-alive)",
                 "gunicorn": f"{concurrency} at once, simulator under gunicorn, keep-alive"}[server]
        rows.append([f"erp.get_credit_status, {label}", c.fmt(n / erp, 0),
                     c.fmt(erp * 1000 / n), f"{erp / noop:.2f}×", c.fmt(CPU_MS["erp_bench"])])
    c.print_table(["one worker, SQLite", "tasks/s", "ms/task", "vs no-op", "worker CPU ms/task"],
                  rows,
                  title=f"Service-task throughput ({n} tasks each)")
    best = n / min(figures.values())
    print(f"target ≥ 150 tasks/s: {best:.0f} tasks/s at best "
          f"({'meets' if best >= 150 else 'misses'}); no-op baseline {n / noop:.0f} tasks/s; "
          f"{concurrency} calls at once vs one at a time: {serial / min(figures.values()):.2f}×")
    cpu = CPU_MS["erp_bench"]
    print(f"worker CPU per ERP task {cpu:.2f} ms: one free core runs at most {1000 / cpu:.0f} "
          "tasks/s (the simulator runs in its own process)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"(load average at the end: {load})")


def main() -> None:
    n = c.env_int("BENCH_WORKER_N", 300)
    c.header(f"Worker throughput — {n} service tasks, real SOAP calls over loopback")
    c.with_service_app(run, n)


if __name__ == "__main__":
    main()
