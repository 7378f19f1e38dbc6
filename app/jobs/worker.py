"""The worker process: polls due jobs and timers, and runs periodic jobs, with APScheduler.

On PostgreSQL the worker also LISTENs for queued jobs (``app.jobs.wakeup``) and polls at once.
After each poll it looks up when the next job or BPMN timer falls due and, when that comes
before the next poll, polls again at that moment: a job retried after its backoff runs at its
due time, whatever ``WORKER_POLL_SECONDS``.
"""

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app

from app.core import web
from app.extensions import db
from app.jobs import periodic, wakeup
from app.jobs.services import next_due_at, run_due_jobs
from app.jobs.timers import fire_due_timers
from app.notify.services import worker_tick as notify_tick
from app.payments.services import pay_simulated

log = logging.getLogger(__name__)

# Slots of periodic jobs are aligned on the epoch; so are their APScheduler triggers.
SLOT_ORIGIN = datetime(1970, 1, 1, tzinfo=UTC)


def tick(worker_id: str) -> int:
    """One poll: run every due job and fire every due timer; outbox and simulated bank."""
    web.write_intent.set(True)
    try:
        return (run_due_jobs(worker_id) + fire_due_timers(worker_id) + notify_tick()
                + pay_simulated())
    finally:
        db.session.remove()


def run_slot(app, name: str, worker_id: str) -> None:
    """Run periodic job ``name`` for the current slot unless another worker already has."""
    with app.app_context():
        web.write_intent.set(True)
        try:
            run = periodic.run_periodic(name, worker_id)
            if run is None:
                log.debug("periodic %s: slot taken by another worker", name)
        except Exception:  # noqa: BLE001 - keep the schedule going after an unexpected failure
            log.exception("periodic job %s could not run", name)
        finally:
            db.session.remove()


# A job or timer due within this long after a poll is waited for inside that poll: a poll
# rescheduled so close to its own end would find it still running, and be skipped.
SHORT_WAIT = 0.05


class Waker:
    """Runs the poll now when a notification says a job was queued (see ``app.jobs.wakeup``),
    or at the moment the next job or timer falls due (``wake_at``).

    A notification that arrives while a poll runs makes that poll go round once more, so a job
    committed just after the poll's last claim is not left for the next interval.
    """

    def __init__(self, scheduler: BaseScheduler):
        self.scheduler = scheduler
        self.pending = threading.Event()
        self.busy = False

    def wake(self) -> None:
        self.pending.set()
        if not self.busy:
            self._poll_at(datetime.now(UTC))

    def wake_at(self, when: datetime) -> None:
        """Poll at ``when`` (aware) if that comes before the poll already scheduled."""
        job = self.scheduler.get_job("poll")
        if job is None or (job.next_run_time is not None and job.next_run_time <= when):
            return
        self._poll_at(when)

    def _poll_at(self, when: datetime) -> None:
        try:
            self.scheduler.modify_job("poll", next_run_time=when)
        except Exception:  # noqa: BLE001 - scheduler shutting down: nothing to wake
            log.debug("worker wake-up ignored", exc_info=True)


def seconds_until_due(now: datetime | None = None) -> float | None:
    """Seconds from ``now`` (naive UTC) until the next job or timer falls due (≤ 0: due)."""
    due = next_due_at()
    if due is None:
        return None
    return (due - (now or datetime.now(UTC).replace(tzinfo=None))).total_seconds()


def configure(scheduler: BaseScheduler, app, worker_id: str) -> Waker:
    """Add the poll and one job per registered periodic job (fired at its slot starts)."""
    waker = Waker(scheduler)
    interval = float(app.config["WORKER_POLL_SECONDS"])

    def poll():
        waker.busy = True
        wait = None
        try:
            with app.app_context():
                while True:
                    waker.pending.clear()
                    try:
                        ran = tick(worker_id)
                        wait = seconds_until_due()
                    except Exception:  # noqa: BLE001 - keep polling after an unexpected failure
                        log.exception("worker tick failed")
                        wait = None
                        break
                    finally:
                        db.session.remove()
                    if waker.pending.is_set():
                        continue
                    if wait is not None and wait <= 0 and ran:
                        continue  # more was due than one round takes
                    if wait is not None and 0 < wait <= SHORT_WAIT:
                        waker.pending.wait(wait)  # due in a moment: wait for it here
                        continue
                    # Nothing due before the next poll, or due but not taken by this round
                    # (another worker's claim, a timer that would not fire): the poll retries.
                    break
        finally:
            waker.busy = False
        if wait is not None and SHORT_WAIT < wait < interval:
            waker.wake_at(datetime.now(UTC) + timedelta(seconds=wait))

    scheduler.add_job(poll, "interval", seconds=app.config["WORKER_POLL_SECONDS"],
                      max_instances=1, coalesce=True, id="poll")
    for job in periodic.registered():
        seconds = job.every.total_seconds()
        scheduler.add_job(run_slot, IntervalTrigger(seconds=seconds, start_date=SLOT_ORIGIN),
                          args=[app, job.name, worker_id], id=f"periodic:{job.name}",
                          max_instances=1, coalesce=True,
                          misfire_grace_time=max(1, int(seconds // 2)))
    return waker


def warm_up() -> None:
    """Do at start what the first jobs would otherwise wait for: configure the ORM mappers,
    parse the shipped ERP WSDL and compile the latest version of every deployed process.

    A worker started while jobs are due (or a drain) then runs its first batch at full speed;
    anything that fails here is left for the first job to meet (and report) as before.
    """
    from sqlalchemy.orm import configure_mappers

    from app.engine.services import compiled_for, latest_versions
    from connectors.erp.soap import shipped_wsdl

    try:
        configure_mappers()
        shipped_wsdl()
        for version in latest_versions():
            compiled_for(version.id)
    except Exception:  # noqa: BLE001 - a cold start is slower, never fatal
        log.warning("worker warm-up incomplete", exc_info=True)
    finally:
        db.session.remove()


def quiet_engine_logs() -> None:
    """The engine logs every task state change at INFO: thousands of lines a minute in a busy
    worker, and a measurable share of its CPU. Warnings and errors still show."""
    logging.getLogger("spiff").setLevel(logging.WARNING)


def run_worker(once: bool = False, worker_id: str | None = None) -> None:
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    app = current_app._get_current_object()
    quiet_engine_logs()
    warm_up()
    if once:
        tick(worker_id)
        return
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per poll is noise
    scheduler = BlockingScheduler(timezone=UTC)
    waker = configure(scheduler, app, worker_id)
    conninfo = wakeup.listen_url(db.engine.url)
    listener = wakeup.Listener(conninfo, waker.wake).start() if conninfo else None
    log.info("worker %s polling every %ss%s, %d remote calls at once, %d periodic jobs",
             worker_id, app.config["WORKER_POLL_SECONDS"],
             f" and listening on {wakeup.CHANNEL}" if listener else "",
             app.config["WORKER_CONCURRENCY"], len(periodic.registered()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if listener is not None:
            listener.stop()
