"""Prepayment services: the dealer asks to prepay a blocked order's shortfall, the bank reports
the payment, and the waiting ``order_approval`` instance receives ``payment_received``.

Bad callbacks change nothing: an unknown order (or one without a payment request) is 404, an
amount other than the one requested is 422, and a repeated callback answers as the first did.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import orjson
from flask import current_app, has_request_context, url_for
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit.services import record
from app.core.errors import AppError, Conflict, NotFound, Unauthorized, ValidationFailed
from app.core.models import utcnow
from app.dealers.models import Dealer
from app.engine.models import ProcessInstance
from app.extensions import db
from app.orders import services as orders
from app.orders.models import SalesOrder
from app.payments.models import OrderPayment
from connectors.bank import SimulatedBank, signature_problem

log = logging.getLogger(__name__)
MESSAGE = "payment_received"


class BankUnavailable(AppError):
    status = 503
    code = "bank_unavailable"


def payment_of(order: SalesOrder) -> OrderPayment | None:
    return db.session.scalar(select(OrderPayment).where(OrderPayment.order_id == order.id))


def _missing(details: dict | None, net_total: Decimal) -> Decimal | None:
    if not details or "available_after" not in details:
        return None
    missing = -Decimal(str(details["available_after"]))
    return min(missing, net_total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if missing > 0 else None


def shortfall(order: SalesOrder) -> Decimal | None:
    """How much of the order the dealer's credit does not cover (never more than the order),
    from the credit check's figures; None when the check found no shortfall."""
    checks = [e for e in order.events if e.kind == "credit_checked"]
    return _missing(checks[-1].details, order.net_total) if checks else None


def waits_for_payment(order: SalesOrder) -> bool:
    """The order is credit-blocked and its approval still waits (finance has not decided)."""
    if order.status != "credit_blocked" or order.instance_id is None:
        return False
    instance = db.session.get(ProcessInstance, order.instance_id)
    return bool(instance and instance.status == "running"
                and f",{MESSAGE}," in (instance.waiting_messages or ""))


def prepay_states(order_list: list[SalesOrder]) -> dict[int, dict]:
    """For many credit-blocked orders at once (a dashboard): order id → ``{"amount",
    "payment", "waits"}``, in three queries whatever the number of orders."""
    from app.orders.models import OrderEvent

    blocked = [o for o in order_list if o.status == "credit_blocked"]
    if not blocked:
        return {}
    ids = [o.id for o in blocked]
    payments = {p.order_id: p for p in db.session.scalars(
        select(OrderPayment).where(OrderPayment.order_id.in_(ids)))}
    checks: dict[int, dict] = {}
    for order_id, details in db.session.execute(
            select(OrderEvent.order_id, OrderEvent.details).where(
                OrderEvent.order_id.in_(ids), OrderEvent.kind == "credit_checked")
            .order_by(OrderEvent.id)):
        checks[order_id] = details or {}
    waiting = set(db.session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.id.in_([o.instance_id for o in blocked if o.instance_id]),
        ProcessInstance.status == "running",
        ProcessInstance.waiting_messages.contains(f",{MESSAGE},"))))
    return {order.id: {"amount": _missing(checks.get(order.id), order.net_total),
                       "payment": payments.get(order.id), "waits": order.instance_id in waiting}
            for order in blocked}


def _callback_url() -> str | None:
    configured = current_app.config.get("BANK_CALLBACK_URL")
    if configured:
        return configured
    return url_for("payments_api.callback", _external=True) if has_request_context() else None


def request_prepayment(order_id: int, user) -> tuple[OrderPayment, bool]:
    """Create the bank payment request for the shortfall; (payment, created).

    A second request for the same order returns the first. 409 when the order is not waiting
    for finance any more; 503 when the bank cannot be reached (nothing is stored).
    """
    from connectors.registry import CallContext, ConnectorError, registry

    order = orders.get_order_for(order_id, user)
    existing = payment_of(order)
    if existing is not None:
        if existing.status == "requested":
            return existing, False
        raise Conflict(f"Order {order.number} has a {existing.status} prepayment already",
                       code="prepayment_exists")
    amount = shortfall(order)
    if amount is None or not waits_for_payment(order):
        raise Conflict(f"Order {order.number} is not waiting for credit release",
                       code="not_credit_blocked")
    op = registry.get("bank.create_payment_request")
    dealer = db.session.get(Dealer, order.dealer_id)
    dealer_code = dealer.code if dealer else str(order.dealer_id)
    try:
        answer = op.fn(
            op.load_params({"order_number": order.number, "amount": str(amount),
                            "currency": order.currency, "payer": dealer_code,
                            "callback": _callback_url()}),
            CallContext(idempotency_key=f"prepay-{order.number}", instance_id=order.instance_id or 0,
                        actor=user.username),
        )
    except ConnectorError as exc:
        raise BankUnavailable(f"The bank could not take the payment request: {exc}") from exc
    now = utcnow()
    after = answer.get("pays_after_seconds")
    payment = OrderPayment(
        order_id=order.id, amount=amount, currency=order.currency, bank=answer["bank"],
        bank_reference=answer["bank_reference"], requested_by=user.username,
        pay_due_at=now + timedelta(seconds=after) if after is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(payment)
    except IntegrityError:
        # The same request twice at once: the bank deduped it on the idempotency key.
        existing = payment_of(order)
        if existing is None:
            raise
        return existing, False
    orders.event(order, "prepayment_requested", user.username, amount=str(amount),
                 bank_reference=payment.bank_reference)
    db.session.flush()
    record(user.username, "order.prepayment_requested", target_type="order", target_id=order.id,
           instance_id=order.instance_id, dealer_id=order.dealer_id,
           details={"amount": str(amount), "bank": payment.bank,
                    "bank_reference": payment.bank_reference})
    return payment, True


def callback_secret() -> str:
    """The shared secret bank callbacks are signed with (``BANK_CALLBACK_SECRET``)."""
    configured = current_app.config.get("BANK_CALLBACK_SECRET")
    if configured:
        return str(configured)
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"dealerflow bank callback", hashlib.sha256).hexdigest()


def check_callback_signature(body: bytes, headers) -> None:
    """401 unless the callback carries a good, recent signature of its raw ``body``."""
    problem = signature_problem(callback_secret(), body, headers,
                                float(current_app.config["BANK_CALLBACK_WINDOW_SECONDS"]))
    if problem:
        log.warning("bank callback refused: %s", problem)
        raise Unauthorized(problem, code="bad_signature")


def receive_payment(order_number: str, amount, transaction_id: str, actor: str,
                    currency: str | None = None) -> tuple[OrderPayment, bool]:
    """The bank says the dealer paid: record it and wake the order; (payment, duplicate)."""
    from app.engine.services import deliver_message

    order = db.session.scalar(select(SalesOrder).where(SalesOrder.number == order_number))
    if order is None:
        raise NotFound(f"Order {order_number} not found")
    payment = payment_of(order)
    if payment is None:
        raise NotFound(f"Order {order_number} has no payment request", code="no_payment_request")
    errors = {}
    if Decimal(str(amount)) != payment.amount:
        errors["amount"] = [f"The payment request is for {payment.amount} {payment.currency}"]
    if currency and currency != payment.currency:
        errors["currency"] = [f"The payment request is in {payment.currency}"]
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    taken = db.session.execute(
        update(OrderPayment)
        .where(OrderPayment.id == payment.id, OrderPayment.status != "paid")
        .values(status="paid", transaction_id=transaction_id, paid_at=now, pay_due_at=None)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return payment, True
    db.session.refresh(payment)
    orders.event(order, "prepayment_received", actor, amount=str(payment.amount),
                 transaction_id=transaction_id)
    db.session.flush()
    try:
        with db.session.begin_nested():
            deliver_message(MESSAGE, {"order_number": order.number, "amount": str(payment.amount),
                                      "transaction_id": transaction_id},
                            None, correlation={"order_number": order.number})
    except NotFound:
        # Finance decided (or the order was cancelled) before the money came: keep the record.
        payment.note = "The order no longer waited for the payment; finance settles it."
        orders.event(order, "prepayment_unmatched", actor, note=payment.note)
    _tell_dealer(order, payment)
    record(actor, "order.prepayment_received", target_type="order", target_id=order.id,
           instance_id=order.instance_id, dealer_id=order.dealer_id,
           details={"amount": str(payment.amount), "transaction_id": transaction_id,
                    "matched": payment.note is None})
    return payment, False


def _tell_dealer(order: SalesOrder, payment: OrderPayment) -> None:
    """The dealer's users hear that the bank confirmed the prepayment (app and SMS)."""
    from app.core.models import User
    from app.notify.services import notify

    users = db.session.scalars(select(User).where(User.dealer_id == order.dealer_id,
                                                  User.active.is_(True))).all()
    matched = payment.note is None
    notify(list(users), "prepayment_received",
           f"预付款已到账 Prepayment received: {order.number}",
           (f"{payment.amount} {payment.currency}: "
            + ("订单继续处理 the order goes on" if matched
               else "订单已处理，由财务结算 the order was already decided; finance settles it")),
           link=f"/portal/orders/{order.id}", instance_id=order.instance_id,
           channels=("inbox", "sms"), actor="bank")


def pay_simulated(now=None, limit: int = 50) -> int:
    """The embedded bank: payment requests whose delay passed are paid and called back."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(OrderPayment.id).where(OrderPayment.bank == "simulated",
                                      OrderPayment.status == "requested",
                                      OrderPayment.pay_due_at <= now)
        .order_by(OrderPayment.id).limit(limit)).all()
    db.session.rollback()
    paid = 0
    for payment_id in ids:
        payment = db.session.get(OrderPayment, payment_id)
        order = db.session.get(SalesOrder, payment.order_id)
        if order.status != "credit_blocked":
            payment.status, payment.pay_due_at = "expired", None
            payment.note = f"Not collected: the order became {order.status} first."
            db.session.commit()
            continue
        body, headers = SimulatedBank.signed_callback(callback_secret(), order.number,
                                                      payment.amount, f"SIMTX{payment.id:010d}")
        try:
            check_callback_signature(body, headers)
            call = orjson.loads(body)
            receive_payment(call["order_number"], call["amount"], call["transaction_id"], "bank")
        except AppError as exc:
            db.session.rollback()
            log.warning("simulated bank callback for %s failed: %s", order.number, exc.message)
            payment = db.session.get(OrderPayment, payment_id)
            payment.pay_due_at = now + timedelta(seconds=60)
            payment.note = f"callback: {exc.message}"
            db.session.commit()
            continue
        db.session.commit()
        paid += 1
    return paid
