"""Approver lists for multi-instance (会签 / 或签 / 依次) nodes, offered to BPMN scripts.

A script task before a multi-instance user task can fill its input collection from a role and
a data scope, e.g. ``approvers = users_with_role("regional_manager", region)``; the user task
then uses ``camunda:assignee="${approver}"`` with ``inputDataItem`` ``approver``.
"""

from sqlalchemy import select

from app.core.models import User
from app.core.roles import ROLES
from app.extensions import db


def users_with_role(role: str, region: str | None = None) -> list[str]:
    """Active users holding ``role`` (in ``region`` when given), by user name."""
    if role not in ROLES:
        raise ValueError(f"Unknown role '{role}'")
    users = db.session.scalars(select(User).where(User.active.is_(True),
                                                  User.roles_csv.contains(role))
                               .order_by(User.username)).all()
    return [u.username for u in users if role in u.roles and
            (region is None or u.region in (None, region))]


def register() -> None:
    from app.engine.runtime import register_script_helper

    register_script_helper("users_with_role", users_with_role)
