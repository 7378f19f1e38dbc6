"""``flask jobs …``: periodic jobs, and draining the job queue from the command line."""

import os
import socket
import sys
import time

import click
from flask.cli import AppGroup

from app.extensions import db

jobs_cli = AppGroup("jobs", help="Service-task jobs and periodic jobs.")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@jobs_cli.command("periodic")
def periodic_cmd():
    """List periodic jobs with their last run and next slot (times in UTC)."""
    from app.jobs.periodic import overview

    rows = overview()
    if not rows:
        click.echo("no periodic jobs registered")
        return
    click.echo(f"{'name':<32} {'every':>8}  {'last slot':<19}  {'status':<8}  {'next slot':<19}  "
               "last error")
    for row in rows:
        last = row["last_run"]
        error = (last.last_error or "").split("\n")[0][:60] if last else ""
        click.echo(f"{row['name']:<32} {row['every_seconds']:>7}s  "
                   f"{_when(last.slot_start if last else None):<19}  "
                   f"{(last.status if last else 'never'):<8}  {_when(row['next_slot']):<19}  "
                   f"{error}")


@jobs_cli.command("run-periodic")
@click.argument("name")
def run_periodic_cmd(name):
    """Run the periodic job NAME now (outside its slots); exit 1 if it fails."""
    from app.core.errors import NotFound
    from app.jobs.periodic import run_periodic

    try:
        run = run_periodic(name, f"cli:{socket.gethostname()}:{os.getpid()}", actor="cli")
    except NotFound as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if run.status == "failed":
        click.echo(f"{name} failed after {run.duration_ms} ms: {run.last_error}", err=True)
        sys.exit(1)
    click.echo(f"{name} done in {run.duration_ms} ms" + (f": {run.result}" if run.result else ""))


@jobs_cli.command("drain")
@click.option("--idle", type=float, default=1.0, show_default=True,
              help="Exit once no job has been due for this many seconds.")
@click.option("--id", "worker_id", default=None)
def drain_cmd(idle, worker_id):
    """Work the job queue like `flask worker` until it stays empty, then exit."""
    from app.core import web
    from app.jobs.services import run_due_jobs
    from app.jobs.worker import quiet_engine_logs, seconds_until_due, warm_up

    quiet_engine_logs()
    warm_up()
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    web.write_intent.set(True)
    total, quiet_since, busy_cpu = 0, time.monotonic(), 0.0
    while time.monotonic() - quiet_since < idle:
        cpu = time.process_time()
        ran = run_due_jobs(worker_id, limit=1000)
        if ran:
            db.session.remove()
            total, quiet_since = total + ran, time.monotonic()
            busy_cpu += time.process_time() - cpu
            continue
        # Idle: look again in 50 ms, or when the next job falls due if that comes sooner (a
        # job or timer already due that this drain did not run does not shorten the pause).
        wait = seconds_until_due()
        db.session.remove()
        time.sleep(min(0.05, idle, wait) if wait is not None and wait > 0 else min(0.05, idle))
    click.echo(f"{worker_id}: {total} jobs run ({busy_cpu:.2f} s CPU)")
