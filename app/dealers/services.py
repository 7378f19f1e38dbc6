"""Dealer master services."""

from datetime import date

from sqlalchemy import func, or_, select

from app.audit.services import record
from app.core.errors import NotFound
from app.core.models import User
from app.dealers.models import Dealer, DealerAddress, DealerBankAccount, DealerLifecycle
from app.extensions import db
from connectors.registry import BusinessError


def next_dealer_code(region: str) -> str:
    prefix = f"D{region[:1].upper()}"
    count = db.session.scalar(select(func.count(Dealer.id)).where(Dealer.code.like(f"{prefix}%")))
    return f"{prefix}{(count or 0) + 1:06d}"


def _int_or_none(value) -> int | None:
    return int(value) if value not in (None, "") else None


def archive_admitted_dealer(params: dict, instance_id: int) -> Dealer:
    """Create the dealer (active) with its addresses, bank account and a lifecycle record.

    Idempotent per instance: a retry returns the dealer the first run created.
    """
    existing = db.session.scalar(select(Dealer).where(Dealer.source_instance_id == instance_id))
    if existing is not None:
        return existing
    clash = db.session.scalar(select(Dealer).where(Dealer.uscc == params["uscc"]))
    if clash is not None:
        raise BusinessError("DUPLICATE_USCC", f"Dealer {clash.code} already has this USCC")
    dealer = Dealer(code=next_dealer_code(params["region"]), name=params["company_name"],
                    uscc=params["uscc"], dealer_type=params["dealer_type"], level=params["level"],
                    region=params["region"], status="active",
                    parent_id=_int_or_none(params.get("parent_dealer")),
                    legal_representative=params.get("legal_representative"),
                    contact_name=params.get("contact_name"),
                    contact_phone=params.get("contact_phone"),
                    credit_limit=params["credit_limit"], payment_terms=params.get("payment_terms"),
                    licence_file_id=_int_or_none(params.get("business_licence")),
                    admitted_on=date.today(), source_instance_id=instance_id)
    for i, row in enumerate(params.get("shipping_addresses") or []):
        dealer.addresses.append(DealerAddress(address=row.get("address", ""),
                                              receiver=row.get("receiver"),
                                              phone=row.get("phone"), is_default=i == 0))
    if params.get("bank_name") and params.get("bank_account"):
        dealer.bank_accounts.append(DealerBankAccount(bank_name=params["bank_name"],
                                                      account_no=params["bank_account"]))
    dealer.lifecycle.append(DealerLifecycle(from_status=None, to_status="active",
                                            reason="admission approved", actor="worker",
                                            instance_id=instance_id))
    db.session.add(dealer)
    db.session.flush()
    record("worker", "dealer.archived", target_type="dealer", target_id=dealer.id,
           instance_id=instance_id, dealer_id=dealer.id,
           details={"code": dealer.code, "name": dealer.name})
    return dealer


def set_erp_customer_number(code: str, customer_number: str, instance_id: int | None) -> Dealer:
    """Record the dealer's ERP customer number (10 digits, zero-padded); idempotent."""
    dealer = db.session.scalar(select(Dealer).where(Dealer.code == code))
    if dealer is None:
        raise BusinessError("UNKNOWN_DEALER", f"Dealer {code} does not exist")
    number = customer_number.zfill(10) if customer_number.isdigit() else customer_number
    if dealer.erp_customer_no != number:
        dealer.erp_customer_no = number
        db.session.flush()
        record("worker", "dealer.erp_linked", target_type="dealer", target_id=dealer.id,
               instance_id=instance_id, dealer_id=dealer.id,
               details={"code": dealer.code, "erp_customer_number": number})
    return dealer


def visible_dealers(user: User):
    """Dealers a user may see: staff see all (regional managers their region), dealers their own."""
    stmt = select(Dealer)
    if user.has_role("admin", "analyst", "finance", "sales_director", "customer_service",
                     "store_ops", "inspector"):
        pass
    elif user.has_role("regional_manager"):
        stmt = stmt.where(Dealer.region == user.region)
    elif user.dealer_id:
        stmt = stmt.where(or_(Dealer.id == user.dealer_id, Dealer.parent_id == user.dealer_id))
    else:
        stmt = stmt.where(False)
    return stmt


def list_dealers(user: User, region=None, status=None, q=None, limit: int = 200):
    stmt = visible_dealers(user)
    if region:
        stmt = stmt.where(Dealer.region == region)
    if status:
        stmt = stmt.where(Dealer.status == status)
    if q:
        stmt = stmt.where(or_(Dealer.name.contains(q), Dealer.code.contains(q)))
    return db.session.scalars(stmt.order_by(Dealer.code).limit(limit)).all()


def get_dealer_for(dealer_id: int, user: User) -> Dealer:
    dealer = db.session.scalar(visible_dealers(user).where(Dealer.id == dealer_id))
    if dealer is None:
        raise NotFound(f"Dealer {dealer_id} not found")
    return dealer
