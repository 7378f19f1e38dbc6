"""Server-rendered pages: inbox, task page, start form, instance, dealers, admin, files."""

import io

from sqlalchemy import func, select

from app.engine.models import ProcessInstance
from app.extensions import db
from app.tasks.models import HumanTask

BAD_USCC = "91330100MA27ABCD1X"  # 18 characters, wrong check digit
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)  # uploads are checked by their magic bytes


def _form_post(data: dict) -> dict:
    """An application dict → the fields an HTML form posts (table cells flattened)."""
    out = {}
    for key, value in data.items():
        if isinstance(value, list):
            for i, row in enumerate(value):
                out.update({f"{key}-{i}-{col}": cell for col, cell in row.items()})
        else:
            out[key] = str(value)
    return out


def _start(client, data) -> int:
    r = client.post("/start/dealer_admission", data=_form_post(data))
    assert r.status_code == 302, r.data.decode()[:2000]
    return int(r.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def _open_task(instance_id: int, bpmn_id: str) -> HumanTask:
    db.session.remove()
    return db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                     HumanTask.bpmn_id == bpmn_id,
                                                     HumanTask.status == "open"))


def _english(client):
    client.post("/locale", data={"locale": "en", "next": "/inbox"})
    return client


def test_start_page_creates_an_instance_and_inbox_tabs_render(login, admission_data):
    applicant = login("applicant")
    page = applicant.get("/start").data.decode()
    assert 'id="start-dealer_admission"' in page
    instance_id = _start(applicant, admission_data(company_name="宁波甬江食品有限公司"))
    page = applicant.get(f"/instances/{instance_id}").data.decode()
    assert 'id="instance-status"' in page and "进行中" in page
    assert 'id="application-data"' in page and "宁波甬江食品有限公司" in page
    assert 'id="timeline"' in page

    mgr = login("mgr_east")
    group = mgr.get("/inbox?scope=group").data.decode()
    task = _open_task(instance_id, "manager_review")
    assert "组待办" in group and f'data-task-id="{task.id}"' in group
    assert f'id="claim-{task.id}"' in group and "区域经理审批" in group
    for scope, word in (("mine", "我的待办"), ("completed", "已办")):
        r = mgr.get(f"/inbox?scope={scope}")
        assert r.status_code == 200 and word in r.data.decode()

    group = _english(mgr).get("/inbox?scope=group").data.decode()
    assert "Group" in group and "Regional manager review" in group and "组待办" not in group
    assert f'data-task-id="{task.id}"' in group


def test_task_page_shows_application_form_and_timeline(login, admission_data):
    instance_id = _start(login("applicant"), admission_data(company_name="嘉兴南湖食品有限公司"))
    task = _open_task(instance_id, "manager_review")
    page = login("mgr_east").get(f"/tasks/{task.id}").data.decode()
    assert 'id="application-data"' in page and "嘉兴南湖食品有限公司" in page
    assert 'id="task-form"' in page and f'action="/tasks/{task.id}/complete"' in page
    assert 'id="submit-task"' in page and 'id="claim-btn"' in page
    assert 'name="decision"' in page
    assert 'id="timeline"' in page and "填写准入申请" in page


def test_bad_uscc_on_the_start_page_is_422_and_writes_nothing(login, admission_data):
    applicant = login("applicant")
    r = applicant.post("/start/dealer_admission",
                       data=_form_post(admission_data(uscc=BAD_USCC, company_name="坏代码公司")))
    assert r.status_code == 422
    page = r.data.decode()
    error = page[page.index('id="f-uscc-error"'):][:300]
    assert "校验位" in error  # "check digit", next to the field
    assert "坏代码公司" in page  # the submitted values are kept
    db.session.remove()
    assert db.session.scalar(select(func.count(ProcessInstance.id))) == 0
    assert db.session.scalar(select(func.count(HumanTask.id))) == 0


def test_invalid_review_is_422_and_the_task_stays_unclaimed(login, admission_data):
    instance_id = _start(login("applicant"), admission_data())
    task_id = _open_task(instance_id, "manager_review").id
    mgr = login("mgr_east")
    r = mgr.post(f"/tasks/{task_id}/complete", data={"decision": "reject", "comment": ""})
    assert r.status_code == 422
    assert 'id="f-comment-error"' in r.data.decode()
    again = _open_task(instance_id, "manager_review")
    assert again.id == task_id and again.assignee_id is None


def test_return_prefills_the_application_and_resubmission_works(login, admission_data):
    applicant = login("applicant")
    instance_id = _start(applicant, admission_data(company_name="温州瓯江食品有限公司"))
    task = _open_task(instance_id, "manager_review")
    mgr = login("mgr_east")
    assert mgr.post(f"/tasks/{task.id}/claim").status_code == 302
    r = mgr.post(f"/tasks/{task.id}/complete",
                 data={"decision": "return", "comment": "请补充收货地址"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/inbox")

    redo = _open_task(instance_id, "submit_application")
    assert redo.pass_no == 2
    page = applicant.get(f"/instances/{instance_id}").data.decode()
    assert f'href="/tasks/{redo.id}"' in page and 'id="my-open-task"' in page
    assert "请补充收货地址" in page and "退回修改" in page
    page = applicant.get(f"/tasks/{redo.id}").data.decode()
    assert 'value="温州瓯江食品有限公司"' in page and 'id="application-data"' not in page

    data = _form_post(admission_data(company_name="温州瓯江食品有限公司"))
    r = applicant.post(f"/tasks/{redo.id}/complete", data=data)
    assert r.status_code == 302
    assert _open_task(instance_id, "manager_review").pass_no == 2


def test_other_region_manager_gets_404(login, admission_data):
    instance_id = _start(login("applicant"), admission_data())
    task = _open_task(instance_id, "manager_review")
    south = login("mgr_south")
    assert south.get(f"/tasks/{task.id}").status_code == 404
    assert south.post(f"/tasks/{task.id}/claim").status_code == 404
    assert south.get(f"/instances/{instance_id}").status_code == 404


def test_dealer_list_and_detail(login):
    finance = login("finance")
    page = finance.get("/dealers").data.decode()
    assert "DE000001" in page and "DS000001" in page and "一级经销商" in page
    page = finance.get("/dealers?region=south").data.decode()
    assert "DS000001" in page and "DE000001" not in page
    dealer_id = int(page.split('data-dealer-id="', 1)[1].split('"', 1)[0])
    detail = finance.get(f"/dealers/{dealer_id}")
    assert detail.status_code == 200
    html = detail.data.decode()
    for part in ("dealer-addresses", "dealer-bank-accounts", "dealer-lifecycle", "中国工商银行"):
        assert part in html
    english = _english(finance).get(f"/dealers/{dealer_id}").data.decode()
    assert "Tier-1 distributor" in english and "Bank accounts" in english
    east = login("mgr_east")
    assert "DS000001" not in east.get("/dealers").data.decode()
    assert east.get(f"/dealers/{dealer_id}").status_code == 404


def test_admin_audit_pages(login, admission_data):
    _start(login("applicant"), admission_data())
    admin = login("admin")
    page = admin.get("/admin/audit").data.decode()
    assert 'data-testid="audit-row"' in page and "instance.started" in page
    assert admin.get("/admin/audit?actor=applicant&since=2000-01-01").status_code == 200
    r = admin.post("/admin/audit/verify", follow_redirects=True)
    assert r.status_code == 200 and "审计链完整" in r.data.decode()
    csv = admin.get("/admin/audit.csv?action=instance.started")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,at,actor,action") and len(lines) == 2
    assert admin.get("/admin/incidents").status_code == 200
    for user in ("mgr_east", "applicant"):
        assert login(user).get("/admin/audit").status_code == 403
        assert login(user).get("/admin/audit.csv").status_code == 403


def test_file_download_is_limited_to_uploader_and_staff(login, upload_png):
    file_id = upload_png("applicant")
    r = login("applicant").get(f"/files/{file_id}")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert login("finance").get(f"/files/{file_id}").status_code == 200
    assert login("dealer_east").get(f"/files/{file_id}").status_code == 404


def test_upload_through_the_start_page(login, admission_data):
    data = _form_post(admission_data())
    data.pop("business_licence")
    data["business_licence"] = (io.BytesIO(PNG), "licence.png")
    r = login("applicant").post("/start/dealer_admission", data=data,
                                content_type="multipart/form-data")
    assert r.status_code == 302
    data["business_licence"] = (io.BytesIO(b"not a picture"), "licence.png")
    r = login("applicant").post("/start/dealer_admission", data=data,
                                content_type="multipart/form-data")
    assert r.status_code == 422 and 'id="f-business_licence-error"' in r.data.decode()


def _decide(client, task_id: int, **data):
    r = client.post(f"/tasks/{task_id}/complete", data=data)
    assert r.status_code == 302, r.data.decode()[:2000]


def test_instance_page_shows_outcome_dealer_code_and_reason(login, admission_data, sim):
    from app.jobs.services import run_due_jobs

    applicant, mgr, fin = login("applicant"), login("mgr_east"), login("finance")
    approved = _start(applicant, admission_data(level="B"))
    _decide(mgr, _open_task(approved, "manager_review").id, decision="approve")
    _decide(fin, _open_task(approved, "finance_review").id, decision="approve",
            approved_credit_limit="200000", payment_terms="net30")
    assert run_due_jobs("test") == 4
    db.session.remove()
    page = applicant.get(f"/instances/{approved}").data.decode()
    assert 'data-status="completed"' in page and 'data-outcome="approved"' in page
    assert "已通过" in page and 'id="dealer-code"' in page and "DE" in page
    assert 'id="outcome-reason"' not in page

    rejected = _start(applicant, admission_data(level="C"))
    _decide(mgr, _open_task(rejected, "manager_review").id, decision="reject",
            comment="资质不符")
    page = _english(applicant).get(f"/instances/{rejected}").data.decode()
    assert 'data-outcome="rejected"' in page and "Rejected" in page
    reason = page[page.index('id="outcome-reason"'):][:100]
    assert "资质不符" in reason


def test_claim_release_and_conflicts(login, admission_data):
    instance_id = _start(login("applicant"), admission_data())
    task_id = _open_task(instance_id, "manager_review").id
    mgr = login("mgr_east")
    r = mgr.post(f"/tasks/{task_id}/claim")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tasks/{task_id}")
    page = mgr.get(f"/tasks/{task_id}").data.decode()
    assert 'id="release-btn"' in page and 'id="claim-btn"' not in page
    assert f'data-task-id="{task_id}"' in mgr.get("/inbox?scope=mine").data.decode()
    assert mgr.post(f"/tasks/{task_id}/release").status_code == 302
    assert _open_task(instance_id, "manager_review").assignee_id is None

    _decide(mgr, task_id, decision="approve")  # completing claims implicitly
    r = mgr.post(f"/tasks/{task_id}/complete", data={"decision": "approve"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/inbox")
    assert "该任务已结束" in mgr.get("/inbox").data.decode()
    page = mgr.get(f"/tasks/{task_id}").data.decode()
    assert 'id="task-form"' not in page and 'id="task-result"' in page
    assert f'data-task-id="{task_id}"' in mgr.get("/inbox?scope=completed").data.decode()
