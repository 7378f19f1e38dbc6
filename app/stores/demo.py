"""Demo stores for `flask demo seed`: a few stores of the demo dealers in every state.

They are written straight into the ledger (with their history); stores opened through the
``store_opening`` process get the same rows from its service tasks.
"""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.dealers.models import Dealer
from app.extensions import db
from app.stores.models import InspectionPlan, Store, StoreBudgetLine, StoreMilestone
from app.stores.services import MILESTONE_PLAN, add_event

# (code, dealer code, name, city, address, type, area, status, days since opening/approval)
DEMO_STORES = [
    ("SE900001", "DE000001", "上海南京路旗舰店", "上海", "南京东路 300 号", "flagship", "260",
     "active", 180),
    ("SE900002", "DE000001", "上海徐家汇标准店", "上海", "漕溪北路 88 号", "standard", "120",
     "opening", 40),
    ("SE900003", "DE000001", "苏州观前街店", "苏州", "观前街 12 号", "standard", "90",
     "suspended", 400),
    ("SS900001", "DS000001", "广州天河店", "广州", "天河路 208 号", "standard", "150", "active", 90),
    ("SS900002", "DS000001", "深圳福田专柜", "深圳", "华强北路 1 号", "kiosk", "30", "closed", 700),
    ("SS900003", "DS000001", "佛山祖庙店", "佛山", "祖庙路 6 号", "standard", "110", "planned", 0),
]
BUDGET = {"rent": "120000", "decoration": "180000", "equipment": "60000", "first_stock": "40000"}


def _milestones(store: Store, started: date) -> None:
    span = 70
    start = started
    for seq, (code, (share, category)) in enumerate(MILESTONE_PLAN.items(), start=1):
        due = started + timedelta(days=round(span * share))
        m = StoreMilestone(code=code, seq=seq, category=category, planned_start=start,
                           planned_date=due)
        if due < date.today() - timedelta(days=5):
            m.status, m.actual_date, m.confirmed_by = "confirmed", due, "storeops"
            m.actual_cost = Decimal(BUDGET.get(category or "", "8000")) * Decimal("1.05")
        store.milestones.append(m)
        start = due


def seed_demo_stores() -> int:
    """Create the demo stores once (idempotent); return how many were created."""
    created = 0
    for code, dealer_code, name, city, address, kind, area, status, days in DEMO_STORES:
        if db.session.scalar(select(Store.id).where(Store.code == code)) is not None:
            continue
        dealer = db.session.scalar(select(Dealer).where(Dealer.code == dealer_code))
        if dealer is None:
            continue
        began = date.today() - timedelta(days=days)
        store = Store(code=code, name=name, dealer_id=dealer.id, region=dealer.region,
                      status=status, city=city, address=address, store_type=kind,
                      area_m2=Decimal(area), expected_opening=began + timedelta(days=70),
                      budget_total=sum(Decimal(v) for v in BUDGET.values()))
        for category, amount in BUDGET.items():
            store.budget_lines.append(StoreBudgetLine(category=category, amount=Decimal(amount)))
        if status != "planned":
            _milestones(store, began)
        if status in ("active", "suspended", "closed"):
            store.opened_on = began + timedelta(days=70)
            for m in store.milestones:
                m.status, m.actual_date = "confirmed", m.actual_date or m.planned_date
                m.actual_cost = m.actual_cost or Decimal("8000")
        store.actual_total = sum((m.actual_cost or Decimal("0") for m in store.milestones),
                                 Decimal("0"))
        db.session.add(store)
        db.session.flush()
        add_event(store, "demo_seeded", "demo", f"Demo store ({status})")
        created += 1
    if created and db.session.scalar(select(InspectionPlan.id).limit(1)) is None:
        db.session.add(InspectionPlan(name="标准店月度巡店 Standard stores, monthly",
                                      store_type="standard", every_months=1,
                                      start_month="2026-01", due_days=20, threshold=70,
                                      created_by="demo"))
    db.session.flush()
    return created
