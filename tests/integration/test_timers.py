"""BPMN timers: next_timer_at is stored and the worker fires them when due (time travel)."""

from datetime import datetime, timedelta

import pytest

from app.core.models import User, utcnow
from app.engine.models import ProcessInstance
from app.engine.services import deploy_files, load_workflow_of
from app.extensions import db
from app.jobs.timers import fire_due_timers
from app.tasks.services import open_tasks, start_instance

REMIND = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
<bpmn:process id="remind" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Finance"><bpmn:flowNodeRef>review</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="review" name="Review"/>
  <bpmn:boundaryEvent id="after_24h" attachedToRef="review" cancelActivity="false">
    <bpmn:timerEventDefinition><bpmn:timeDuration>"PT24H"</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:boundaryEvent>
  <bpmn:scriptTask id="note"><bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
  <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  <bpmn:sequenceFlow id="f3" sourceRef="after_24h" targetRef="note"/>
  <bpmn:sequenceFlow id="f4" sourceRef="note" targetRef="e2"/>
</bpmn:process></bpmn:definitions>"""


@pytest.fixture
def travel(monkeypatch):
    """travel(hours): move the engine's and the platform's clocks forward."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    offset = {"delta": timedelta()}

    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + offset["delta"]

    monkeypatch.setattr(timer, "datetime", ShiftedDatetime)
    monkeypatch.setattr("app.jobs.timers.utcnow", lambda: utcnow() + offset["delta"])

    def _travel(hours: float) -> None:
        offset["delta"] += timedelta(hours=hours)
    return _travel


def test_non_interrupting_reminder_fires_after_24h_and_task_stays_open(app, travel):
    deploy_files({"remind.bpmn": REMIND}, "test")
    instance = start_instance("remind", User.by_username("admin"), None)
    db.session.commit()
    assert timedelta(hours=23) < instance.next_timer_at - utcnow() < timedelta(hours=25)
    [task] = open_tasks(instance.id)

    assert fire_due_timers("w1") == 0
    travel(23)
    assert fire_due_timers("w1") == 0
    travel(2)
    assert fire_due_timers("w1") == 1

    instance = db.session.get(ProcessInstance, instance.id)
    db.session.refresh(instance)
    workflow = load_workflow_of(instance)
    assert any(t.data.get("reminded") for t in workflow.get_tasks())
    assert [t.id for t in open_tasks(instance.id)] == [task.id]  # not interrupted
    assert instance.status == "running" and instance.next_timer_at is None
