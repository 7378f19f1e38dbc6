"""Where the time of POST /api/v1/tasks/{id}/complete goes (in-process, Flask test client).

Not part of run_all (cProfile roughly doubles SQLAlchemy-heavy code). Prints:
- wall-clock medians without the profiler for /healthz, list, claim and complete through
  the WSGI app in-process (no TCP, no gunicorn, no requests);
- SQL statements per request;
- a cProfile of BENCH_PROFILE_N complete calls: self time by package and the top functions.

    .venv/bin/python bench/profile_complete.py
"""

import cProfile
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

HERE = str(c.ROOT).replace("\\", "/") + "/"


def _bucket(filename: str) -> str:
    f = filename.replace("\\", "/")
    for key, name in (("/sqlalchemy/", "sqlalchemy"), ("/SpiffWorkflow/", "SpiffWorkflow"),
                      ("/marshmallow/", "marshmallow"), ("/flask_smorest/", "flask_smorest"),
                      ("/werkzeug/", "werkzeug"), ("/flask_login/", "flask_login"),
                      ("/flask_babel/", "flask_babel"), ("/babel/", "babel"),
                      ("/flask/", "flask"), ("/jinja2/", "jinja2"), ("/webargs/", "webargs"),
                      (HERE + "app/", "app"), (HERE + "connectors/", "app"),
                      ("/lxml/", "lxml"), ("/yaml/", "yaml")):
        if key in f:
            return name
    if f.startswith("~") or f == "" or "{" in f:
        return "builtins/C (sqlite3, json, hashlib …)"
    if "/lib/python3" in f and "site-packages" not in f:
        return "stdlib (python)"
    return "other"


def main() -> None:
    n = c.env_int("BENCH_PROFILE_N", 200)
    c.header(f"Profile of the complete endpoint in-process ({n} calls)")
    c.with_service_app(run, n)


def run(app, n: int) -> None:
    from sqlalchemy import event

    from app.core.models import User
    from app.extensions import db
    from app.tasks import services as ts

    total = 3 * n + 20
    with app.app_context():
        applicant = User.by_username("applicant")
        licence = c.add_attachment("applicant")
        db.session.commit()
        for _ in range(total):
            ts.start_instance("dealer_admission", applicant, c.application(licence, level="A"))
            db.session.commit()
        db.session.remove()

    client = app.test_client()
    tok = client.post("/api/v1/auth/token", json={"username": "mgr_east", "password": "demo"})
    headers = {"Authorization": f"Bearer {tok.json['token']}"}

    atok = client.post("/api/v1/auth/token", json={"username": "applicant", "password": "demo"})
    aheaders = {"Authorization": f"Bearer {atok.json['token']}"}

    from app.core import sql as core_sql

    class Counter:
        """SQL statements: SQLAlchemy cursor events plus those sent by prepared statements."""

        def __init__(self):
            self.events = 0
            self.raw_at = core_sql.sent["statements"]

        def __getitem__(self, _key):
            return self.events + core_sql.sent["statements"] - self.raw_at

        def __setitem__(self, _key, value):
            self.events, self.raw_at = value, core_sql.sent["statements"]

    counter = Counter()
    with app.app_context():
        engine = db.engine

    def _count(*_a, **_k):
        counter.events += 1

    def one(path, method="get", **kw):
        t0 = time.perf_counter()
        r = getattr(client, method)(path, headers=headers, **kw)
        dt = time.perf_counter() - t0
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.data[:300]!r}")
        return r, c.ms(dt)

    def next_task():
        r, _ = one("/api/v1/tasks?scope=group&limit=1")
        return r.json[0]["id"]

    # wall clock without profiler
    samples = defaultdict(list)
    sql = defaultdict(list)
    event.listen(engine, "before_cursor_execute", _count)
    for _ in range(n + 10):
        counter["n"] = 0
        _, dt = one("/healthz")
        samples["GET /healthz"].append(dt)
        sql["GET /healthz"].append(counter["n"])
        counter["n"] = 0
        _, dt = one("/api/v1/tasks?scope=group")
        samples["GET /tasks?scope=group"].append(dt)
        sql["GET /tasks?scope=group"].append(counter["n"])
        task_id = next_task()
        counter["n"] = 0
        _, dt = one(f"/api/v1/tasks/{task_id}/claim", "post")
        samples["POST claim"].append(dt)
        sql["POST claim"].append(counter["n"])
        counter["n"] = 0
        _, dt = one(f"/api/v1/tasks/{task_id}/complete", "post",
                    json={"data": {"decision": "approve", "comment": "ok"}})
        samples["POST complete"].append(dt)
        sql["POST complete"].append(counter["n"])
        counter["n"] = 0
        t0 = time.perf_counter()
        r = client.post("/api/v1/processes/dealer_admission/instances", headers=aheaders,
                        json={"data": c.application(licence, level="A")})
        if r.status_code != 201:
            raise RuntimeError(f"create: {r.status_code} {r.data[:300]!r}")
        samples["POST create (start + submit)"].append(c.ms(time.perf_counter() - t0))
        sql["POST create (start + submit)"].append(counter["n"])
    event.remove(engine, "before_cursor_execute", _count)
    rows = [[k, c.median(v[10:]), c.p90(v[10:]), c.median(sql[k])] for k, v in samples.items()]
    c.print_table(["in-process (test client), ms", "median", "p90", "SQL stmts"], rows,
                  title="Handler + WSGI time without TCP/gunicorn/requests")

    # profile n completes (claim done outside the profile), then n creates
    prof = cProfile.Profile()
    for _ in range(n):
        task_id = next_task()
        one(f"/api/v1/tasks/{task_id}/claim", "post")
        prof.enable()
        one(f"/api/v1/tasks/{task_id}/complete", "post",
            json={"data": {"decision": "approve", "comment": "ok"}})
        prof.disable()
    report(prof, n, "POST /tasks/{id}/complete", top=25)
    prof = cProfile.Profile()
    for _ in range(n):
        body = {"data": c.application(licence, level="A")}
        prof.enable()
        client.post("/api/v1/processes/dealer_admission/instances", headers=aheaders, json=body)
        prof.disable()
    report(prof, n, "POST /processes/dealer_admission/instances (create + submit)", top=0)


INTERESTING = ("complete_task", "start_instance", "create_instance", "load_workflow_of",
               "dump_workflow", "save", "sync_human_tasks", "sync_jobs", "record", "_last_hash",
               "flush_instance", "validate_submission", "instance_for_api", "get_task_for",
               "api_user", "_user_from_bearer", "run_engine", "commit", "_commit", "dump",
               "_close", "_ensure_actor", "next_timer_at", "deserialize_json", "serialize_json",
               "do_engine_steps", "flush", "instance_tasks", "latest_version", "_file_exists")


def report(prof, n: int, label: str, top: int) -> None:
    stats = pstats.Stats(prof)
    by_pkg = defaultdict(float)
    total_tt = 0.0
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        by_pkg[_bucket(filename)] += tt
        total_tt += tt
    c.print_table(["package (self time)", "ms/call", "share %"],
                  [[k, 1000 * v / n, 100 * v / total_tt]
                   for k, v in sorted(by_pkg.items(), key=lambda kv: -kv[1])],
                  title=f"cProfile of {label}: {1000 * total_tt / n:.2f} ms/call under the "
                        f"profiler")
    rows = []
    for (filename, line, name), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
        if name in INTERESTING and (HERE in filename or name in (
                "commit", "flush", "deserialize_json", "serialize_json", "do_engine_steps")):
            short = filename.split(HERE)[-1].split("site-packages/")[-1]
            rows.append([f"{name} ({short}:{line})", 1000 * ct / n, nc / n])
    rows.sort(key=lambda r: -r[1])
    c.print_table(["function (cumulative)", "ms/call", "calls/req"], rows[:30],
                  title=f"{label}: cumulative time of selected functions (under the profiler)")
    if top:
        print(f"\nTop {top} functions by self time:")
        stats.sort_stats("tottime").print_stats(top)

if __name__ == "__main__":
    main()
