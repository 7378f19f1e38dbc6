"""ERP down while admissions reach the ERP step, then back: nothing lost, nothing doubled."""

from app.engine.models import ProcessInstance
from app.extensions import db
from app.jobs.models import Incident
from app.jobs.services import run_due_jobs
from connectors.erp.simulator_store import DEMO_CUSTOMERS

N = 12


def _approve(client, task_id, **data):
    client.post(f"/api/v1/tasks/{task_id}/claim")
    r = client.post(f"/api/v1/tasks/{task_id}/complete",
                    json={"data": {"decision": "approve", "comment": "ok"} | data})
    assert r.status_code == 200, r.json


def test_erp_outage_becomes_incidents_then_every_admission_finishes_once(app, api, admission_data,
                                                                         sim):
    applicant, mgr, fin, admin = api("applicant"), api("mgr_east"), api("finance"), api("admin")
    ids = [applicant.post("/api/v1/processes/dealer_admission/instances",
                          json={"data": admission_data(level="C")}).json["id"] for _ in range(N)]
    for task in mgr.get("/api/v1/tasks?scope=group&limit=200").json:
        _approve(mgr, task["id"])
    for task in fin.get("/api/v1/tasks?scope=group&limit=200").json:
        _approve(fin, task["id"], approved_credit_limit="100000", payment_terms="net30")

    sim.faults(down=True)
    app.config["JOB_MAX_ATTEMPTS"] = 3
    try:
        run_due_jobs("w1", limit=1000)  # archives succeed, every ERP call fails 3 times
    finally:
        app.config["JOB_MAX_ATTEMPTS"] = 5
    db.session.expire_all()
    incidents = admin.get("/api/v1/incidents").json
    assert len(incidents) == N and all(i["operation"] == "erp.create_customer" for i in incidents)
    assert all("503" in i["error"] or "unavailable" in i["error"].lower() for i in incidents)
    assert db.session.query(ProcessInstance).filter_by(status="running").count() == N

    sim.faults(down=False)
    for incident in incidents:
        assert admin.post(f"/api/v1/incidents/{incident['id']}/retry").status_code == 200
    run_due_jobs("w1", limit=1000)
    db.session.expire_all()
    assert admin.get("/api/v1/incidents").json == []
    assert {i.status for i in db.session.query(Incident)} == {"retried"}
    done = [admin.get(f"/api/v1/instances/{i}").json for i in ids]
    assert all(d["status"] == "completed" and d["outcome"] == "approved" for d in done)
    assert sim.store.count_customers() == len(DEMO_CUSTOMERS) + N  # exactly one per dealer
