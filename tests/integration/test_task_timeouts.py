"""超时处理 per-node timeouts: due dates from a duration or a form date, a warning before, and at
the due time remind / auto-approve / auto-return / escalate, each once (time travel, no sleeps)."""

from datetime import datetime, timedelta

import orjson
import pytest

from app.audit.models import AuditEvent
from app.core.errors import DeployError
from app.core.models import User, utcnow
from app.engine.services import deploy_files
from app.extensions import db
from app.notify.models import Notification, OutboxMessage
from app.tasks.models import HumanTask
from app.tasks.timeouts import check_timeouts
from tests.integration.oa_helpers import complete, group, mine, start

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="defs" targetNamespace="http://dealerflow.local/bpmn/tests">\n')


def model(key: str, candidates: str = "finance", **props) -> bytes:
    properties = "".join(f'<spiffworkflow:property name="{k}" value="{v}" />'
                         for k, v in props.items())
    return (HEAD + f'''<bpmn:process id="{key}" name="超时 Timeouts" isExecutable="true">
  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:userTask id="request" name="提交申请 Request" camunda:assignee="${{initiator}}">
    <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  </bpmn:userTask>
  <bpmn:userTask id="check" name="财务初审 Finance check" camunda:candidateGroups="{candidates}">
    <bpmn:extensionElements>
      <spiffworkflow:properties>{properties}</spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
  </bpmn:userTask>
  <bpmn:userTask id="review" name="总监审批 Director review" camunda:candidateGroups="sales_director">
    <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
  </bpmn:userTask>
  <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="request" />
  <bpmn:sequenceFlow id="f2" sourceRef="request" targetRef="check" />
  <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="review" />
  <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end" />
</bpmn:process>
</bpmn:definitions>
''').encode()


def deploy(key: str, candidates: str = "finance", **props) -> None:
    deploy_files({f"{key}.bpmn": model(key, candidates, **props)}, "test")
    db.session.commit()


def at_check(api, key: str, **data):
    inst = start(api("storeops"), key, title="报销 Claim", amount=100, **data)
    [task] = group(api("finance"), inst["id"])
    return inst, db.session.get(HumanTask, task["id"])


def notes(username: str, kind: str) -> list[Notification]:
    uid = User.by_username(username).id
    return db.session.query(Notification).filter_by(recipient_id=uid, kind=kind).all()


def events(action: str) -> list[AuditEvent]:
    return db.session.query(AuditEvent).filter_by(action=action).all()


def test_due_in_and_warning_are_stamped_and_the_warning_and_reminder_come_once(api):
    deploy("to_remind", dueIn="PT4H", warnBefore="PT1H", onTimeout="remind")
    before = utcnow()
    _inst, task = at_check(api, "to_remind")
    assert before + timedelta(hours=4) <= task.due_at <= utcnow() + timedelta(hours=4)
    assert task.warn_at == task.due_at - timedelta(hours=1)

    assert check_timeouts(now=task.due_at - timedelta(hours=2)) == {"warned": 0, "timed_out": {}}
    assert notes("finance", "task.due_soon") == []
    result = check_timeouts(now=task.warn_at + timedelta(minutes=1))
    assert result["warned"] == 1 and result["timed_out"] == {}
    assert len(notes("finance", "task.due_soon")) == 1
    check_timeouts(now=task.warn_at + timedelta(minutes=2))  # a second run warns nobody again
    assert len(notes("finance", "task.due_soon")) == 1

    overdue = task.due_at + timedelta(minutes=1)
    assert check_timeouts(now=overdue)["timed_out"] == {"remind": 1}
    assert check_timeouts(now=overdue + timedelta(hours=1))["timed_out"] == {}
    [note] = notes("finance", "task.overdue")
    assert note.link == f"/tasks/{task.id}"
    assert [m.recipient for m in db.session.query(OutboxMessage).filter_by(channel="sms")
            if "task.overdue" in m.payload] == ["13800000103"]
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).status == "open"  # a reminder changes nothing
    [event] = events("task.timed_out")
    assert event.actor == "system" and orjson.loads(event.details)["action"] == "remind"


def test_api_and_inbox_show_the_due_time_and_overdue(api, login):
    deploy("to_show", dueIn="PT1H")
    _inst, task = at_check(api, "to_show")
    [row] = [t for t in api("finance").get("/api/v1/tasks?scope=group").json
             if t["id"] == task.id]
    assert row["due_at"] and row["overdue"] is False
    task.due_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    [row] = [t for t in api("finance").get("/api/v1/tasks?scope=group").json
             if t["id"] == task.id]
    assert row["overdue"] is True
    page = login("finance").get("/inbox?scope=group").get_data(as_text=True)
    assert 'data-testid="overdue"' in page
    assert 'data-testid="overdue"' in login("finance").get(f"/tasks/{task.id}").get_data(
        as_text=True)


def test_auto_approve_completes_the_task_as_the_system_and_moves_on(api):
    deploy("to_approve", dueIn="PT2H", onTimeout="auto-approve")
    inst, task = at_check(api, "to_approve")
    assert check_timeouts(now=task.due_at + timedelta(seconds=1))["timed_out"] == \
        {"auto-approve": 1}
    db.session.expire_all()
    done = db.session.get(HumanTask, task.id)
    assert (done.status, done.outcome) == ("completed", "approve")
    assert User.by_username("system").id == done.completed_by_id
    assert [t["bpmn_id"] for t in group(api("director"), inst["id"])] == ["review"]
    assert check_timeouts(now=task.due_at + timedelta(hours=5))["timed_out"] == {}
    [event] = events("task.timed_out")
    assert event.task_id == task.id and orjson.loads(event.details)["decision"] == "approve"
    assert any(e.actor == "system" for e in events("task.completed"))


def test_auto_return_sends_the_instance_back_to_the_previous_step(api):
    deploy("to_return", dueIn="P1D", onTimeout="auto-return")
    inst, task = at_check(api, "to_return")
    check_timeouts(now=task.due_at + timedelta(minutes=1))
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).status == "returned"
    [again] = mine(api("storeops"), inst["id"])
    assert again["bpmn_id"] == "request"
    assert notes("storeops", "instance.returned")
    [event] = events("task.timed_out")
    assert orjson.loads(event.details)["returned_to"] == "request"
    # resubmitted, the step runs again with a fresh due time
    complete(api("storeops"), again["id"], title="报销 Claim", amount=100)
    [fresh] = group(api("finance"), inst["id"])
    assert fresh["id"] != task.id and db.session.get(HumanTask, fresh["id"]).timed_out_at is None


def test_escalate_replace_offers_the_task_to_the_role_instead(api, login):
    deploy("to_escalate", dueIn="PT8H", onTimeout="escalate", escalateTo="sales_director",
           escalateMode="replace")
    inst, task = at_check(api, "to_escalate")
    api("finance").post(f"/api/v1/tasks/{task.id}/claim")
    check_timeouts(now=task.due_at + timedelta(minutes=1))
    db.session.expire_all()
    row = db.session.get(HumanTask, task.id)
    assert (row.status, row.assignee_id, row.candidate_roles) == ("open", None, "sales_director")
    assert mine(api("finance"), inst["id"]) == [] and group(api("finance"), inst["id"]) == []
    [offered] = group(api("director"), inst["id"])
    assert offered["id"] == task.id
    assert len(notes("director", "task.escalated")) == 1
    complete(api("director"), task.id, decision="approve")
    assert [t["bpmn_id"] for t in group(api("director"), inst["id"])] == ["review"]
    [event] = events("task.timed_out")
    assert orjson.loads(event.details)["mode"] == "replace"


def test_escalate_adds_the_role_by_default_and_the_original_approver_can_still_act(api):
    deploy("to_escalate_add", dueIn="PT8H", onTimeout="escalate", escalateTo="sales_director")
    inst, task = at_check(api, "to_escalate_add")
    api("finance").post(f"/api/v1/tasks/{task.id}/claim")
    check_timeouts(now=task.due_at + timedelta(minutes=1))
    db.session.expire_all()
    row = db.session.get(HumanTask, task.id)
    assert (row.status, row.assignee_id, row.candidate_roles) == (
        "open", None, "finance,sales_director")
    # Both the original approver and the escalation role are offered the task.
    assert [t["id"] for t in group(api("finance"), inst["id"])] == [task.id]
    assert [t["id"] for t in group(api("director"), inst["id"])] == [task.id]
    # Only the role that joined is told; the finance approver was reminded by the due date.
    assert len(notes("director", "task.escalated")) == 1
    assert notes("finance", "task.escalated") == []
    [event] = events("task.timed_out")
    details = orjson.loads(event.details)
    assert details["mode"] == "add" and details["escalated_to"] == "sales_director"
    complete(api("finance"), task.id, decision="approve")
    assert [t["bpmn_id"] for t in group(api("director"), inst["id"])] == ["review"]


def test_escalate_add_from_a_regional_role_keeps_the_region_out(api):
    deploy("to_escalate_region", candidates="regional_manager", dueIn="PT8H",
           onTimeout="escalate", escalateTo="sales_director")
    inst = start(api("storeops"), "to_escalate_region", title="报销 Claim", amount=100,
                 region="east")
    [offered] = group(api("mgr_east"), inst["id"])
    assert group(api("mgr_south"), inst["id"]) == []
    task = db.session.get(HumanTask, offered["id"])
    check_timeouts(now=task.due_at + timedelta(minutes=1))
    db.session.expire_all()
    # The East manager keeps the task, the national director gets it, the South manager not.
    assert [t["id"] for t in group(api("mgr_east"), inst["id"])] == [task.id]
    assert [t["id"] for t in group(api("director"), inst["id"])] == [task.id]
    assert group(api("mgr_south"), inst["id"]) == []
    assert api("mgr_south").get(f"/api/v1/tasks/{task.id}").status_code in (403, 404)
    complete(api("director"), task.id, decision="approve")


def test_due_date_from_a_form_field_ends_with_that_day(api):
    deploy("to_field", dueDateField="deadline", warnBefore="PT2H")
    _inst, task = at_check(api, "to_field", deadline="2026-12-01")
    assert task.due_at == datetime(2026, 12, 2)
    assert task.warn_at == datetime(2026, 12, 1, 22)
    _inst, other = at_check(api, "to_field", deadline="2026-12-01T09:30:00+08:00")
    assert other.due_at == datetime(2026, 12, 1, 1, 30)


def test_two_workers_in_one_slot_act_once(api):
    from app.jobs.periodic import run_periodic

    deploy("to_twice", dueIn="PT1H", onTimeout="remind")
    _inst, task = at_check(api, "to_twice")
    task.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    now = utcnow()
    first = run_periodic("tasks.check_timeouts", "worker-1", now=now)
    second = run_periodic("tasks.check_timeouts", "worker-2", now=now)
    assert first.status == "done" and second is None
    assert orjson.loads(first.result)["timed_out"] == {"remind": 1}
    assert len(notes("finance", "task.overdue")) == 1


@pytest.mark.parametrize(("props", "message"), [
    ({"dueIn": "PT4H", "onTimeout": "explode"}, "unknown value 'explode'"),
    ({"dueIn": "four hours"}, "'dueIn'"),
    ({"dueIn": "PT4H", "warnBefore": "soon"}, "'warnBefore'"),
    ({"onTimeout": "remind"}, "need 'dueIn' or 'dueDateField'"),
    ({"dueIn": "PT4H", "onTimeout": "escalate"}, "'escalateTo' names no role"),
    ({"dueIn": "PT4H", "onTimeout": "escalate", "escalateTo": "pope"}, "unknown role 'pope'"),
    ({"dueIn": "PT4H", "onTimeout": "escalate", "escalateTo": "sales_director",
      "escalateMode": "swap"}, "'escalateMode': unknown value 'swap'"),
    ({"dueIn": "PT4H", "onTimeout": "remind", "escalateMode": "add"},
     "'escalateMode' needs 'onTimeout' to be 'escalate'"),
])
def test_bad_timeout_settings_are_refused_at_deploy_with_a_location(props, message):
    content = model("bad_timeouts", **props)
    line = content.decode().splitlines().index(next(
        x for x in content.decode().splitlines() if 'id="check"' in x)) + 1
    with pytest.raises(DeployError) as info:
        deploy_files({"bad.bpmn": content}, "test")
    db.session.rollback()
    [found] = [p for p in info.value.problems if message in p["message"]]
    assert found["file"] == "bad.bpmn" and found["element"] == "check" and found["line"] == line
