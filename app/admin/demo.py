"""Demo data for `make run` / `flask demo seed` (never used by production installs)."""

from decimal import Decimal

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.audit.services import record
from app.core.models import Region, User
from app.dealers.models import Dealer, DealerAddress, DealerBankAccount, DealerLifecycle
from app.extensions import db

REGIONS = [("east", "华东", "East"), ("south", "华南", "South"), ("north", "华北", "North"),
           ("west", "西部", "West"), ("central", "华中", "Central")]

DEMO_USERS = [
    ("admin", "系统管理员", ["admin"], None),
    ("analyst", "流程分析师", ["analyst"], None),
    ("mgr_east", "华东区域经理", ["regional_manager"], "east"),
    ("mgr_south", "华南区域经理", ["regional_manager"], "south"),
    ("finance", "财务审核", ["finance"], None),
    ("director", "销售总监", ["sales_director"], None),
    ("cs", "客服专员", ["customer_service"], None),
    ("storeops", "门店运营", ["store_ops"], None),
    ("inspector", "巡店员", ["inspector"], "east"),
    ("applicant", "准入申请人", ["applicant"], "east"),
    ("marketing", "市场专员", ["marketing"], None),
]

# Mobile numbers of demo users (SMS reminders land in the outbox with these).
DEMO_PHONES = {"mgr_east": "13800000101", "mgr_south": "13800000102",
               "finance": "13800000103", "director": "13800000104",
               "applicant": "13800000109"}

# (code, name, USCC without its check character, region, user, ERP customer number as
# seeded in the ERP simulator)
DEMO_DEALERS = [
    ("DE000001", "上海东方食品贸易有限公司", "91310000MA1K35X1A", "east", "dealer_east", "0000010001"),
    ("DS000001", "广州南粤快消品有限公司", "91440101MA5CYD1R8", "south", "dealer_south", "0000010002"),
]


def seed_regions() -> None:
    for code, zh, en in REGIONS:
        if db.session.get(Region, code) is None:
            db.session.add(Region(code=code, name_zh=zh, name_en=en))
    db.session.flush()


def _dealer(code, name, uscc17, region, erp_no) -> Dealer:
    from app.forms import uscc_check_char

    uscc = uscc17 + uscc_check_char(uscc17)
    dealer = db.session.scalar(select(Dealer).where(Dealer.code == code))
    if dealer is None:
        dealer = Dealer(code=code, name=name, uscc=uscc, dealer_type="tier1", level="A",
                        region=region, status="active", credit_limit=Decimal("800000.00"),
                        payment_terms="net30", contact_name="王经理", contact_phone="13800138000",
                        erp_customer_no=erp_no)
        dealer.addresses.append(DealerAddress(address=f"{name} 仓库", receiver="王经理",
                                              phone="13800138000", is_default=True))
        dealer.bank_accounts.append(DealerBankAccount(bank_name="中国工商银行",
                                                      account_no="6222020200112233445"))
        dealer.lifecycle.append(DealerLifecycle(to_status="active", reason="demo data",
                                                actor="demo"))
        db.session.add(dealer)
        db.session.flush()
    return dealer


def seed_demo() -> int:
    """Create regions, demo users (password 'demo') and two active dealers; idempotent."""
    seed_regions()
    password = generate_password_hash("demo")
    created = 0
    users = list(DEMO_USERS)
    for code, name, uscc, region, username, erp_no in DEMO_DEALERS:
        dealer = _dealer(code, name, uscc, region, erp_no)
        users.append((username, name, ["dealer"], region, dealer.id))
    for entry in users:
        username, display, roles, region = entry[:4]
        dealer_id = entry[4] if len(entry) > 4 else None
        if User.by_username(username):
            continue
        user = User(username=username, display_name=display, region=region, dealer_id=dealer_id,
                    password_hash=password, phone=DEMO_PHONES.get(username))
        user.roles = roles
        db.session.add(user)
        created += 1
    db.session.flush()
    if created:
        record("system", "demo.seeded", details={"users": created})
    return created
