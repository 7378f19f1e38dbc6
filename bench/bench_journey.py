"""Whole 3-approval instance over HTTP (gunicorn, 1 sync worker, SQLite).

Per instance (10 requests): create+start as the applicant (level "A", so three approvers),
then for mgr_east → finance → director: list the group inbox, claim the instance's task,
complete it with "approve". Warm-up instances first, then BENCH_N measured instances.

The journey runs twice on the same server: with ``requests.Session`` (the figure of record)
and with a lean ``http.client`` driver. The HTTP floor is measured in the same run: a WSGI
app that does nothing, served by the same gunicorn options and timed with both clients,
shows what ten requests cost this machine before any application work; GET /healthz (a
SELECT 1 through the product's stack) is shown too. Last, the same journey calls the
product's WSGI app in-process on a fresh database (no client, server or sockets): what
Dealerflow's own code costs per instance.

    .venv/bin/python bench/bench_journey.py          # BENCH_N=300, BENCH_WARMUP=30

BENCH_GUNICORN replaces the worker options (default "--worker-class sync"), e.g.
BENCH_GUNICORN="--worker-class gthread --threads 2 --keep-alive 5"; BENCH_PORTS="5100-5199"
keeps the server's port in a range.
"""

import http.client
import io
import os
import shlex
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

TARGET_MS = 19.0
SPIFF_ARENA_MS = 189.0
APPROVERS = [
    ("mgr_east", "manager_review", {}),
    ("finance", "finance_review", {"approved_credit_limit": "100000", "payment_terms": "net30"}),
    ("director", "director_review", {}),
]
STEPS = ["create", "list", "claim", "complete"]


class BenchError(RuntimeError):
    pass


def _server_ms(r: requests.Response) -> float:
    """The app's own time for the request (X-Server-Ms: handler + commit, no WSGI/HTTP)."""
    return float(r.headers.get("X-Server-Ms", "nan"))


def _check(r: requests.Response, expected: int, what: str):
    if r.status_code != expected:
        raise BenchError(f"{what}: HTTP {r.status_code} (expected {expected}): {r.text[:500]}")
    return r.json()


def session_for(base_url: str, username: str) -> requests.Session:
    """A requests.Session carrying a bearer token obtained once."""
    s = requests.Session()
    r = s.post(base_url + "/api/v1/auth/token", json={"username": username, "password": "demo"})
    token = _check(r, 200, f"token for {username}")["token"]
    s.headers["Authorization"] = f"Bearer {token}"
    return s


class LeanResponse:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers, content: bytes):
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class LeanSession:
    """The calls the journey makes, over ``http.client``: what a lean HTTP client costs.

    HTTP/1.1 with keep-alive when the server keeps the connection (gunicorn's sync worker
    closes it after each response; the next call then connects again).
    """

    def __init__(self, base_url: str, headers: dict | None = None):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Accept": "application/json", **(headers or {})}
        self._conn: http.client.HTTPConnection | None = None

    def _send(self, method: str, url: str, body: bytes | None = None,
              params: dict | None = None) -> LeanResponse:
        path = urlsplit(url).path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body or b""))
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self._conn.request(method, path, body=body, headers=headers)
        resp = self._conn.getresponse()
        out = LeanResponse(resp.status, resp.headers, resp.read())
        if resp.will_close:
            self._conn.close()
            self._conn = None
        return out

    def get(self, url: str, params: dict | None = None) -> LeanResponse:
        return self._send("GET", url, params=params)

    def post(self, url: str, json=None) -> LeanResponse:
        return self._send("POST", url, body=orjson.dumps(json) if json is not None else None)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Journey:
    """Logged-in sessions and an uploaded licence, reused by every instance.

    ``client="lean"`` drives the timed calls with ``LeanSession`` (same tokens) instead of
    ``requests.Session``.
    """

    def __init__(self, base_url: str, client: str = "requests"):
        self.base = base_url
        self.sessions = {u: session_for(base_url, u)
                         for u in ["applicant"] + [a[0] for a in APPROVERS]}
        r = self.sessions["applicant"].post(
            base_url + "/api/v1/files", files={"file": ("licence.png", c.tiny_png(), "image/png")})
        self.licence_id = _check(r, 201, "upload licence")["id"]
        if client == "lean":
            for name, s in list(self.sessions.items()):
                self.sessions[name] = LeanSession(
                    base_url, {"Authorization": s.headers["Authorization"]})
                s.close()

    def run_instance(self) -> dict:
        """One whole instance; returns {"total": s, "create": s, "list": [s,s,s], ...}."""
        base, sessions = self.base, self.sessions
        out = {"list": [], "claim": [], "complete": [], "server": {s: [] for s in STEPS}}
        body = {"data": c.application(self.licence_id, level="A")}
        t_start = time.perf_counter()
        r = sessions["applicant"].post(base + "/api/v1/processes/dealer_admission/instances",
                                       json=body)
        instance_id = _check(r, 201, "create")["id"]
        t1 = time.perf_counter()
        out["server"]["create"].append(_server_ms(r))
        out["create"] = t1 - t_start
        for username, bpmn_id, extra in APPROVERS:
            s = sessions[username]
            t0 = time.perf_counter()
            r = s.get(base + "/api/v1/tasks", params={"scope": "group"})
            tasks = _check(r, 200, "list")
            t1 = time.perf_counter()
            out["server"]["list"].append(_server_ms(r))
            task_id = next((t["id"] for t in tasks
                            if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id), None)
            if task_id is None:
                raise BenchError(f"{username}: no {bpmn_id} task of instance {instance_id} "
                                 f"on the first inbox page ({len(tasks)} tasks)")
            t2 = time.perf_counter()
            r = s.post(f"{base}/api/v1/tasks/{task_id}/claim")
            _check(r, 200, "claim")
            t3 = time.perf_counter()
            out["server"]["claim"].append(_server_ms(r))
            data = {"decision": "approve", "comment": "ok", **extra}
            r = s.post(f"{base}/api/v1/tasks/{task_id}/complete", json={"data": data})
            _check(r, 200, "complete")
            t4 = time.perf_counter()
            out["server"]["complete"].append(_server_ms(r))
            out["list"].append(t1 - t0)
            out["claim"].append(t3 - t2)
            out["complete"].append(t4 - t3)
        out["total"] = time.perf_counter() - t_start
        return out

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a gunicorn master's worker processes (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        total = 0
        for child in children:
            with open(f"/proc/{child}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measure_journey(journey: Journey, n: int, warmup: int, label: str = "",
                    server_pid: int | None = None) -> list[dict]:
    for _ in range(warmup):
        journey.run_instance()
    cpu0 = server_cpu_seconds(server_pid) if server_pid else None
    t0 = time.perf_counter()
    results = [journey.run_instance() for _ in range(n)]
    print(f"[journey{(' ' + label) if label else ''}] {warmup} warm-up + {n} measured instances "
          f"in {time.perf_counter() - t0:.1f} s (measured part)")
    cpu1 = server_cpu_seconds(server_pid) if server_pid else None
    if cpu0 is not None and cpu1 is not None:
        # CPU time is steadier than wall time on a loaded machine (10 ms clock ticks).
        print(f"server CPU per instance (gunicorn workers, user+sys): "
              f"{1000 * (cpu1 - cpu0) / n:.2f} ms")
    return results


def measure_healthz(base_url: str, n: int, warmup: int = 50, path: str = "/healthz",
                    client: str = "requests") -> list[float]:
    """Milliseconds per GET ``path`` (/healthz: a SELECT 1) with one client session."""
    s = requests.Session() if client == "requests" else LeanSession(base_url)
    try:
        for _ in range(warmup):
            s.get(base_url + path)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = s.get(base_url + path)
            r.json()
            times.append(c.ms(time.perf_counter() - t0))
    finally:
        s.close()
    return times


def measure_floor(gunicorn_args, n: int) -> dict:
    """ms per request of a do-nothing WSGI app on the same gunicorn options, per client."""
    with c.NoopServer(gunicorn_args) as noop:
        return {client: measure_healthz(noop.base_url, n, path="/", client=client)
                for client in ("requests", "lean")}


class InProcessSession:
    """The journey's calls straight into the WSGI app (no sockets, no HTTP parsing, no
    server): what Dealerflow's own code costs per instance, apart from any HTTP floor."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    def _call(self, method: str, url: str, body: bytes | None = None,
              params: dict | None = None) -> LeanResponse:
        data = body or b""
        environ = {"REQUEST_METHOD": method, "PATH_INFO": urlsplit(url).path,
                   "QUERY_STRING": urlencode(params) if params else "",
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
                   "wsgi.errors": sys.stderr, "wsgi.multithread": False,
                   "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
                   "REMOTE_ADDR": "127.0.0.1", "HTTP_ACCEPT": "application/json",
                   "CONTENT_LENGTH": str(len(data)), "HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        if body is not None:
            environ["CONTENT_TYPE"] = "application/json"
        status = {}

        def start_response(line, headers, exc_info=None):
            status["code"], status["headers"] = int(line[:3]), dict(headers)

        content = b"".join(self.app(environ, start_response))
        return LeanResponse(status["code"], status["headers"], content)

    def get(self, url: str, params: dict | None = None) -> LeanResponse:
        return self._call("GET", url, params=params)

    def post(self, url: str, json=None) -> LeanResponse:
        return self._call("POST", url, body=orjson.dumps(json) if json is not None else None)

    def close(self) -> None:
        pass


def measure_in_process(n: int, warmup: int) -> dict:
    """The same journey through the product's WSGI app in this process, on a fresh SQLite
    database: no client, server or sockets."""
    import shutil

    tmp = c.temp_dir()
    try:
        c.quiet_logging()
        app = c.make_service_app(tmp)
        c.quiet_logging()
        client = app.test_client()
        tokens = {}
        for username in ["applicant"] + [a[0] for a in APPROVERS]:
            r = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
            tokens[username] = r.get_json()["token"]
        upload = client.post("/api/v1/files",
                             headers={"Authorization": f"Bearer {tokens['applicant']}"},
                             data={"file": (io.BytesIO(c.tiny_png()), "licence.png", "image/png")})
        journey = Journey.__new__(Journey)
        journey.base, journey.licence_id = "", upload.get_json()["id"]
        journey.sessions = {u: InProcessSession(app, t) for u, t in tokens.items()}
        for _ in range(warmup):
            journey.run_instance()
        return summarize([journey.run_instance() for _ in range(n)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summarize(results: list[dict]) -> dict:
    """Millisecond medians/p90s of the instance and of each step (steps pooled and per approver)."""
    totals = [c.ms(r["total"]) for r in results]
    out = {"n": len(results), "total_med": c.median(totals), "total_p90": c.p90(totals),
           "steps": {}, "per_approver": {}}
    out["steps"]["create"] = [c.ms(r["create"]) for r in results]
    out["server"] = {step: [x for r in results for x in r["server"][step]] for step in STEPS}
    for step in ("list", "claim", "complete"):
        out["steps"][step] = [c.ms(x) for r in results for x in r[step]]
        for i, (username, _, _) in enumerate(APPROVERS):
            out["per_approver"][(step, username)] = [c.ms(r[step][i]) for r in results]
    return out


def print_journey(summary: dict, healthz_ms: list[float] | None = None, title: str = "") -> None:
    med, p = summary["total_med"], summary["total_p90"]
    rows = [["whole instance (10 requests)", med, p]]
    for step in STEPS:
        vals = summary["steps"][step]
        rows.append([f"  {step}" + (" (x3 pooled)" if step != "create" else ""),
                     c.median(vals), c.p90(vals)])
    for step in ("list", "claim", "complete"):
        for username, _, _ in APPROVERS:
            vals = summary["per_approver"][(step, username)]
            rows.append([f"    {step} as {username}", c.median(vals), c.p90(vals)])
    if healthz_ms:
        rows.append(["GET /healthz (HTTP floor, 1 request)", c.median(healthz_ms),
                     c.p90(healthz_ms)])
    c.print_table(["ms", "median", "p90"], rows,
                  title=title or f"Whole 3-approval instance over HTTP (n={summary['n']})")
    step_sum = sum(c.median(summary["steps"][s]) * (1 if s == "create" else 3) for s in STEPS)
    print(f"sum of step medians (create + 3×list/claim/complete): {step_sum:.2f} ms")
    server = summary.get("server") or {}
    if server:
        c.print_table(["X-Server-Ms (app time)", "median", "p90", "client median"],
                      [[s, c.median(server[s]), c.p90(server[s]), c.median(summary["steps"][s])]
                       for s in STEPS],
                      title="Handler time per endpoint (X-Server-Ms: handler + commit)")
        handler_sum = sum(c.median(server[s]) * (1 if s == "create" else 3) for s in STEPS)
        print(f"handler sum (create + 3×list/claim/complete): {handler_sum:.2f} ms; "
              f"HTTP, WSGI and client overhead: {step_sum - handler_sum:.2f} ms")
    print(f"target ≤ {TARGET_MS:.0f} ms: median {med:.2f} ms = {med / TARGET_MS:.2f}× the target "
          f"({'meets' if med <= TARGET_MS else 'misses'} it; p90 {p:.2f} ms)")
    print(f"spiff-arena reference {SPIFF_ARENA_MS:.0f} ms: ratio spiff-arena / Dealerflow = "
          f"{SPIFF_ARENA_MS / med:.1f}× (Dealerflow / spiff-arena = {med / SPIFF_ARENA_MS:.3f})")
    if healthz_ms:
        h = c.median(healthz_ms)
        print(f"HTTP floor: healthz median {h:.3f} ms; 10 no-op requests ≈ {10 * h:.2f} ms; "
              f"ratio instance / healthz = {med / h:.1f}× "
              f"(instance / (10 × healthz) = {med / (10 * h):.2f}×)")


def print_floor(floor: dict, summaries: dict, in_process: dict | None = None) -> None:
    """The journey beside what ten requests cost with no application, per client."""
    rows = []
    for client, label in (("requests", "requests.Session"), ("lean", "http.client")):
        if client not in summaries:
            continue
        per_request = c.median(floor[client])
        med = summaries[client]["total_med"]
        rows.append([label, med, summaries[client]["total_p90"], per_request, 10 * per_request,
                     med - 10 * per_request])
    c.print_table(["client", "instance med", "p90", "no-op request", "10 × no-op",
                   "instance − floor"], rows,
                  title="Instance vs the HTTP floor of this machine (a WSGI app that does nothing, "
                        "same gunicorn options, same client), ms")
    for row in rows:
        print(f"{row[0]}: instance median {row[1]:.2f} ms ({'meets' if row[1] <= TARGET_MS else 'misses'} "
              f"≤ {TARGET_MS:.0f} ms); {row[4]:.2f} ms of it is the floor any app pays here, "
              f"{row[5]:.2f} ms is Dealerflow")
        left = TARGET_MS - row[4]
        if left <= 0:
            print(f"  with {row[0]}, ten requests to an app that does nothing already take "
                  f"{row[4]:.2f} ms ≥ {TARGET_MS:.0f} ms: no server can meet the target with "
                  "this client on this machine")
        else:
            print(f"  with {row[0]}, {left:.2f} ms of the {TARGET_MS:.0f} ms are left for the "
                  "application's ten requests")
    if in_process:
        steps = in_process["steps"]
        print(f"in-process (the WSGI app called directly, no sockets; n={in_process['n']}): "
              f"instance median {in_process['total_med']:.2f} ms (p90 {in_process['total_p90']:.2f}); "
              f"create {c.median(steps['create']):.2f}, list {c.median(steps['list']):.2f}, "
              f"claim {c.median(steps['claim']):.2f}, complete {c.median(steps['complete']):.2f} ms")


def main() -> dict:
    n = c.env_int("BENCH_N", 300)
    warmup = c.env_int("BENCH_WARMUP", 30)
    gunicorn_args = shlex.split(os.environ.get("BENCH_GUNICORN", "--worker-class sync"))
    clients = os.environ.get("BENCH_CLIENTS", "requests,lean").split(",")
    c.header(f"Whole 3-approval instance over HTTP — gunicorn 1 worker ({' '.join(gunicorn_args)}), "
             f"SQLite ({warmup} warm-up + {n} measured)")
    floor = measure_floor(gunicorn_args, max(n, 300))
    summaries = {}
    with c.BenchServer(gunicorn_args=gunicorn_args) as srv:
        healthz = measure_healthz(srv.base_url, max(n, 200))
        for client in clients:
            journey = Journey(srv.base_url, client=client)
            try:
                summaries[client] = summarize(measure_journey(
                    journey, n, warmup, label=client, server_pid=srv.proc.pid))
            finally:
                journey.close()
        healthz_after = measure_healthz(srv.base_url, max(n, 200), warmup=10)
    floor_after = measure_floor(gunicorn_args, max(n, 300))
    floor = {k: floor[k] + floor_after[k] for k in floor}
    for client, summary in summaries.items():
        print_journey(summary, healthz + healthz_after,
                      title=f"Whole 3-approval instance over HTTP, {client} client "
                            f"(n={summary['n']})")
    print(f"(healthz median before the journeys {c.median(healthz):.3f} ms, "
          f"after {c.median(healthz_after):.3f} ms)")
    in_process = measure_in_process(n, warmup)
    print_floor(floor, summaries, in_process)
    return summaries.get("requests") or next(iter(summaries.values()))


if __name__ == "__main__":
    main()
