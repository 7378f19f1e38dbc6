"""Fire due BPMN timers: instances whose ``next_timer_at`` has passed."""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit.services import record
from app.core.errors import Conflict
from app.core.models import utcnow
from app.engine import runtime
from app.engine.models import ProcessInstance, ProcessVersion, TimerStartSlot
from app.engine.services import _engine_error, compiled_for, latest_versions, load_workflow_of, save
from app.extensions import db

log = logging.getLogger(__name__)


def _record_fired(instance: ProcessInstance, fired: list) -> None:
    """Audit every timer that fired; an interrupting boundary timer is an escalation."""
    from app.tasks.models import HumanTask

    for timer in fired:
        details = {"timer": timer.bpmn_id, "attached_to": timer.attached_to,
                   "interrupting": timer.interrupting}
        task_id = None
        if timer.interrupting and timer.attached_to:
            task_id = db.session.scalar(select(HumanTask.id).where(
                HumanTask.instance_id == instance.id, HumanTask.bpmn_id == timer.attached_to,
                HumanTask.status == "cancelled").order_by(HumanTask.id.desc()).limit(1))
        if task_id is not None:  # a user task taken away by its timer: an escalation
            record("system", "task.escalated", target_type="task", target_id=task_id,
                   instance_id=instance.id, task_id=task_id, process_key=instance.process_key,
                   details=details)
        else:
            record("system", "timer.fired", target_type="instance", target_id=instance.id,
                   instance_id=instance.id, process_key=instance.process_key, details=details)


def fire_due_timers(worker_id: str, limit: int = 100, now: datetime | None = None) -> int:
    """Fire the timers due at ``now`` (default: the clock); return how many instances moved."""
    now = now or utcnow()
    ids = db.session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now)
        .order_by(ProcessInstance.next_timer_at).limit(limit)).all()
    db.session.rollback()
    fired = 0
    for instance_id in ids:
        try:
            instance = db.session.get(ProcessInstance, instance_id)
            workflow = load_workflow_of(instance)
            try:
                which = runtime.fire_timers(workflow, now)
            except Exception as exc:  # noqa: BLE001 - a failing script is reported, not fatal
                raise _engine_error(instance, exc) from exc
            save(instance, workflow, None)
            _record_fired(instance, which)
            db.session.commit()
            fired += 1
        except Conflict:
            db.session.rollback()
    return fired + start_timer_processes(now)


def missed_slot_policy(process_key: str, event) -> str:
    """The start event's ``missedSlots`` property, else the process's configured policy."""
    cfg = current_app.config
    policy = event.missed_slots or (cfg.get("TIMER_START_POLICIES") or {}).get(process_key) \
        or cfg.get("TIMER_START_MISSED_SLOTS") or "latest"
    return policy if policy in runtime.MISSED_SLOT_POLICIES else "latest"


def _of_event(bpmn_id: str):
    """Slot rows of one timer start event (and rows stored before slots had an event)."""
    return TimerStartSlot.start_event.in_([bpmn_id, ""])


def _slots_to_start(version, event, now: datetime) -> list[datetime]:
    """The slots of one timer start event to start now, per its missed-slot policy."""
    cfg = current_app.config
    policy = missed_slot_policy(version.process_key, event)
    if policy == "catch_up":
        last_taken = db.session.scalar(select(func.max(TimerStartSlot.slot)).where(
            TimerStartSlot.process_key == version.process_key, _of_event(event.bpmn_id)))
        slots = runtime.timer_slots(event, version.created_at, last_taken, now,
                                    limit=max(1, int(cfg["TIMER_START_CATCH_UP_LIMIT"])))
    else:
        latest = runtime.timer_slot(event, version.created_at, now)
        slots = [latest] if latest is not None else []
        if policy == "skip":
            on_time = timedelta(seconds=float(cfg["TIMER_START_ON_TIME_SECONDS"]))
            slots = [s for s in slots if now - s <= on_time]
    if not slots:
        return []
    used = set(db.session.scalars(select(TimerStartSlot.slot).where(
        TimerStartSlot.process_key == version.process_key, _of_event(event.bpmn_id),
        TimerStartSlot.slot.in_(slots))))
    return [s for s in slots if s not in used]


def _due_starts(now: datetime) -> list:
    """(version, timer start event, slot) for every deployed timer start whose slot is due."""

    due = []
    for version in latest_versions():
        events = runtime.timer_start_events(compiled_for(version.id).spec)
        for event in events:
            try:
                slots = _slots_to_start(version, event, now)
            except (ValueError, TypeError) as exc:
                log.warning("timer start %s of %s: %s", event.bpmn_id, version.process_key, exc)
                continue
            due.extend((version.id, event.bpmn_id, slot) for slot in slots)
    db.session.rollback()
    return due


def start_timer_processes(now: datetime | None = None) -> int:
    """Start an instance of each process whose timer start event has a new slot due.

    Slots missed while no worker ran follow the event's policy (``missed_slot_policy``):
    the latest one only (default), every one up to a cap (``catch_up``), or none (``skip``).
    A unique (process key, start event, slot) row makes it once per slot and start event,
    whatever the number of workers.
    """

    now = now or utcnow()
    started = 0
    for version_id, bpmn_id, slot in _due_starts(now):
        version = db.session.get(ProcessVersion, version_id)
        try:
            db.session.add(TimerStartSlot(process_key=version.process_key, start_event=bpmn_id,
                                          slot=slot))
            db.session.flush()  # a second worker stops here (unique key), before any work
        except IntegrityError:
            db.session.rollback()
            continue
        workflow = runtime.new_workflow(compiled_for(version.id))
        instance = ProcessInstance(process_version_id=version.id, process_key=version.process_key,
                            status="running", title=version.name, state="{}", lock_version=1)
        runtime.seed_data(workflow, {"initiator": None, "timer_slot": slot.isoformat()})
        try:
            with runtime.engine_clock(now):
                workflow.do_engine_steps()
                runtime.fire_start_timer(workflow, bpmn_id)
                workflow.do_engine_steps()
        except Exception as exc:  # noqa: BLE001 - a failing model is logged, the slot kept
            log.warning("timer start of %s failed: %s", version.process_key, exc)
            db.session.commit()  # the slot stays used: no retry storm every poll
            continue

        def on_written(inst, _slot=slot, _event=bpmn_id, _version=version.version):
            db.session.query(TimerStartSlot).filter_by(
                process_key=inst.process_key, start_event=_event, slot=_slot,
            ).update({"instance_id": inst.id})
            record("system", "instance.started", target_type="instance", target_id=inst.id,
                   instance_id=inst.id, process_key=inst.process_key,
                   details={"version": _version, "timer": _event, "slot": _slot.isoformat()})

        save(instance, workflow, None, on_written=on_written)
        db.session.commit()
        started += 1
    return started
