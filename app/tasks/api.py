"""Task inbox and task actions."""

from flask_smorest import Blueprint

from app.core.auth import api_user, require_api
from app.core.schemas import DataRequest
from app.tasks import services
from app.tasks.schemas import (
    InstanceSchema,
    TaskDetailSchema,
    TaskListQuery,
    TaskSchema,
)

blp = Blueprint("tasks_api", __name__, description="Human tasks")


@blp.route("/tasks", methods=["GET"])
@blp.arguments(TaskListQuery, location="query")
@blp.response(200, TaskSchema(many=True))
@require_api()
def list_tasks(query):
    """The caller's inbox: ``scope=mine|group|completed``, newest first, 50 per page."""
    return services.inbox(api_user(), query["scope"], query["limit"], query["before_id"])


@blp.route("/tasks/<int:task_id>", methods=["GET"])
@blp.response(200, TaskDetailSchema)
@require_api()
def get_task(task_id):
    """One task with the instance's current data and the task's form definition."""
    task = services.get_task_for(task_id, api_user())
    return services.task_for_api(task)


@blp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
@require_api()
def claim(task_id):
    """Claim a group task; 409 if someone else was first."""
    user = api_user()
    return services.claim_task(services.get_task_for(task_id, user), user)


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
    instance = services.complete_task(services.get_task_for(task_id, user), user, body["data"])
    return services.instance_for_api(instance)
