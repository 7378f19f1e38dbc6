"""Dealer admission end to end through the REST API, worker included."""

from decimal import Decimal

from app.audit.services import verify_chain
from app.dealers.models import Dealer
from app.extensions import db
from app.jobs.services import run_due_jobs


def _group_task(client, name_contains=None):
    tasks = client.get("/api/v1/tasks?scope=group").json
    return [t for t in tasks if name_contains is None or name_contains in t["bpmn_id"]]


def _approve(client, task_id, **data):
    assert client.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    body = {"decision": "approve", "comment": "ok"} | data
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": body})
    assert r.status_code == 200, r.json
    return r.json


def test_admission_approved_by_manager_and_finance_archives_dealer(api, admission_data, sim):
    applicant, mgr, fin = api("applicant"), api("mgr_east"), api("finance")
    r = applicant.post("/api/v1/processes/dealer_admission/instances",
                       json={"data": admission_data(level="B")})
    assert r.status_code == 201, r.json
    instance_id = r.json["id"]
    assert r.json["status"] == "running"

    assert api("mgr_south").get("/api/v1/tasks?scope=group").json == []
    [task] = _group_task(mgr, "manager_review")
    assert task["instance_id"] == instance_id
    _approve(mgr, task["id"])
    [ftask] = _group_task(fin, "finance_review")
    _approve(fin, ftask["id"], approved_credit_limit="200000", payment_terms="net30")

    # The service task runs in the worker, not in the request.
    assert applicant.get(f"/api/v1/instances/{instance_id}").json["status"] == "running"
    assert db.session.query(Dealer).filter_by(source_instance_id=instance_id).count() == 0
    # archive → ERP customer (real SOAP call to the simulator) → KUNNR on the dealer → limit
    assert run_due_jobs("test") == 4
    db.session.remove()

    done = applicant.get(f"/api/v1/instances/{instance_id}").json
    assert done["status"] == "completed"
    assert done["outcome"] == "approved"
    dealer = db.session.query(Dealer).filter_by(source_instance_id=instance_id).one()
    assert dealer.status == "active" and dealer.code == done["data"]["dealer_code"]
    assert dealer.credit_limit == Decimal("200000.00")
    assert dealer.payment_terms == "net30"
    assert [lc.to_status for lc in dealer.lifecycle] == ["active"]
    assert dealer.addresses[0].address.startswith("杭州市")
    assert dealer.erp_customer_no == done["data"]["erp_customer_number"] == "0000100000"
    assert sim.store.customer("0000100000")["name1"] == "杭州西湖食品有限公司"
    seen = api("finance").get(f"/api/v1/dealers/{dealer.id}").json
    assert seen["erp_customer_number"] == "0000100000"
    assert sim.store.credit_account("0000100000", "1000")["credit_limit"] == Decimal("200000.00")
    count, broken, _ = verify_chain()
    assert broken is None and count > 5


def test_level_a_needs_director(api, admission_data, sim):
    applicant = api("applicant")
    r = applicant.post("/api/v1/processes/dealer_admission/instances",
                       json={"data": admission_data(level="A")})
    mgr, fin, director = api("mgr_east"), api("finance"), api("director")
    _approve(mgr, _group_task(mgr)[0]["id"])
    _approve(fin, _group_task(fin)[0]["id"], approved_credit_limit="100000", payment_terms="net30")
    assert run_due_jobs("test") == 0  # waiting for the director, no archive yet
    [dtask] = _group_task(director, "director_review")
    _approve(director, dtask["id"])
    assert run_due_jobs("test") == 4
    db.session.remove()
    assert applicant.get(f"/api/v1/instances/{r.json['id']}").json["outcome"] == "approved"


def test_limit_above_500k_needs_director(api, admission_data):
    applicant = api("applicant")
    applicant.post("/api/v1/processes/dealer_admission/instances",
                   json={"data": admission_data(level="C")})
    mgr, fin, director = api("mgr_east"), api("finance"), api("director")
    _approve(mgr, _group_task(mgr)[0]["id"])
    _approve(fin, _group_task(fin)[0]["id"], approved_credit_limit="500000.01",
             payment_terms="credit")
    assert len(_group_task(director, "director_review")) == 1


def test_reject_ends_with_reason_for_applicant(api, admission_data):
    applicant, mgr = api("applicant"), api("mgr_east")
    iid = applicant.post("/api/v1/processes/dealer_admission/instances",
                         json={"data": admission_data()}).json["id"]
    task = _group_task(mgr)[0]
    mgr.post(f"/api/v1/tasks/{task['id']}/claim")
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                 json={"data": {"decision": "reject", "comment": "资质不全 licence expired"}})
    assert r.status_code == 200, r.json
    seen = applicant.get(f"/api/v1/instances/{iid}").json
    assert seen["status"] == "completed"
    assert seen["outcome"] == "rejected"
    assert seen["outcome_reason"] == "资质不全 licence expired"
    assert db.session.query(Dealer).filter_by(source_instance_id=iid).count() == 0


def test_return_to_applicant_then_resubmit_same_instance(api, admission_data):
    applicant, mgr = api("applicant"), api("mgr_east")
    iid = applicant.post("/api/v1/processes/dealer_admission/instances",
                         json={"data": admission_data(bank_name="错误银行")}).json["id"]
    task = _group_task(mgr)[0]
    mgr.post(f"/api/v1/tasks/{task['id']}/claim")
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                 json={"data": {"decision": "return", "comment": "请更正开户行"}})
    assert r.status_code == 200, r.json
    [redo] = applicant.get("/api/v1/tasks?scope=mine").json
    assert redo["instance_id"] == iid and redo["bpmn_id"] == "submit_application"
    assert redo["pass_no"] == 2
    fixed = admission_data(bank_name="中国银行")
    r = applicant.post(f"/api/v1/tasks/{redo['id']}/complete", json={"data": fixed})
    assert r.status_code == 200, r.json
    [again] = _group_task(mgr)
    assert again["instance_id"] == iid and again["pass_no"] == 2
    detail = mgr.get(f"/api/v1/tasks/{again['id']}").json
    assert detail["data"]["bank_name"] == "中国银行"
    history = applicant.get(f"/api/v1/instances/{iid}").json["tasks"]
    assert [t["status"] for t in history] == ["completed", "returned", "completed", "open"]


def test_form_errors_are_422_per_field_and_nothing_is_created(api, admission_data):
    applicant = api("applicant")
    bad = admission_data(uscc="91330100MA10000X1A", contact_phone="12345",
                         requested_credit_limit="-5")
    r = applicant.post("/api/v1/processes/dealer_admission/instances", json={"data": bad})
    assert r.status_code == 422
    assert r.headers["Content-Type"].startswith("application/problem+json")
    errors = r.json["errors"]
    assert {"uscc", "contact_phone", "requested_credit_limit"} <= set(errors)
    assert api("mgr_east").get("/api/v1/tasks?scope=group").json == []
    from app.engine.models import ProcessInstance

    assert db.session.query(ProcessInstance).count() == 0


def test_reject_without_comment_is_422(api, admission_data):
    applicant, mgr = api("applicant"), api("mgr_east")
    applicant.post("/api/v1/processes/dealer_admission/instances", json={"data": admission_data()})
    task = _group_task(mgr)[0]
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "reject"}})
    assert r.status_code == 422
    assert "comment" in r.json["errors"]
    # nothing changed: still claimable by the group
    assert _group_task(mgr)[0]["id"] == task["id"]


def test_double_complete_is_409_and_one_audit_event(api, admission_data):
    applicant, mgr = api("applicant"), api("mgr_east")
    applicant.post("/api/v1/processes/dealer_admission/instances", json={"data": admission_data()})
    task = _group_task(mgr)[0]
    _approve(mgr, task["id"])
    r = mgr.post(f"/api/v1/tasks/{task['id']}/complete",
                 json={"data": {"decision": "approve"}})
    assert r.status_code == 409
    events = api("admin").get(f"/api/v1/audit?action=task.completed&instance_id={task['instance_id']}").json
    assert len([e for e in events if e["task_id"] == task["id"]]) == 1


def test_non_candidates_get_404_or_403(api, admission_data):
    applicant = api("applicant")
    applicant.post("/api/v1/processes/dealer_admission/instances", json={"data": admission_data()})
    task = _group_task(api("mgr_east"))[0]
    assert api("mgr_south").get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert api("mgr_south").post(f"/api/v1/tasks/{task['id']}/claim").status_code == 404
    assert api("finance").post(f"/api/v1/tasks/{task['id']}/complete",
                               json={"data": {"decision": "approve"}}).status_code == 404
    assert api("dealer_east").post("/api/v1/processes/dealer_admission/instances",
                                   json={"data": {}}).status_code == 403
    assert api("mgr_east").get("/api/v1/audit").status_code == 403
    assert applicant.get("/api/v1/tasks").status_code == 200
    assert applicant.client.get("/api/v1/tasks").status_code == 401


def test_claim_race_second_claimer_gets_409(api, admission_data):
    api("applicant").post("/api/v1/processes/dealer_admission/instances",
                          json={"data": admission_data()})
    from app.admin.services import create_user

    create_user("mgr_east2", "demo", ["regional_manager"], region="east")
    db.session.commit()
    first, second = api("mgr_east"), api("mgr_east2")
    task = _group_task(first)[0]
    assert first.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    assert second.post(f"/api/v1/tasks/{task['id']}/claim").status_code in (404, 409)
    assert _group_task(second) == []


def test_group_inbox_pages_newest_first_and_completed_scope(api, admission_data):
    applicant, mgr = api("applicant"), api("mgr_east")
    for _ in range(3):
        applicant.post("/api/v1/processes/dealer_admission/instances",
                       json={"data": admission_data()})
    first = mgr.get("/api/v1/tasks?scope=group&limit=2").json
    assert len(first) == 2 and first[0]["id"] > first[1]["id"]
    rest = mgr.get(f"/api/v1/tasks?scope=group&limit=2&before_id={first[-1]['id']}").json
    assert len(rest) == 1 and rest[0]["id"] < first[-1]["id"]
    _approve(mgr, first[0]["id"])
    done = mgr.get("/api/v1/tasks?scope=completed").json
    assert [t["id"] for t in done] == [first[0]["id"]] and done[0]["outcome"] == "approve"
    assert mgr.get("/api/v1/tasks?scope=everything").status_code == 422


def test_bad_list_parameters_are_422(api):
    mgr = api("mgr_east")
    for query in ("limit=0", "limit=201", "limit=abc", "scope=group&before_id=x"):
        r = mgr.get(f"/api/v1/tasks?{query}")
        assert r.status_code == 422, query
    assert api("admin").get("/api/v1/audit?limit=5000").status_code == 422


def test_erp_message_log_is_for_admins_and_shows_the_admission_exchange(api, admission_data, sim):
    applicant, mgr, fin = api("applicant"), api("mgr_east"), api("finance")
    iid = applicant.post("/api/v1/processes/dealer_admission/instances",
                         json={"data": admission_data()}).json["id"]
    _approve(mgr, _group_task(mgr)[0]["id"])
    _approve(fin, _group_task(fin)[0]["id"], approved_credit_limit="100000", payment_terms="net30")
    run_due_jobs("test")
    assert api("finance").get("/api/v1/erp/messages").status_code == 403
    credit, logged = api("admin").get(f"/api/v1/erp/messages?instance_id={iid}").json
    assert credit["function"] == "ZDF_CREDIT_LIMIT_SET" and "100000" in credit["request_xml"]
    assert logged["function"] == "BAPI_CUSTOMER_CREATEFROMDATA1" and logged["outcome"] == "ok"
    assert "CUSTOMERNO" in logged["response_xml"] and "杭州西湖食品有限公司" in logged["request_xml"]
    assert api("admin").get("/api/v1/erp/messages?outcome=bogus").status_code == 422
