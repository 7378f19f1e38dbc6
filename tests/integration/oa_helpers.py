"""Shared helpers for the approval-operation tests: deploy the small test models, add users,
start instances and find tasks through the REST API."""

from pathlib import Path

from werkzeug.security import generate_password_hash

from app.core.models import User
from app.engine.services import deploy_directory
from app.extensions import db

MODELS = Path(__file__).parent / "bpmn"


def deploy_models() -> None:
    deploy_directory(str(MODELS), actor="test")
    db.session.commit()


def add_user(username: str, roles: list[str], region: str | None = None) -> User:
    user = User(username=username, display_name=username, region=region,
                password_hash=generate_password_hash("demo"))
    user.roles = roles
    db.session.add(user)
    db.session.commit()
    return user


def start(client, key: str, **data) -> dict:
    r = client.post(f"/api/v1/processes/{key}/instances", json={"data": data})
    assert r.status_code == 201, r.json
    return r.json


def mine(client, instance_id: int | None = None) -> list[dict]:
    tasks = client.get("/api/v1/tasks?scope=mine").json
    return [t for t in tasks if instance_id is None or t["instance_id"] == instance_id]


def group(client, instance_id: int | None = None) -> list[dict]:
    tasks = client.get("/api/v1/tasks?scope=group").json
    return [t for t in tasks if instance_id is None or t["instance_id"] == instance_id]


def history(client, instance_id: int) -> list[dict]:
    r = client.get(f"/api/v1/instances/{instance_id}?history=1")
    assert r.status_code == 200, r.json
    return r.json["tasks"]


def complete(client, task_id: int, expect: int = 200, **data):
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data})
    assert r.status_code == expect, r.json
    return r.json
