"""Intermediate timer events and timer start events, driven by the worker at a given time."""

import threading
from datetime import timedelta

from sqlalchemy import select

from app.core.models import User, utcnow
from app.engine.models import ProcessInstance, ProcessVersion, TimerStartSlot
from app.engine.services import deploy_files
from app.extensions import db
from app.jobs.timers import fire_due_timers, start_timer_processes
from app.tasks.services import open_tasks, start_instance


def _model(pid: str, start: str, middle: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
<bpmn:process id="{pid}" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Finance"><bpmn:flowNodeRef>check</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s">{start}</bpmn:startEvent>
  {middle or '<bpmn:task id="wait"/>'}
  <bpmn:userTask id="check" name="对账 Check"/>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="check"/>
  <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="e"/>
</bpmn:process></bpmn:definitions>""".encode()


def _timer(tag: str, expression: str) -> str:
    return (f"<bpmn:timerEventDefinition><bpmn:{tag}>{expression}</bpmn:{tag}>"
            "</bpmn:timerEventDefinition>")


def _instances(key: str) -> list[ProcessInstance]:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == key)
                              .order_by(ProcessInstance.id)).all()


def test_intermediate_timer_waits_then_the_worker_moves_on(app):
    two_hours = _timer("timeDuration", "'PT2H'")
    middle = f'<bpmn:intermediateCatchEvent id="wait">{two_hours}</bpmn:intermediateCatchEvent>'
    deploy_files({"pause.bpmn": _model("pause", "", middle)}, "test")
    started = utcnow()
    instance = start_instance("pause", User.by_username("admin"), None)
    db.session.commit()
    assert open_tasks(instance.id) == []
    assert fire_due_timers("w1", now=started + timedelta(hours=1)) == 0
    assert fire_due_timers("w1", now=started + timedelta(hours=2, minutes=1)) == 1
    [task] = open_tasks(instance.id)
    assert task.bpmn_id == "check" and task.candidate_roles == "finance"
    events = db.session.execute(select(ProcessInstance.next_timer_at)
                                .where(ProcessInstance.id == instance.id)).scalar()
    assert events is None


def test_cycle_timer_start_event_starts_one_instance_per_slot(app):
    deploy_files({"hourly.bpmn": _model("hourly", _timer("timeCycle", '"R/PT1H"'))}, "test")
    db.session.commit()
    deployed = db.session.scalar(select(ProcessVersion.created_at)
                                 .where(ProcessVersion.process_key == "hourly"))
    assert fire_due_timers("w1", now=deployed + timedelta(minutes=30)) == 0
    assert _instances("hourly") == []
    assert fire_due_timers("w1", now=deployed + timedelta(minutes=61)) == 1
    assert fire_due_timers("w2", now=deployed + timedelta(minutes=62)) == 0  # same slot
    assert fire_due_timers("w1", now=deployed + timedelta(minutes=125)) == 1
    first, second = _instances("hourly")
    assert [t.bpmn_id for t in open_tasks(first.id)] == ["check"]
    assert [t.bpmn_id for t in open_tasks(second.id)] == ["check"]
    slots = db.session.scalars(select(TimerStartSlot).order_by(TimerStartSlot.slot)).all()
    assert [s.slot - deployed for s in slots] == [timedelta(hours=1), timedelta(hours=2)]
    assert [s.instance_id for s in slots] == [first.id, second.id]
    assert first.started_by_id is None and first.status == "running"


def test_two_workers_racing_for_a_slot_start_one_instance(app):
    deploy_files({"hourly.bpmn": _model("hourly", _timer("timeCycle", '"R/PT1H"'))}, "test")
    db.session.commit()
    deployed = db.session.scalar(select(ProcessVersion.created_at)
                                 .where(ProcessVersion.process_key == "hourly"))
    db.session.remove()
    barrier, results = threading.Barrier(2), []

    def work():
        with app.app_context():
            barrier.wait()
            results.append(start_timer_processes(deployed + timedelta(minutes=90)))
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 1]
    assert len(_instances("hourly")) == 1


def test_date_and_bounded_cycle_start_events(app):
    deploy_files({"once.bpmn": _model("once", _timer("timeDate", '"2020-01-01T00:00:00+00:00"')),
                  "twice.bpmn": _model("twice", _timer("timeCycle", '"R2/PT1H"'))}, "test")
    db.session.commit()
    now = utcnow()
    assert start_timer_processes(now) == 1  # the date has passed: started once
    assert start_timer_processes(now + timedelta(days=1)) == 1  # twice: second (last) slot
    assert start_timer_processes(now + timedelta(days=2)) == 0
    assert len(_instances("once")) == 1 and len(_instances("twice")) == 1
