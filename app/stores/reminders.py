"""Store reminders and escalations as notifications, and the daily store jobs.

The checks in ``app.stores.services`` and ``app.stores.inspections`` keep writing store events
(the store's history); :func:`tell` also notifies the people concerned in the app:

* a late opening milestone: the dealer's users; its escalation: the regional managers of the
  store's region;
* an inspection due soon: its inspector, else the inspectors of the region; an overdue one:
  store operations and the regional managers of the region.
"""

from datetime import timedelta

from sqlalchemy import select

from app.core.models import User
from app.extensions import db
from app.jobs.periodic import register_periodic
from app.notify.services import notify
from app.tasks.approvers import users_with_role

DAY = timedelta(days=1)


def _dealer_users(dealer_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.dealer_id == dealer_id,
                                                      User.active.is_(True))))


def recipients(kind: str, *, dealer_id: int, region: str, inspector: str | None = None) -> list:
    if kind == "milestone_overdue":
        return _dealer_users(dealer_id)
    if kind == "milestone_escalated":
        return users_with_role("regional_manager", region)
    if kind == "inspection_due_soon":
        return [inspector] if inspector else users_with_role("inspector", region)
    if kind == "inspection_overdue":
        return users_with_role("store_ops") + users_with_role("regional_manager", region)
    raise ValueError(f"Unknown store reminder '{kind}'")


TITLES = {
    "milestone_overdue": "门店里程碑逾期 Store milestone overdue",
    "milestone_escalated": "门店里程碑逾期升级 Store milestone escalated",
    "inspection_due_soon": "门店巡检即将到期 Store inspection due soon",
    "inspection_overdue": "门店巡检已逾期 Store inspection overdue",
}


def tell(kind: str, store_id: int, store_name: str, message: str, *, dealer_id: int,
         region: str, inspector: str | None = None) -> None:
    """Notify (in the app, in the caller's transaction) whoever ``kind`` concerns."""
    notify(recipients(kind, dealer_id=dealer_id, region=region, inspector=inspector), kind,
           f"{TITLES[kind]}: {store_name}", message, link=f"/stores/{store_id}")


def _generate() -> dict:
    from app.stores.inspections import generate_current_slot

    return {"created": generate_current_slot(actor="worker")}


def _check_inspections() -> dict:
    from app.stores.inspections import check_inspections

    return check_inspections()


def _check_milestones() -> dict:
    from app.stores.services import check_overdue_milestones

    return check_overdue_milestones()


register_periodic("stores.generate_inspections", every=DAY, func=_generate,
                  description="Generate this month's store inspections from the plans")
register_periodic("stores.check_inspections", every=DAY, func=_check_inspections,
                  description="Remind inspectors of inspections due soon; escalate overdue ones")
register_periodic("stores.check_overdue_milestones", every=DAY, func=_check_milestones,
                  description="Remind dealers of late opening milestones; escalate to managers")
