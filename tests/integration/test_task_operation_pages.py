"""The task page's operation controls, the instance page's withdraw button and batch approve
from the inbox, posted as a browser would (session cookie, form fields)."""

import io

import pytest
from sqlalchemy import select

from app.engine.models import ProcessInstance
from app.extensions import db
from app.tasks.models import HumanTask
from tests.conftest import tiny_png
from tests.integration.oa_helpers import add_user, deploy_models, start


@pytest.fixture(autouse=True)
def models(app):
    deploy_models()
    add_user("finance2", ["finance"])


def _open(instance_id, bpmn_id, kind="engine"):
    db.session.remove()
    return db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id,
        HumanTask.kind == kind, HumanTask.status.in_(("open", "waiting")))
        .order_by(HumanTask.id)).all()



def test_task_page_offers_operations_and_add_signer_before_round_trip(api, login):
    inst = start(api("storeops"), "oa_chain", amount=5)
    [task] = _open(inst["id"], "check")
    fin = login("finance")
    page = fin.get(f"/tasks/{task.id}", headers={"Accept-Language": "en"}).data.decode()
    for control in ("add-signers-btn", "transfer-btn", "delegate-btn", "return-btn",
                    "reject-btn", "return-to"):
        assert f'id="{control}"' in page
    r = fin.post(f"/tasks/{task.id}/add-signers",
                 data={"users": "finance2", "position": "before", "mode": "all",
                       "comment": "please look first",
                       "attachments": (io.BytesIO(tiny_png()), "note.png")},
                 content_type="multipart/form-data")
    assert r.status_code == 302
    [parent] = _open(inst["id"], "check")
    assert parent.status == "waiting"
    [signer] = _open(inst["id"], "check", kind="signer")
    timeline = fin.get(f"/instances/{inst['id']}").data.decode()
    assert 'data-testid="timeline-signer"' in timeline
    signer_page = login("finance2").get(f"/tasks/{signer.id}").data.decode()
    assert 'id="signer-info"' in signer_page and 'name="decision"' in signer_page
    r = login("finance2").post(f"/tasks/{signer.id}/complete",
                               data={"decision": "approve", "comment": "looks right",
                                     "attachments": (io.BytesIO(tiny_png()), "ok.png")},
                               content_type="multipart/form-data")
    assert r.status_code == 302
    timeline = fin.get(f"/instances/{inst['id']}").data.decode()
    assert 'data-testid="timeline-file"' in timeline and "looks right" in timeline
    [parent] = _open(inst["id"], "check")
    assert parent.status == "open"
    assert fin.post(f"/tasks/{task.id}/complete", data={"comment": "ok"}).status_code == 302
    assert _open(inst["id"], "review")


def test_bad_operation_input_renders_the_task_page_with_422(api, login):
    inst = start(api("storeops"), "oa_chain", amount=5)
    [task] = _open(inst["id"], "check")
    fin = login("finance")
    r = fin.post(f"/tasks/{task.id}/transfer", data={"user": "director"})
    assert r.status_code == 422
    assert "director 不能处理此任务（角色或区域不符）" in r.data.decode()
    r = fin.post(f"/tasks/{task.id}/add-signers", data={"users": "finance", "position": "after"})
    assert r.status_code == 422
    [again] = _open(inst["id"], "check")
    assert again.status == "open" and again.assignee_id is None  # nothing written, not even a claim


def test_transfer_return_and_reject_from_the_page(api, login):
    inst = start(api("storeops"), "oa_chain", amount=5)
    [task] = _open(inst["id"], "check")
    r = login("finance").post(f"/tasks/{task.id}/transfer",
                              data={"user": "finance2", "comment": "you know this dealer"})
    assert r.status_code == 302
    [new] = _open(inst["id"], "check")
    f2 = login("finance2")
    r = f2.post(f"/tasks/{new.id}/return", data={"to": "initiator", "comment": "missing"})
    assert r.status_code == 302
    [redo] = _open(inst["id"], "request")
    page = login("storeops").get(f"/instances/{inst['id']}").data.decode()
    assert page.count('data-testid="timeline-item"') >= 4
    assert login("storeops").post(f"/tasks/{redo.id}/complete", data={}).status_code == 302
    [check2] = _open(inst["id"], "check")
    r = f2.post(f"/tasks/{check2.id}/reject", data={"comment": "no budget"})
    assert r.status_code == 302
    db.session.remove()
    assert db.session.get(ProcessInstance, inst["id"]).outcome == "rejected"


def test_withdraw_button_on_the_instance_page(api, login):
    inst = start(api("storeops"), "oa_chain", amount=5)
    owner = login("storeops")
    assert 'id="withdraw-btn"' in owner.get(f"/instances/{inst['id']}").data.decode()
    r = owner.post(f"/instances/{inst['id']}/withdraw", data={"comment": "duplicate"})
    assert r.status_code == 302
    db.session.remove()
    assert db.session.get(ProcessInstance, inst["id"]).status == "cancelled"
    assert 'id="withdraw-btn"' not in owner.get(f"/instances/{inst['id']}").data.decode()


def test_batch_approve_from_the_inbox_reports_each_row(api, login):
    ids = []
    for amount in range(3):
        inst = start(api("storeops"), "oa_chain", amount=amount)
        ids.append(_open(inst["id"], "check")[0].id)
    fin = login("finance")
    inbox = fin.get("/inbox?scope=group").data.decode()
    assert 'id="batch-approve-btn"' in inbox and f'value="{ids[0]}"' in inbox
    api("finance2").post(f"/api/v1/tasks/{ids[2]}/claim")
    r = fin.post("/tasks/batch-complete", data={"task_ids": [str(i) for i in ids],
                                                 "comment": "month-end"})
    assert r.status_code == 200
    page = r.data.decode()
    assert page.count('data-ok="yes"') == 2 and page.count('data-ok="no"') == 1
