"""Time from the last human approval to the ERP customer, with an idle worker polling.

Everything is a real process: gunicorn (web), `flask erp-sim` (the ERP simulator) and
`flask worker` (APScheduler polling every WORKER_POLL_SECONDS), on one temp SQLite database.
Each admission (level A) is approved over HTTP by mgr_east, finance and the director; the clock
starts when the director's "complete" returns and stops when the instance, read over HTTP every
10 ms, shows the ERP customer number (the ERP created the customer and the dealer is linked).
Prints the median and p90 (target: median ≤ 1 s, poll interval included) for the default poll
interval and for a 1 s one, measured in the same run.

    .venv/bin/python bench/bench_erp_latency.py        (BENCH_LATENCY_N, default 20)
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c
import requests
from bench_journey import APPROVERS, Journey, _check, session_for

TARGET_S = 1.0


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([c.FLASK, *args], cwd=c.ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _approve_until_last(journey: Journey, instance_id: int) -> float:
    """Approve every step; the time the last approval returned."""
    base = journey.base
    for username, bpmn_id, extra in APPROVERS:
        s = journey.sessions[username]
        tasks = _check(s.get(base + "/api/v1/tasks", params={"scope": "group"}), 200, "list")
        task_id = next(t["id"] for t in tasks
                       if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id)
        _check(s.post(f"{base}/api/v1/tasks/{task_id}/claim"), 200, "claim")
        data = {"decision": "approve", "comment": "ok", **extra}
        _check(s.post(f"{base}/api/v1/tasks/{task_id}/complete", json={"data": data}), 200,
               "complete")
    return time.perf_counter()


def _measure(journey: Journey, admin: requests.Session, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        body = {"data": c.application(journey.licence_id, level="A")}
        r = journey.sessions["applicant"].post(
            journey.base + "/api/v1/processes/dealer_admission/instances", json=body)
        instance_id = _check(r, 201, "create")["id"]
        time.sleep(random.uniform(0, 1))  # approvals land at any phase of the worker's poll
        approved = _approve_until_last(journey, instance_id)
        deadline = approved + 30
        while time.perf_counter() < deadline:
            data = _check(admin.get(f"{journey.base}/api/v1/instances/{instance_id}"), 200,
                          "instance").get("data") or {}
            if data.get("erp_customer_number"):
                latencies.append(time.perf_counter() - approved)
                break
            time.sleep(0.01)
        else:
            raise RuntimeError(f"instance {instance_id}: no ERP customer after 30 s")
    return latencies


def main() -> None:
    n = c.env_int("BENCH_LATENCY_N", 20)
    c.header(f"Last approval → ERP customer, idle worker — {n} admissions per poll interval")
    sim_port = c.free_port()
    extra = {"DEALERFLOW_ERP_SIM_PORT": str(sim_port),
             "DEALERFLOW_ERP_URL": f"http://127.0.0.1:{sim_port}/sap/bc/srt/rfc/sap/zdealerflow"}
    rows = []
    with c.BenchServer(extra_env=extra) as server:
        env = dict(server.env, DEALERFLOW_ERP_SIM_DATABASE=str(server.tmp / "sim.db"))
        simulator = _start(["erp-sim", "--port", str(sim_port)], env, server.tmp / "sim.log")
        try:
            journey, admin = Journey(server.base_url), session_for(server.base_url, "admin")
            from config import Config

            default_poll = Config.WORKER_POLL_SECONDS
            for poll in (None, 1.0):
                worker_env = dict(env)
                if poll is not None:
                    worker_env["DEALERFLOW_WORKER_POLL_SECONDS"] = str(poll)
                worker = _start(["worker"], worker_env, server.tmp / "worker.log")
                try:
                    _measure(journey, admin, 2)  # warm up the worker's ERP client
                    latencies = _measure(journey, admin, n)
                finally:
                    _stop(worker)
                label = f"poll every {poll or default_poll} s" + (" (default)" if poll is None
                                                                  else "")
                rows.append([label, c.fmt(c.ms(c.median(latencies)), 0),
                             c.fmt(c.ms(c.p90(latencies)), 0),
                             c.fmt(c.ms(max(latencies)), 0)])
        finally:
            _stop(simulator)
    c.print_table(["idle worker", "median ms", "p90 ms", "max ms"], rows,
                  title="Last human approval → ERP customer number on the instance")
    print(f"target: median ≤ {TARGET_S * 1000:.0f} ms including the poll interval")


if __name__ == "__main__":
    main()
