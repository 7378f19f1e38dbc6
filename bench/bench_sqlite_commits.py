"""SQLite commit latency with WAL checkpoints in a background thread vs inside commits.

SQLite copies its WAL into the database file (and fsyncs it) inside whichever commit pushes
the WAL past 1,000 pages: every few approvals, one request pays a few milliseconds. With
``SQLITE_CHECKPOINT_SECONDS`` > 0 (the default) a thread per process checkpoints instead.

Runs the 3-approval admission journey in-process (the WSGI app called directly, no HTTP)
on two fresh databases in the same run, alternating blocks of instances between them: one
with the checkpoint thread (default), one with ``SQLITE_CHECKPOINT_SECONDS=0`` (the baseline,
SQLite's own checkpoint). Prints, per setting, the commit-time distribution (median, p99, how
many commits took over 1 ms and their total) and the journey's median and p90.

    .venv/bin/python bench/bench_sqlite_commits.py        (BENCH_N instances each, default 200)
"""

import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c
from bench_journey import APPROVERS

BLOCK = 20


def _call(app, method: str, path: str, token: str, body=None, query: str = ""):
    data = json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
               "wsgi.errors": sys.stderr, "wsgi.multithread": False,
               "wsgi.multiprocess": False, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {token}",
               "CONTENT_LENGTH": str(len(data))}
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
    status = []
    out = b"".join(app.wsgi_app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0][:3]), out


class Setup:
    """A fresh service app on its own SQLite file, logged-in tokens and a licence."""

    def __init__(self, seconds: float):
        self.tmp = c.temp_dir()
        self.app = c.make_service_app(self.tmp, config={"SQLITE_CHECKPOINT_SECONDS": seconds})
        client = self.app.test_client()
        self.tokens = {}
        for user in ["applicant"] + [a[0] for a in APPROVERS]:
            r = client.post("/api/v1/auth/token", json={"username": user, "password": "demo"})
            self.tokens[user] = r.get_json()["token"]
        with self.app.app_context():
            from app.extensions import db

            self.licence = c.add_attachment("applicant")
            db.session.commit()
            db.session.remove()
        self.commits: list[float] = []
        self.journeys: list[float] = []

    def journey(self) -> None:
        t0 = time.perf_counter()
        status, out = _call(self.app, "POST", "/api/v1/processes/dealer_admission/instances",
                            self.tokens["applicant"],
                            {"data": c.application(self.licence, level="A")})
        if status != 201:
            raise SystemExit(f"create: HTTP {status} {out[:300]!r}")
        instance_id = json.loads(out)["id"]
        for user, bpmn_id, extra in APPROVERS:
            _, out = _call(self.app, "GET", "/api/v1/tasks", self.tokens[user], query="scope=group")
            task_id = next(t["id"] for t in json.loads(out)
                           if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id)
            for path, body in ((f"/api/v1/tasks/{task_id}/claim", None),
                               (f"/api/v1/tasks/{task_id}/complete",
                                {"data": {"decision": "approve", "comment": "ok", **extra}})):
                status, out = _call(self.app, "POST", path, self.tokens[user], body)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status} {out[:300]!r}")
        self.journeys.append(time.perf_counter() - t0)


def main() -> None:
    n = c.env_int("BENCH_N", 200)
    c.header(f"SQLite commits: WAL checkpoint thread vs checkpoints inside commits ({n} instances each)")
    c.quiet_logging()
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    setups = {"checkpoint thread (default)": Setup(1.0), "inside commits (baseline)": Setup(0)}
    c.quiet_logging()
    current: list = [None]
    original = SQLiteDialect_pysqlite.do_commit

    def timed_commit(self, dbapi_connection):
        t0 = time.perf_counter()
        original(self, dbapi_connection)
        if current[0] is not None:
            current[0].commits.append(time.perf_counter() - t0)

    SQLiteDialect_pysqlite.do_commit = timed_commit
    try:
        for setup in setups.values():  # warm-up, not measured
            for _ in range(BLOCK):
                setup.journey()
            setup.journeys.clear()
        while any(len(s.journeys) < n for s in setups.values()):
            for setup in setups.values():
                current[0] = setup
                for _ in range(min(BLOCK, n - len(setup.journeys))):
                    setup.journey()
                current[0] = None
    finally:
        SQLiteDialect_pysqlite.do_commit = original
    rows = []
    for label, s in setups.items():
        slow = [t for t in s.commits if t > 0.001]
        rows.append([label, len(s.commits), c.fmt(c.ms(c.median(s.commits)), 3),
                     c.fmt(c.ms(c.percentile(s.commits, 99)), 2), len(slow),
                     c.fmt(c.ms(sum(slow)), 1), c.fmt(c.ms(sum(s.commits)) / len(s.journeys), 2),
                     c.fmt(c.ms(c.median(s.journeys))), c.fmt(c.ms(c.p90(s.journeys)))])
    c.print_table(["checkpoints", "commits", "median ms", "p99 ms", "> 1 ms", "their ms",
                   "commit ms / instance", "instance median", "p90"], rows,
                  title="In-process journeys (no HTTP), alternating blocks of "
                        f"{BLOCK} instances")
    base, thread = setups["inside commits (baseline)"], setups["checkpoint thread (default)"]
    print(f"commit time per instance: thread / baseline = "
          f"{sum(thread.commits) / max(sum(base.commits), 1e-9):.2f}; instance p90: "
          f"{c.p90(thread.journeys) / c.p90(base.journeys):.2f}; median: "
          f"{c.median(thread.journeys) / c.median(base.journeys):.2f}")


if __name__ == "__main__":
    main()
