"""Timer start slots missed while no worker ran: latest (default), catch up (capped), skip."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.engine.models import ProcessInstance, ProcessVersion, TimerStartSlot
from app.engine.parsing import ModelProblems
from app.engine.services import check_files, deploy_files
from app.extensions import db
from app.jobs.timers import start_timer_processes
from app.tasks.models import HumanTask


def _model(pid: str, policy: str | None = None, cycle: str = '"R/PT1H"') -> bytes:
    props = ("<bpmn:extensionElements><spiffworkflow:properties>"
             f'<spiffworkflow:property name="missedSlots" value="{policy}"/>'
             "</spiffworkflow:properties></bpmn:extensionElements>") if policy else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="{pid}" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Finance"><bpmn:flowNodeRef>check</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s">{props}<bpmn:timerEventDefinition>
    <bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
  <bpmn:userTask id="check" name="对账 Check"/>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
  <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/>
</bpmn:process></bpmn:definitions>""".encode()


def _deploy(pid: str, policy: str | None = None, **kw):
    deploy_files({f"{pid}.bpmn": _model(pid, policy, **kw)}, "test")
    db.session.commit()
    return db.session.scalar(select(ProcessVersion.created_at)
                             .where(ProcessVersion.process_key == pid))


def _slots(pid: str) -> list[timedelta]:
    db.session.expire_all()
    deployed = db.session.scalar(select(ProcessVersion.created_at)
                                 .where(ProcessVersion.process_key == pid))
    rows = db.session.scalars(select(TimerStartSlot).where(TimerStartSlot.process_key == pid)
                              .order_by(TimerStartSlot.slot)).all()
    assert all(r.instance_id is not None for r in rows)
    return [r.slot - deployed for r in rows]


def _data_slots(pid: str) -> int:
    return len(db.session.scalars(select(ProcessInstance.id)
                                  .where(ProcessInstance.process_key == pid)).all())


def test_default_policy_starts_only_the_latest_missed_slot(app):
    deployed = _deploy("hourly_latest")
    assert start_timer_processes(deployed + timedelta(hours=5, minutes=30)) == 1
    assert _slots("hourly_latest") == [timedelta(hours=5)]
    assert start_timer_processes(deployed + timedelta(hours=5, minutes=40)) == 0


def test_catch_up_starts_every_missed_slot_once_then_keeps_up(app):
    deployed = _deploy("hourly_catch_up", "catch_up")
    assert start_timer_processes(deployed + timedelta(minutes=30)) == 0
    assert start_timer_processes(deployed + timedelta(hours=4, minutes=10)) == 4
    assert _slots("hourly_catch_up") == [timedelta(hours=h) for h in (1, 2, 3, 4)]
    assert start_timer_processes(deployed + timedelta(hours=4, minutes=20)) == 0
    assert start_timer_processes(deployed + timedelta(hours=6, minutes=1)) == 2
    assert _slots("hourly_catch_up") == [timedelta(hours=h) for h in range(1, 7)]
    assert _data_slots("hourly_catch_up") == 6


def test_catch_up_is_capped_to_the_latest_slots(app):
    app.config["TIMER_START_CATCH_UP_LIMIT"] = 3
    try:
        deployed = _deploy("hourly_capped", "catch_up")
        assert start_timer_processes(deployed + timedelta(hours=10, minutes=5)) == 3
        assert _slots("hourly_capped") == [timedelta(hours=h) for h in (8, 9, 10)]
        # The older slots beyond the cap are not started later either.
        assert start_timer_processes(deployed + timedelta(hours=10, minutes=6)) == 0
    finally:
        app.config["TIMER_START_CATCH_UP_LIMIT"] = 24


def test_skip_starts_only_a_slot_reached_on_time(app):
    deployed = _deploy("hourly_skip", "skip")
    assert start_timer_processes(deployed + timedelta(hours=3, minutes=30)) == 0
    assert _slots("hourly_skip") == []
    assert start_timer_processes(deployed + timedelta(hours=4, seconds=20)) == 1
    assert _slots("hourly_skip") == [timedelta(hours=4)]


def test_policy_from_configuration_when_the_model_names_none(app):
    app.config["TIMER_START_POLICIES"] = {"hourly_configured": "catch_up"}
    try:
        deployed = _deploy("hourly_configured")
        assert start_timer_processes(deployed + timedelta(hours=3, minutes=1)) == 3
    finally:
        app.config["TIMER_START_POLICIES"] = {}


def test_two_workers_catching_up_start_each_missed_slot_once(app):
    deployed = _deploy("hourly_race", "catch_up")
    db.session.remove()
    barrier, results = threading.Barrier(2), []

    def work():
        with app.app_context():
            barrier.wait()
            results.append(start_timer_processes(deployed + timedelta(hours=5, minutes=2)))
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(results) == 5
    assert _slots("hourly_race") == [timedelta(hours=h) for h in range(1, 6)]
    assert _data_slots("hourly_race") == 5


def test_an_unknown_policy_is_a_located_deploy_error():
    with pytest.raises(ModelProblems) as exc:
        check_files({"bad.bpmn": _model("bad", "everything")})
    [p] = exc.value.problems
    assert p["element"] == "s" and p["line"] and "missedSlots" in p["message"]


TWO_STARTS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:process id="two_starts" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Finance">
    <bpmn:flowNodeRef>daily_check</bpmn:flowNodeRef><bpmn:flowNodeRef>spot_check</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="every_hour"><bpmn:timerEventDefinition>
    <bpmn:timeCycle>"R/PT1H"</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
  <bpmn:startEvent id="every_two_hours"><bpmn:timerEventDefinition>
    <bpmn:timeCycle>"R/PT2H"</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
  <bpmn:userTask id="daily_check" name="对账 Check"/>
  <bpmn:userTask id="spot_check" name="抽查 Spot check"/>
  <bpmn:endEvent id="e1"/>
  <bpmn:endEvent id="e2"/>
  <bpmn:sequenceFlow id="f1" sourceRef="every_hour" targetRef="daily_check"/>
  <bpmn:sequenceFlow id="f2" sourceRef="daily_check" targetRef="e1"/>
  <bpmn:sequenceFlow id="f3" sourceRef="every_two_hours" targetRef="spot_check"/>
  <bpmn:sequenceFlow id="f4" sourceRef="spot_check" targetRef="e2"/>
</bpmn:process></bpmn:definitions>"""


def _started_by_event(pid: str) -> list[tuple[str, timedelta]]:
    db.session.expire_all()
    deployed = db.session.scalar(select(ProcessVersion.created_at)
                                 .where(ProcessVersion.process_key == pid))
    rows = db.session.scalars(select(TimerStartSlot).where(TimerStartSlot.process_key == pid)
                              .order_by(TimerStartSlot.slot, TimerStartSlot.start_event)).all()
    assert all(r.instance_id is not None for r in rows)
    return [(r.start_event, r.slot - deployed) for r in rows]


def test_two_timer_start_events_of_one_process_each_take_their_own_slots(app, api):
    deploy_files({"two_starts.bpmn": TWO_STARTS.encode()}, "test")
    db.session.commit()
    deployed = db.session.scalar(select(ProcessVersion.created_at)
                                 .where(ProcessVersion.process_key == "two_starts"))
    # Hour 2 is a slot of both events: each starts its own instance for it.
    assert start_timer_processes(deployed + timedelta(hours=2, minutes=5)) == 2
    assert _started_by_event("two_starts") == [("every_hour", timedelta(hours=2)),
                                                ("every_two_hours", timedelta(hours=2))]
    assert start_timer_processes(deployed + timedelta(hours=2, minutes=10)) == 0
    # Hour 3 is a slot of the hourly event only.
    assert start_timer_processes(deployed + timedelta(hours=3, minutes=1)) == 1
    assert _started_by_event("two_starts")[-1] == ("every_hour", timedelta(hours=3))
    admin = api("admin")
    started = admin.get("/api/v1/audit?action=instance.started&process_key=two_starts").json
    assert sorted(e["details"]["timer"] for e in started) == [
        "every_hour", "every_hour", "every_two_hours"]
    tasks = sorted(t.bpmn_id for t in db.session.scalars(
        select(HumanTask).join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .where(ProcessInstance.process_key == "two_starts")))
    assert tasks == ["daily_check", "daily_check", "spot_check"]
    # The start event that did not fire is cancelled: no instance waits on a timer of its own.
    assert db.session.scalars(select(ProcessInstance.next_timer_at).where(
        ProcessInstance.process_key == "two_starts")).all() == [None, None, None]


def test_a_slot_stored_before_slots_had_a_start_event_is_not_started_again(app):
    deployed = _deploy("hourly_legacy")
    db.session.add(TimerStartSlot(process_key="hourly_legacy", start_event="",
                                  slot=deployed + timedelta(hours=2)))
    db.session.commit()
    assert start_timer_processes(deployed + timedelta(hours=2, minutes=30)) == 0
    assert start_timer_processes(deployed + timedelta(hours=3, minutes=1)) == 1
