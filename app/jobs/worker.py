"""The worker process: polls due jobs and timers with APScheduler."""

import logging
import os
import socket

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app

from app.core import web
from app.extensions import db
from app.jobs.services import run_due_jobs
from app.jobs.timers import fire_due_timers
from app.notify.services import worker_tick as notify_tick

log = logging.getLogger(__name__)


def tick(worker_id: str) -> int:
    """One poll: run every due job and fire every due timer."""
    web.write_intent.set(True)
    try:
        return run_due_jobs(worker_id) + fire_due_timers(worker_id) + notify_tick()
    finally:
        db.session.remove()


def run_worker(once: bool = False, worker_id: str | None = None) -> None:
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    app = current_app._get_current_object()
    if once:
        tick(worker_id)
        return

    def job():
        with app.app_context():
            try:
                tick(worker_id)
            except Exception:  # noqa: BLE001 - keep polling after an unexpected failure
                log.exception("worker tick failed")

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per poll is noise
    scheduler = BlockingScheduler()
    scheduler.add_job(job, "interval", seconds=app.config["WORKER_POLL_SECONDS"],
                      max_instances=1, coalesce=True, id="poll")
    log.info("worker %s polling every %ss", worker_id, app.config["WORKER_POLL_SECONDS"])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
