"""Order-to-cash follow-up: the periodic ``erp.delivery_poll``.

Every run reads the outbound deliveries the ERP changed since the previous run (the ERP's
``until`` watermark is kept in the run's result), matches them to order parts by ERP order
number and marks goods-issued parts ``shipped``; then it asks the ERP for the billing documents
of every shipped part and marks them ``invoiced``. An order follows its live parts (shipped when
all are, completed when all are invoiced, at which point its ``order_approval`` instance gets
the ``order_invoiced`` message). The dealer's users are told in the app and by SMS. A second
run over the same ERP data changes nothing and notifies nobody again.
"""

import logging
import os
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select

from app.audit.services import record
from app.core.errors import NotFound
from app.core.models import User
from app.extensions import db
from app.jobs.models import PeriodicRun
from app.jobs.periodic import register_periodic
from app.orders import services
from app.orders.models import OrderPart, SalesOrder
from connectors.registry import CallContext, registry

log = logging.getLogger(__name__)

JOB_NAME = "erp.delivery_poll"
ACTOR = "erp-poll"
# The first run (no watermark yet) looks back this far.
FIRST_LOOKBACK = timedelta(days=7)


def _call(op_name: str, key: str, **params) -> dict:
    op = registry.get(op_name)
    return op.fn(op.load_params(params), CallContext(idempotency_key=key, instance_id=0, actor=ACTOR))


def _watermark() -> str:
    """The ERP's ``until`` of the last successful run, else a week ago."""
    for result in db.session.scalars(
        select(PeriodicRun.result)
        .where(PeriodicRun.name == JOB_NAME, PeriodicRun.status == "done")
        .order_by(PeriodicRun.id.desc())
        .limit(20)
    ):
        try:
            until = orjson.loads(result or "null")
        except orjson.JSONDecodeError:
            continue
        if isinstance(until, dict) and until.get("until"):
            return until["until"]
    return (datetime.now(UTC) - FIRST_LOOKBACK).isoformat()


def _live(order: SalesOrder) -> list[OrderPart]:
    return [p for p in order.parts if p.status not in ("cancelled", "erp_error")]


def _dealer_users(order: SalesOrder) -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.dealer_id == order.dealer_id, User.active.is_(True))))


def _tell_dealer(order: SalesOrder, kind: str, title: str, body: str) -> None:
    from app.notify.services import notify

    notify(_dealer_users(order), kind, title, body, link=f"/portal/orders/{order.id}",
           instance_id=order.instance_id, channels=("inbox", "sms"), actor=ACTOR)


def _ship(part: OrderPart, deliveries: list[str], touched: set[int]) -> bool:
    new = [d for d in deliveries if d not in part.delivery_numbers]
    if not new and part.status in ("shipped", "invoiced"):
        return False
    part.delivery_numbers = sorted(set(part.delivery_numbers) | set(new))
    if part.status == "in_erp":
        part.status = "shipped"
    touched.add(part.order_id)
    order = db.session.get(SalesOrder, part.order_id)
    services.event(order, "shipped", ACTOR, ", ".join(new or deliveries),
                   part_no=part.part_no, erp_order_number=part.erp_order_number, deliveries=new)
    record(ACTOR, "order.shipped", target_type="order", target_id=order.id, dealer_id=order.dealer_id,
           details={"part_no": part.part_no, "deliveries": new})
    _tell_dealer(order, "order_shipped", f"订单 {order.number} 已发货 Order shipped",
                 f"交货单 Deliveries {', '.join(new or deliveries)}")
    return True


def _invoice(part: OrderPart, documents: list[str]) -> bool:
    new = [d for d in documents if d not in part.billing_numbers]
    if not new:
        return False
    part.billing_numbers = sorted(set(part.billing_numbers) | set(new))
    part.status = "invoiced"
    order = db.session.get(SalesOrder, part.order_id)
    services.event(order, "invoiced", ACTOR, ", ".join(new), part_no=part.part_no,
                   erp_order_number=part.erp_order_number, billing_documents=new)
    record(ACTOR, "order.invoiced", target_type="order", target_id=order.id, dealer_id=order.dealer_id,
           details={"part_no": part.part_no, "billing_documents": new})
    _tell_dealer(order, "order_invoiced", f"订单 {order.number} 已开票 Order invoiced",
                 f"发票 Billing documents {', '.join(new)}")
    return True


def _follow(order: SalesOrder) -> None:
    """Move the order with its live parts; complete it (and its instance) when all are invoiced."""
    live = _live(order)
    if not live or order.status in ("completed", "cancelled", "rejected"):
        return
    if all(p.status == "invoiced" for p in live):
        order.status = "completed"
        services.event(order, "completed", ACTOR)
        record(ACTOR, "order.completed", target_type="order", target_id=order.id, dealer_id=order.dealer_id,
               details={"status": "completed"})
        _wake_instance(order)
    elif all(p.status in ("shipped", "invoiced") for p in live):
        order.status = "invoiced" if any(p.status == "invoiced" for p in live) else "shipped"


def _wake_instance(order: SalesOrder) -> None:
    from app.engine.services import deliver_message

    if order.instance_id is None:
        return
    try:
        deliver_message("order_invoiced", {"order_number": order.number}, None,
                        instance_id=order.instance_id, correlation={"order_number": order.number})
    except NotFound:
        # The instance ended another way (an older model, or a partly cancelled order).
        log.info("Order %s: its instance %s does not wait for order_invoiced", order.number,
                 order.instance_id)


def _idle() -> None:
    """End the session's transaction before an ERP call: the call logs on its own connection."""
    db.session.commit()


def poll_deliveries() -> dict:
    """Pull outbound deliveries changed since the last poll; ship and invoice order parts.

    Every ERP call is made first, with no transaction open (the exchange log writes on its own
    connection); the order changes then happen in the run's transaction.
    """
    since = _watermark()
    shipped = set(db.session.scalars(select(OrderPart.erp_order_number).where(OrderPart.status == "shipped")))
    _idle()
    changed = _call("erp.get_deliveries_changed", f"poll:{since}", changed_since=since)
    by_order: dict[str, list[str]] = {}
    for delivery in changed["deliveries"]:
        if delivery["goods_issued"] and delivery["sales_document"]:
            by_order.setdefault(delivery["sales_document"].zfill(10), []).append(delivery["delivery"])
    ours = set(db.session.scalars(
        select(OrderPart.erp_order_number).where(OrderPart.erp_order_number.in_(sorted(by_order)),
                                                 OrderPart.status.notin_(("cancelled", "erp_error")))))
    _idle()
    billing: dict[str, list[str]] = {}
    for erp_number in sorted(shipped | ours):
        documents = _call("erp.get_billing_documents", f"poll-billing:{erp_number}",
                          sales_document=erp_number)["billing_documents"]
        billing[erp_number] = [d["billing_document"] for d in documents
                               if not d["cancelled"] and d["billing_document"]]

    shipped_parts, invoiced_parts, touched = 0, 0, set()
    for erp_number in sorted(ours):
        part = services.search_by_erp_number(erp_number)
        shipped_parts += _ship(part, by_order[erp_number], touched)
    for erp_number, numbers in sorted(billing.items()):
        part = services.search_by_erp_number(erp_number)
        if numbers and part.status == "shipped" and _invoice(part, numbers):
            invoiced_parts += 1
            touched.add(part.order_id)
    for order_id in sorted(touched):
        _follow(db.session.get(SalesOrder, order_id))
    return {"until": changed["until"] or since, "deliveries": len(changed["deliveries"]),
            "shipped_parts": shipped_parts, "invoiced_parts": invoiced_parts}


# The period in minutes: DEALERFLOW_DELIVERY_POLL_MINUTES (5 by default).
POLL_EVERY = timedelta(minutes=int(os.environ.get("DEALERFLOW_DELIVERY_POLL_MINUTES", "5")))

register_periodic(JOB_NAME, every=POLL_EVERY, func=poll_deliveries,
                  description="Pull deliveries and billing documents; ship, invoice and complete orders")
