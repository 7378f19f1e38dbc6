"""Registry operations that BPMN service tasks name to notify people or send messages.

``notify.remind_task`` — remind whoever may act on an open user task (in-app + SMS);
``notify.users`` — notify the users holding a role (optionally in a region) or listed by name;
``sms.send`` — queue one SMS; ``esign.send_contract`` — send a contract for signature (the
instance then waits for message ``esign_signed`` correlated on ``contract_id``).
All are internal: they write the outbox / notifications inside the job's transaction, and
the worker sends outbox messages afterwards.
"""

from marshmallow import Schema, fields
from sqlalchemy import select

from app.core.models import User
from app.engine.services import completion_hooks
from app.extensions import db
from app.jobs.services import call_completion_hooks
from app.notify import services
from connectors.registry import CallContext, registry


class RemindParams(Schema):
    task = fields.String(required=True, metadata={"description": "BPMN id of the user task"})
    title = fields.String(load_default="Reminder: a task is waiting for you")
    body = fields.String(load_default="", allow_none=True)
    channels = fields.List(fields.String(), load_default=lambda: ["inbox", "sms"])


@registry.register("notify.remind_task", schema=RemindParams, internal=True,
                   description="Remind the candidates of an open user task")
def remind_task(params: dict, ctx: CallContext) -> dict:
    from app.tasks.models import HumanTask

    tasks = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == ctx.instance_id, HumanTask.bpmn_id == params["task"],
        HumanTask.status == "open")).all()
    reminded = []
    for task in tasks:
        sent = services.notify_task_candidates(
            task, "reminder", params["title"], params.get("body") or task.title,
            channels=params["channels"], actor="worker")
        reminded += [db.session.get(User, n.recipient_id).username for n in sent]
    return {"reminded": sorted(set(reminded))}


class UsersParams(Schema):
    role = fields.String(load_default=None, allow_none=True)
    region = fields.String(load_default=None, allow_none=True)
    users = fields.List(fields.String(), load_default=list)
    kind = fields.String(load_default="info")
    title = fields.String(required=True)
    body = fields.String(load_default="", allow_none=True)
    channels = fields.List(fields.String(), load_default=lambda: ["inbox"])


@registry.register("notify.users", schema=UsersParams, internal=True,
                   description="Notify the users of a role (in a region) or named users")
def notify_users(params: dict, ctx: CallContext) -> dict:
    recipients = list(params["users"])
    if params.get("role"):
        for user in db.session.scalars(select(User).where(
                User.roles_csv.contains(params["role"]))):
            if params["role"] in user.roles and (not params.get("region")
                                                 or user.region == params["region"]):
                recipients.append(user)
    sent = services.notify(recipients, params["kind"], params["title"], params.get("body") or "",
                           link=f"/instances/{ctx.instance_id}", instance_id=ctx.instance_id,
                           channels=params["channels"], actor="worker")
    return {"notified": len(sent)}


class SmsParams(Schema):
    to = fields.String(required=True)
    text = fields.String(required=True)


@registry.register("sms.send", schema=SmsParams, internal=True,
                   description="Send an SMS (through the outbox)")
def sms_send(params: dict, ctx: CallContext) -> dict:
    msg = services.queue_message("sms", params["to"], {"text": params["text"]},
                                 instance_id=ctx.instance_id, actor="worker")
    return {"outbox_id": msg.id}


class ContractParams(Schema):
    contract_id = fields.String(required=True)
    signer = fields.String(required=True)
    mobile = fields.String(load_default=None, allow_none=True)
    title = fields.String(load_default="")
    document = fields.Integer(load_default=None, allow_none=True,
                              metadata={"description": "attachment id of the contract file"})


@registry.register("esign.send_contract", schema=ContractParams, internal=True,
                   description="Send a contract for e-signature (answer: message esign_signed)")
def esign_send_contract(params: dict, ctx: CallContext) -> dict:
    msg = services.queue_message("esign", params["signer"], dict(params),
                                 instance_id=ctx.instance_id, actor="worker")
    return {"outbox_id": msg.id, "contract_id": params["contract_id"]}


class DeliverParams(Schema):
    message_id = fields.Integer(required=True)
    channel = fields.String(required=True)
    recipient = fields.String(required=True)
    payload = fields.Dict(load_default=dict)


@registry.register("notify.deliver", schema=DeliverParams,
                   description="Send one outbox message through its gateway (SMS, WeCom, "
                               "e-signature); with none configured the outbox keeps it")
def notify_deliver(params: dict, ctx: CallContext) -> dict:
    """Runs in a worker's pool thread: the job carries the message, so no database is read
    here; the gateway dedupes on the message's ``Idempotency-Key`` when a send is retried."""
    return {"external_id": services.send(params["message_id"], params["channel"],
                                         params["recipient"], params["payload"])}


call_completion_hooks["notify.deliver"] = services.delivered

if services.notify_outcome not in completion_hooks:
    completion_hooks.append(services.notify_outcome)
