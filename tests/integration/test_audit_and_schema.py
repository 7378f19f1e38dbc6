"""Audit chain verification, CLI contract and schema/migration agreement."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from app.audit.models import AuditEvent
from app.audit.services import verify_chain
from app.core.models import schema_objects_of
from app.extensions import db
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]


def test_verify_names_first_tampered_event(app, api, admission_data):
    api("applicant").post("/api/v1/processes/dealer_admission/instances",
                          json={"data": admission_data()})
    count, broken, _ = verify_chain()
    assert broken is None and count >= 3
    victim = db.session.query(AuditEvent).order_by(AuditEvent.id).offset(2).first()
    db.session.execute(text("UPDATE audit_event SET actor='mallory' WHERE id=:i"), {"i": victim.id})
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {victim.id}" in result.output


def test_audit_api_filters(api, admission_data):
    iid = api("applicant").post("/api/v1/processes/dealer_admission/instances",
                                json={"data": admission_data()}).json["id"]
    admin = api("admin")
    events = admin.get(f"/api/v1/audit?instance_id={iid}").json
    assert {"instance.started", "task.completed"} <= {e["action"] for e in events}
    only = admin.get("/api/v1/audit?actor=applicant&action=task.completed").json
    assert only and all(e["actor"] == "applicant" for e in only)
    assert admin.get("/api/v1/audit?since=2999-01-01T00:00:00").json == []


def test_healthz_and_openapi(client):
    assert client.get("/healthz").status_code == 200
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/tasks/{task_id}/complete" in spec["paths"]


def _flask_db(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "db", *args], env=env, check=True,
                   capture_output=True, cwd=ROOT)


def _schema_diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": schema_objects_of(conn.dialect.name)})
        diff = compare_metadata(context, db.metadata)
    engine.dispose()
    return diff


def test_migrations_match_models(tmp_path):
    """Build the schema with `flask db upgrade` on a scratch database; diff it with the models."""
    url = f"sqlite:///{tmp_path / 'mig.db'}"
    env = os.environ | {"FLASK_APP": "wsgi", "DEALERFLOW_DATABASE_URL": url,
                        "DEALERFLOW_INSTANCE_PATH": str(tmp_path)}
    _flask_db(env, "upgrade")
    assert _schema_diff(url) == []
    _flask_db(env, "downgrade", "9ab629c6790c")  # the PostgreSQL-only inbox index: a no-op here
    _flask_db(env, "upgrade")
    assert _schema_diff(url) == []


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only indexes need PostgreSQL")
def test_migrations_match_models_on_postgresql(tmp_path):
    """The same on PostgreSQL, in a scratch schema of the test database; the amount-sorted
    inbox index (PostgreSQL only) comes and goes with its revision."""
    scratch = "migration_check"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {scratch} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {scratch}"))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{scratch}"
    env = os.environ | {"FLASK_APP": "wsgi", "DEALERFLOW_DATABASE_URL": url,
                        "DEALERFLOW_INSTANCE_PATH": str(tmp_path), "DEALERFLOW_SECRET_KEY": "x"}

    def indexes() -> set:
        with admin.connect() as conn:
            return set(conn.scalars(text("SELECT indexname FROM pg_indexes WHERE schemaname = "
                                         ":s AND tablename = 'human_task'"), {"s": scratch}))
    try:
        _flask_db(env, "upgrade")
        assert _schema_diff(url.replace("postgresql://", "postgresql+psycopg://", 1)) == []
        assert "ix_human_task_group_by_amount" in indexes()
        _flask_db(env, "downgrade", "9ab629c6790c")
        assert "ix_human_task_group_by_amount" not in indexes()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {scratch} CASCADE"))
        admin.dispose()


@pytest.mark.skipif(not PG_URL, reason="the 20-thread race needs PostgreSQL (row locks)")
def test_twenty_threads_racing_to_complete_one_task(app, api, admission_data):
    api("applicant").post("/api/v1/processes/dealer_admission/instances",
                          json={"data": admission_data()})
    mgr = api("mgr_east")
    task = mgr.get("/api/v1/tasks?scope=group").json[0]
    assert mgr.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    token = mgr.headers
    db.session.remove()
    results = []

    def attempt():
        with app.app_context():
            c = app.test_client()
            r = c.post(f"/api/v1/tasks/{task['id']}/complete", headers=token,
                       json={"data": {"decision": "approve", "comment": "race"}})
            results.append(r.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * 19
    admin = api("admin")
    events = admin.get(f"/api/v1/audit?action=task.completed&instance_id={task['instance_id']}").json
    assert len([e for e in events if e["task_id"] == task["id"]]) == 1
    inst = admin.get(f"/api/v1/instances/{task['instance_id']}").json
    assert [t["bpmn_id"] for t in inst["tasks"] if t["status"] == "open"] == ["finance_review"]


def test_api_docs_page_is_served_locally(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_concurrent_writers_never_see_database_is_locked(app, api, admission_data):
    """Eight threads starting instances at once (SQLite: BEGIN IMMEDIATE + busy timeout)."""
    applicant = api("applicant")
    bodies = [{"data": admission_data()} for _ in range(8)]
    headers = applicant.headers
    db.session.remove()
    statuses = []

    def start(body):
        with app.app_context():
            r = app.test_client().post("/api/v1/processes/dealer_admission/instances",
                                       headers=headers, json=body)
            statuses.append(r.status_code)

    threads = [threading.Thread(target=start, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 8
    assert len(api("mgr_east").get("/api/v1/tasks?scope=group").json) == 8
    assert verify_chain()[1] is None
