"""Task inbox and task actions."""

from flask_smorest import Blueprint

from app.core import web
from app.core.auth import api_user, require_api
from app.core.fastdump import Dumper, json_response
from app.core.schemas import DataRequest
from app.tasks import operations, services
from app.tasks.schemas import (
    ActionRequest,
    AddSignersRequest,
    BatchCompleteRequest,
    BatchResponseSchema,
    CcReadSchema,
    CcRequest,
    CountsQuery,
    CountsSchema,
    InstanceSchema,
    ProxyRequest,
    ProxySchema,
    RejectRequest,
    ReturnRequest,
    RevokeRequest,
    SavedFilterPatch,
    SavedFilterRequest,
    SavedFilterSchema,
    TaskDetailSchema,
    TaskListQuery,
    TaskSchema,
    UrgeResponseSchema,
    UserActionRequest,
)

blp = Blueprint("tasks_api", __name__, description="Human tasks")

# The hot responses (inbox, claim, complete) are written by compiled dumpers: same JSON as
# the schemas, without marshmallow's per-field calls.
TASK_JSON = Dumper(TaskSchema)
INSTANCE_JSON = Dumper(InstanceSchema)


@blp.route("/tasks", methods=["GET"])
@blp.arguments(TaskListQuery, location="query")
@blp.response(200, TaskSchema(many=True))
@require_api()
def list_tasks(query):
    """The caller's inbox: ``scope=mine|group|completed|cc``, newest first, 50 per page.

    Filters: ``process``, ``dealer`` (id or code), ``region``, ``amount_min``, ``amount_max``,
    ``due_before``, ``overdue``, ``proxied``, ``cc``; ``sort=created|due|amount`` with
    ``order=asc|desc``; ``page`` (1-based, ``limit`` per page). A filtered call answers the
    total in the ``X-Total-Count`` header.
    """
    from app.tasks.inbox import cc_filtered, filtered, is_filtered

    user = api_user()
    if query["scope"] == "cc" and is_filtered(query):
        rows, total = cc_filtered(user, query, query["limit"], query["before_id"],
                                  with_total=True)
        return rows, {"X-Total-Count": str(total)}
    if is_filtered(query):
        rows, total = filtered(user, query["scope"], query, query["limit"], query["before_id"],
                               with_total=True)
        return json_response(TASK_JSON.many(rows), headers={"X-Total-Count": str(total)})
    return json_response(TASK_JSON.many(
        services.inbox(user, query["scope"], query["limit"], query["before_id"], rows=True)))


@blp.route("/tasks/counts", methods=["GET"])
@blp.arguments(CountsQuery, location="query")
@blp.response(200, CountsSchema)
@require_api()
def task_counts(query):
    """How many tasks each inbox tab holds under the given filters."""
    from app.tasks.inbox import counts

    return counts(api_user(), query)


@blp.route("/tasks/filters", methods=["GET"])
@blp.response(200, SavedFilterSchema(many=True))
@require_api()
def list_filters():
    """The caller's saved inbox filters (name → query string)."""
    from app.tasks.inbox import saved_filters

    return saved_filters(api_user())


@blp.route("/tasks/filters", methods=["POST"])
@blp.arguments(SavedFilterRequest)
@blp.response(201, SavedFilterSchema)
@require_api()
def create_filter(body):
    """Save a filter: a unique name and the inbox query string (checked; 422 per field)."""
    from app.tasks.inbox import save_filter

    return save_filter(api_user(), body["name"], body["query"])


@blp.route("/tasks/filters/<int:filter_id>", methods=["PATCH"])
@blp.arguments(SavedFilterPatch)
@blp.response(200, SavedFilterSchema)
@require_api()
def patch_filter(body, filter_id):
    """Rename a saved filter or change its query."""
    from app.tasks.inbox import update_filter

    return update_filter(api_user(), filter_id, body["name"], body["query"])


@blp.route("/tasks/filters/<int:filter_id>", methods=["DELETE"])
@blp.response(204)
@require_api()
def remove_filter(filter_id):
    """Delete a saved filter."""
    from app.tasks.inbox import delete_filter

    delete_filter(api_user(), filter_id)


@blp.route("/tasks/<int:task_id>", methods=["GET"])
@blp.response(200, TaskDetailSchema)
@require_api()
@web.writes
def get_task(task_id):
    """One task with the instance's current data and the task's form definition."""
    user = api_user()
    task = services.get_task_for(task_id, user)
    operations.mark_opened(task, user)
    return services.task_for_api(task)


@blp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
@require_api()
def claim(task_id):
    """Claim a group task; 409 if someone else was first."""
    user = api_user()
    return json_response(TASK_JSON.one(services.claim_task(services.get_task_for(task_id, user),
                                                           user)))


@blp.route("/tasks/<int:task_id>/release", methods=["POST"])
@blp.response(200, TaskSchema)
@require_api()
def release(task_id):
    """Give a claimed task back to the group."""
    user = api_user()
    return services.release_task(services.get_task_for(task_id, user), user)


@blp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@blp.arguments(DataRequest)
@blp.response(200, InstanceSchema)
@require_api()
def complete(body, task_id):
    """Complete a task with its form data; 422 per field, 409 if already done."""
    user = api_user()
    task = services.get_task_for(task_id, user, with_instance=True)
    instance = services.complete_task(task, user, body["data"])
    return json_response(INSTANCE_JSON.one(services.instance_for_api(instance)))


# --- Approval operations ---------------------------------------------------------------

def _held(task_id: int):
    user = api_user()
    return services.get_task_for(task_id, user), user


@blp.route("/tasks/<int:task_id>/transfer", methods=["POST"])
@blp.arguments(UserActionRequest)
@blp.response(200, TaskSchema)
@require_api()
def transfer(body, task_id):
    """转交: hand the task to another user for good; returns the new task."""
    task, user = _held(task_id)
    return operations.transfer(task, user, body["user"], body["comment"], body["attachments"])


@blp.route("/tasks/<int:task_id>/delegate", methods=["POST"])
@blp.arguments(UserActionRequest)
@blp.response(200, TaskSchema)
@require_api()
def delegate(body, task_id):
    """委托: the delegate works the task and resolves it back; the owner keeps it."""
    task, user = _held(task_id)
    return operations.delegate(task, user, body["user"], body["comment"], body["attachments"])


@blp.route("/tasks/<int:task_id>/resolve", methods=["POST"])
@blp.arguments(ActionRequest)
@blp.response(200, TaskSchema)
@require_api()
def resolve(body, task_id):
    """The delegate gives a delegated task back to its owner."""
    task, user = _held(task_id)
    return operations.resolve(task, user, body["comment"], body["attachments"])


@blp.route("/tasks/<int:task_id>/add-signers", methods=["POST"])
@blp.arguments(AddSignersRequest)
@blp.response(201, TaskSchema(many=True))
@require_api()
def add_signers(body, task_id):
    """加签 before / after / parallel; several people combine as all / any / sequential."""
    task, user = _held(task_id)
    return operations.add_signers(task, user, body["users"], body["position"], body["mode"],
                                  body["comment"], body["attachments"])


@blp.route("/tasks/<int:task_id>/return", methods=["POST"])
@blp.arguments(ReturnRequest)
@blp.response(200, InstanceSchema)
@require_api()
def return_task(body, task_id):
    """退回 to ``previous``, ``initiator`` or a BPMN task id already passed."""
    task, user = _held(task_id)
    instance = operations.return_task(task, user, body["to"], body["comment"],
                                      body["attachments"])
    return services.instance_for_api(instance)


@blp.route("/tasks/<int:task_id>/reject", methods=["POST"])
@blp.arguments(RejectRequest)
@blp.response(200, InstanceSchema)
@require_api()
def reject(body, task_id):
    """拒绝: the model's reject path, or the instance ends as rejected."""
    task, user = _held(task_id)
    instance = operations.reject(task, user, body["comment"], body["attachments"], body["data"])
    return services.instance_for_api(instance)


@blp.route("/tasks/<int:task_id>/take-back", methods=["POST"])
@blp.arguments(ActionRequest)
@blp.response(200, TaskSchema)
@require_api()
def take_back(body, task_id):
    """Take back one's own last action until the next approver opened or acted on it."""
    task, user = _held(task_id)
    return operations.take_back(task, user, body["comment"])


@blp.route("/tasks/<int:task_id>/urge", methods=["POST"])
@blp.arguments(ActionRequest)
@blp.response(200, UrgeResponseSchema)
@require_api()
def urge(body, task_id):
    """催办: the initiator (or an admin) reminds the pending approvers; 429 when too early."""
    from app.tasks import urge as urging

    user = api_user()
    task = urging.task_to_urge(task_id, user)
    reminded = urging.urge(task, user, body["comment"])
    return {"task_id": task.id, "reminded": [u.username for u in reminded],
            "next_allowed_at": urging.next_allowed_at(task)}


@blp.route("/tasks/batch-complete", methods=["POST"])
@blp.arguments(BatchCompleteRequest)
@blp.response(200, BatchResponseSchema)
@require_api()
def batch_complete(body):
    """批量审批: each task in its own transaction; one result per task."""
    results = operations.batch_complete(api_user(), body["task_ids"], body["data"])
    ok = sum(1 for r in results if r["ok"])
    return {"results": results, "succeeded": ok, "failed": len(results) - ok}


@blp.route("/instances/<int:instance_id>/withdraw", methods=["POST"])
@blp.arguments(ActionRequest)
@blp.response(200, InstanceSchema)
@require_api()
def withdraw(body, instance_id):
    """撤回 by the initiator, until the first approver acts (or as the process allows)."""
    user = api_user()
    instance = operations.withdraw(operations.get_instance_for(instance_id, user), user,
                                   body["comment"])
    return services.instance_for_api(instance)


# --- 抄送 CC ---------------------------------------------------------------------------

@blp.route("/tasks/<int:task_id>/cc", methods=["POST"])
@blp.arguments(CcRequest)
@blp.response(201, CcReadSchema)
@require_api()
def cc(body, task_id):
    """CC people on the task's instance (read-only access, listed under ``scope=cc``)."""
    from app.tasks.cc import cc_adhoc

    task, user = _held(task_id)
    rows = cc_adhoc(task, user, body["users"], body["comment"])
    return {"marked": len(rows), "unread": 0}


@blp.route("/cc/<int:cc_id>/read", methods=["POST"])
@blp.response(200, CcReadSchema)
@require_api()
def cc_read(cc_id):
    """Mark one CC read."""
    from app.tasks.cc import mark_read, unread_count

    user = api_user()
    marked = mark_read(user, cc_id=cc_id)
    return {"marked": marked, "unread": unread_count(user)}


# --- 代理 proxies ----------------------------------------------------------------------

def _naive_utc(value):
    from datetime import UTC

    if value is not None and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@blp.route("/proxies", methods=["GET"])
@blp.response(200, ProxySchema(many=True))
@require_api()
def list_proxies():
    """Proxies set by or for the caller, or naming the caller (admins: all)."""
    from app.tasks.proxies import list_proxies as query

    return query(api_user())


@blp.route("/proxies", methods=["POST"])
@blp.arguments(ProxyRequest)
@blp.response(201, ProxySchema)
@require_api()
def set_proxy(body):
    """Set a proxy for a period (and processes); ``move_pending`` moves open tasks now."""
    from app.tasks.proxies import set_proxy as create

    return create(api_user(), body["proxy"], _naive_utc(body["starts_at"]),
                  _naive_utc(body["ends_at"]), body["processes"], body["user"],
                  body["move_pending"])


@blp.route("/proxies/<int:proxy_id>/revoke", methods=["POST"])
@blp.arguments(RevokeRequest)
@blp.response(200, ProxySchema)
@require_api()
def revoke_proxy(body, proxy_id):
    """End a proxy now; ``recall`` brings its open proxied tasks back."""
    from app.tasks.proxies import revoke

    return revoke(api_user(), proxy_id, body["recall"])
