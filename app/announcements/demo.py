"""Demo announcements for `flask demo seed`: one for every dealer, one for East China only."""

from datetime import date, timedelta

from sqlalchemy import select

from app.announcements.models import Announcement
from app.extensions import db

DEMO = [
    ("春节发货安排 Spring Festival shipping", "节前最后发货日为腊月二十五，请提前备货。"
     " Last shipments before the holiday leave on the 25th of the 12th lunar month.", []),
    ("华东区新品品鉴会 East China tasting day", "本月 20 日上海门店开放新品品鉴，一级经销商优先报名。"
     " New products are presented in Shanghai on the 20th; tier-1 dealers register first.",
     ["east"]),
]


def seed_demo_announcements() -> int:
    """Create the demo announcements once; return how many were created."""
    have = set(db.session.scalars(select(Announcement.title)))
    created = 0
    for title, body, regions in DEMO:
        if title in have:
            continue
        db.session.add(Announcement(title=title, body=body, valid_from=date.today() - timedelta(days=1),
                                    valid_to=date.today() + timedelta(days=60), regions=regions,
                                    dealer_types=[], status="published", created_by="admin"))
        created += 1
    db.session.flush()
    return created
