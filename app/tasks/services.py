"""Human-task operations (claim, release, complete, return) and the inbox queries."""

from functools import lru_cache

import orjson
from sqlalchemy import bindparam, delete, or_, select, union
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.services import record
from app.core import sql
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.engine import runtime
from app.engine.models import ProcessInstance
from app.engine.services import load_workflow_of, run_engine, save
from app.extensions import db
from app.tasks.models import HumanTask, TaskCandidate
from app.tasks.projection import insert_rows, new_row

PAGE = 50
_CLOSED_FIELDS = ("status", "completed_at", "completed_by_id", "outcome", "comment", "submitted",
                  "assignee_id")
_CLAIM = sql.guarded_update(HumanTask.__table__, ("id", "status", "assignee_id IS NULL"),
                            ("assignee_id", "claimed_at"))
_CLOSE = sql.guarded_update(HumanTask.__table__, ("id", "status"), _CLOSED_FIELDS)
_DROP_CANDIDATES = sql.prepared(delete(TaskCandidate.__table__).where(
    TaskCandidate.__table__.c.task_id == bindparam("task_id")))


@lru_cache(maxsize=64)
def _inbox_stmt(scope: str, n_roles: int, paged: bool):
    """The inbox query for a shape of caller, built once; values are bound per call.

    ``group`` walks ``ix_task_candidate_lookup`` newest-first once per candidate (each role,
    then the user) and stops after ``limit`` matches, so the first page stays fast however
    many tasks other groups have open.
    """
    page = bindparam("limit")
    if scope == "mine":
        where = [HumanTask.assignee_id == bindparam("user_id"), HumanTask.status == "open"]
    elif scope == "completed":
        where = [HumanTask.completed_by_id == bindparam("user_id")]
    else:
        walks = []
        for i in range(n_roles + 1):
            walk = (select(TaskCandidate.task_id.label("id"))
                    .join(HumanTask, HumanTask.id == TaskCandidate.task_id)
                    .where(TaskCandidate.kind == ("role" if i < n_roles else "user"),
                           TaskCandidate.value == bindparam(f"v{i}"),
                           HumanTask.status == "open", HumanTask.assignee_id.is_(None),
                           or_(HumanTask.scope_region.is_(None),
                               HumanTask.scope_region == bindparam("region"))))
            if paged:
                walk = walk.where(TaskCandidate.task_id < bindparam("before_id"))
            walks.append(select(walk.order_by(TaskCandidate.task_id.desc()).limit(page)
                                .subquery().c.id))
        where = [HumanTask.id.in_(union(*walks) if len(walks) > 1 else walks[0])]
    if paged:
        where.append(HumanTask.id < bindparam("before_id"))
    return select(HumanTask).where(*where).order_by(HumanTask.id.desc()).limit(page)


@lru_cache(maxsize=64)
def _inbox_prepared(scope: str, n_roles: int, paged: bool) -> sql.Prepared:
    """``_inbox_stmt`` compiled once and run on the DBAPI cursor (rows come back as dicts)."""
    return sql.prepared(_inbox_stmt(scope, n_roles, paged))


def inbox(user: User, scope: str = "mine", limit: int = PAGE, before_id: int | None = None,
          rows: bool = False):
    """One page of a user's inbox: ``mine`` (assigned), ``group`` (claimable), ``completed``.

    ``rows=True`` returns dicts of the ``human_task`` columns (what the API serialises) read
    by the prepared statement, instead of ORM objects.
    """
    if scope == "cc":
        from app.tasks.cc import cc_list

        return cc_list(user, limit, before_id)
    if scope not in ("mine", "group", "completed"):
        raise ValidationFailed({"scope": ["Must be one of mine, group, completed, cc"]})
    if scope == "group":
        from app.tasks.proxies import stands_in

        if stands_in(user):  # also the group tasks of the people one stands in for
            from app.tasks.inbox import filtered

            return filtered(user, scope, {}, limit, before_id=before_id)[0]
    roles = user.roles
    params = {"limit": limit, "user_id": user.id, "region": user.region, "before_id": before_id}
    params.update({f"v{i}": value for i, value in enumerate([*roles, user.username])})
    if rows:
        return sql.execute(_inbox_prepared(scope, len(roles), bool(before_id)), params).mappings()
    stmt = _inbox_stmt(scope, len(roles), bool(before_id))
    return db.session.scalars(stmt, params).all()


def is_direct_candidate(task: HumanTask, user: User) -> bool:
    """The user's own roles, name and region make them a candidate of the task."""
    if task.scope_region and task.scope_region != user.region:
        return False
    roles = set(filter(None, task.candidate_roles.split(",")))
    users = set(filter(None, task.candidate_users.split(",")))
    return bool(roles & set(user.roles)) or user.username in users


def is_candidate(task: HumanTask, user: User) -> bool:
    """A candidate in one's own right, or as the active proxy of someone away who is one."""
    if is_direct_candidate(task, user):
        return True
    from app.tasks.proxies import principal_for

    return principal_for(task, user) is not None


def can_view(task: HumanTask, user: User) -> bool:
    if user.has_role("admin") or user.id in (task.assignee_id, task.completed_by_id,
                                             task.owner_id, task.proxied_for_id):
        return True
    return task.assignee_id is None and is_candidate(task, user)


_TASK = HumanTask.__table__
_INSTANCE = ProcessInstance.__table__
_TASK_ROW = sql.prepared(select(_TASK).where(_TASK.c.id == bindparam("task_id")))
_TASK_AND_INSTANCE_ROW = sql.prepared(
    select(*[c.label(f"t_{c.key}") for c in _TASK.c], *[c.label(f"i_{c.key}") for c in _INSTANCE.c])
    .join_from(_TASK, _INSTANCE, _INSTANCE.c.id == _TASK.c.instance_id)
    .where(_TASK.c.id == bindparam("task_id")))


def _load_task(task_id: int, with_instance: bool) -> HumanTask | None:
    """The task's ORM object from one prepared SELECT (with its instance's, if asked)."""
    known = db.session.identity_map.get(db.session.identity_key(HumanTask, task_id))
    if known is not None and not with_instance:
        return known
    if not with_instance:
        row = sql.execute(_TASK_ROW, {"task_id": task_id}).first()
        return None if row is None else sql.adopt(HumanTask, row._asdict())
    row = sql.execute(_TASK_AND_INSTANCE_ROW, {"task_id": task_id}).first()
    if row is None:
        return None
    values = row._asdict()
    instance = sql.adopt(ProcessInstance, {k[2:]: v for k, v in values.items() if k[0] == "i"})
    task = sql.adopt(HumanTask, {k[2:]: v for k, v in values.items() if k[0] == "t"})
    # The session's identity map holds objects weakly: the task keeps its instance alive so
    # that the next ``db.session.get(ProcessInstance, ...)`` finds it without a query.
    task._loaded_instance = instance
    return task


def get_task_for(task_id: int, user: User, with_instance: bool = False) -> HumanTask:
    """A task the user may see; others' tasks answer 404 so ids leak nothing.

    ``with_instance`` loads its instance in the same query (for callers about to need it).
    """
    task = _load_task(task_id, with_instance)
    if task is None or not can_view(task, user):
        raise NotFound(f"Task {task_id} not found")
    return task


def _audit(user: User, action: str, task: HumanTask, **details):
    record(user.username, action, target_type="task", target_id=task.id,
           instance_id=task.instance_id, task_id=task.id, process_key=task.process_key,
           details=details)


def claim_task(task: HumanTask, user: User) -> HumanTask:
    if task.status != "open":
        raise Conflict(f"Task {task.id} is already {task.status}", code="task_closed")
    if task.assignee_id == user.id:
        return task
    away = None
    if not is_direct_candidate(task, user):
        from app.tasks.proxies import principal_for

        away = principal_for(task, user)
        if away is None:
            raise Forbidden("You are not a candidate for this task")
    now = utcnow()
    done = sql.execute(_CLAIM, {"w_id": task.id, "w_status": "open", "s_assignee_id": user.id,
                                "s_claimed_at": now})
    if done.rowcount != 1:
        raise Conflict(f"Task {task.id} was claimed by someone else", code="already_claimed")
    set_committed_value(task, "assignee_id", user.id)
    set_committed_value(task, "claimed_at", now)
    if away is not None:  # claimed as a proxy: marked, and recalled with the proxy
        task.proxied_for_id = away.id
        _audit(user, "task.claimed", task, proxied_for=away.username)
    else:
        _audit(user, "task.claimed", task)
    return task


def release_task(task: HumanTask, user: User) -> HumanTask:
    if task.status != "open" or task.assignee_id != user.id:
        raise Conflict("Only the current assignee can release an open task", code="not_assignee")
    if not task.candidate_roles and not task.candidate_users:  # nobody to give it back to
        raise Conflict("This task is yours alone and cannot be released", code="personal_task")
    task.assignee_id, task.claimed_at = None, None
    _audit(user, "task.released", task)
    return task


def _ensure_actor(task: HumanTask, user: User) -> None:
    if task.status != "open":
        raise Conflict(f"Task {task.id} is already {task.status}", code="task_closed")
    if task.assignee_id is None:
        claim_task(task, user)
    elif task.assignee_id != user.id:
        raise Conflict(f"Task {task.id} is assigned to someone else", code="not_assignee")


def _clean(form_key: str | None, bpmn_id: str, data: dict | None) -> dict:
    """Validate submitted data against the task's form; absent optional fields become None."""
    from app.forms import validate_submission
    from app.forms.setup import form_registry

    cleaned = dict(data or {})
    if not form_key:
        return cleaned
    form = form_registry().get(form_key)
    cleaned = validate_submission(form, cleaned, file_exists=_file_exists, task_id=bpmn_id)
    for name in form.field_names:  # scripts and conditions may name every field
        cleaned.setdefault(name, None)
    return cleaned


def _advance(instance: ProcessInstance, workflow, engine_task, cleaned: dict):
    """Apply a decision to the engine: return for revision, or complete and run on."""
    decision = cleaned.get("decision")
    if decision == "return":
        _return_instance(instance, workflow, engine_task)
    else:
        engine_task.set_data(**cleaned)
        engine_task.run()
        if decision == "reject":
            instance.outcome, instance.outcome_reason = "rejected", cleaned.get("comment")
    run_engine(instance, workflow)
    return decision


def complete_task(task: HumanTask, user: User, data: dict) -> ProcessInstance:
    """Validate the task's form, complete it (or return the instance), advance the engine.

    Added signers (``kind='signer'``) record their opinion without touching the engine; an
    approver whose task has pending after/parallel signers decides now and the engine task
    completes once they have approved (app/tasks/operations.py).
    """
    from app.tasks import operations

    _ensure_actor(task, user)
    if task.delegation == "pending":
        raise Conflict("This task is delegated: resolve it back to its owner instead",
                       code="delegation_pending")
    if task.kind == "signer":
        return operations.complete_signer(task, user, data)
    data = dict(data or {})
    attachments = operations.check_attachments(user, data.pop("attachments", None))
    cleaned = _clean(task.form_key, task.bpmn_id, data)
    instance = db.session.get(ProcessInstance, task.instance_id)
    operations.check_comment(instance, task, cleaned.get("comment"))
    if operations.defer_to_signers(task, user, cleaned, attachments):
        return instance
    return finish_engine_task(task, user, cleaned, attachments)


def finish_engine_task(task: HumanTask, user: User, cleaned: dict,
                       attachments: list[int] | None = None) -> ProcessInstance:
    """Apply a validated decision to the engine task behind ``task`` and save the instance."""
    from app.tasks import operations

    instance = db.session.get(ProcessInstance, task.instance_id)
    workflow = load_workflow_of(instance)
    engine_task = runtime.task_by_id(workflow, task.engine_task_id)
    if engine_task is None or not runtime.is_ready(engine_task):
        raise Conflict(f"Task {task.id} is no longer waiting", code="task_closed")
    decision = _advance(instance, workflow, engine_task, cleaned)
    skipped = operations.jump_back(instance, workflow, task) if decision != "return" else []
    _close(task, user, cleaned, decision, statuses=("open", "waiting"), attachments=attachments)
    save(instance, workflow, user, on_written=operations.history_writer(skipped, user))
    _audit(user, "task.completed", task, outcome=task.outcome, comment=task.comment,
           bpmn_id=task.bpmn_id, attachments=attachments or [])
    if decision == "return":
        operations.mark_jump(instance, task, workflow=None)
    elif task.kind == "engine":
        from app.tasks.cc import cc_for_node

        cc_for_node(instance, task.id, operations.node_settings(instance, task.bpmn_id),
                    "completion", by=user)
    return instance


def _closed_values(user: User, cleaned: dict, decision) -> dict:
    return {"status": "returned" if decision == "return" else "completed",
            "completed_at": utcnow(), "completed_by_id": user.id,
            "outcome": decision or "completed", "comment": cleaned.get("comment"),
            "submitted": orjson.dumps(cleaned, default=str).decode(), "assignee_id": user.id}


def _close(task: HumanTask, user: User, cleaned: dict, decision,
           statuses: tuple[str, ...] = ("open",), attachments: list[int] | None = None) -> None:
    """Close the task row, guarded on it still being open (a double submit loses here)."""
    values = _closed_values(user, cleaned, decision)
    if task.status not in statuses:
        raise Conflict(f"Task {task.id} is already {task.status}", code="task_closed")
    done = sql.execute(_CLOSE, {"w_id": task.id, "w_status": task.status,
                                **sql.bind("s", values)})
    if done.rowcount != 1:
        raise Conflict(f"Task {task.id} was completed by someone else", code="task_closed")
    sql.execute(_DROP_CANDIDATES, {"task_id": task.id})
    for key, value in values.items():
        set_committed_value(task, key, value)
    if attachments:
        task.attachments = orjson.dumps(attachments).decode()


def _return_target(workflow, engine_task):
    """The task to send the instance back to: ``returnTo`` if set, else the initiator's task."""
    from app.engine.validation import assignment_of, is_initiator_task

    wanted = assignment_of(engine_task.task_spec).get("returnTo")
    for ancestor in runtime.task_path(workflow, engine_task):
        spec = ancestor.task_spec
        if not getattr(spec, "manual", False):
            continue
        if (wanted and spec.bpmn_id == wanted) or (not wanted and is_initiator_task(spec)):
            return ancestor
    for ancestor in runtime.task_path(workflow, engine_task):
        if getattr(ancestor.task_spec, "manual", False):
            return ancestor
    raise Conflict("There is no earlier step to return this instance to", code="no_return_target")


def _return_instance(instance, workflow, engine_task) -> None:
    target = _return_target(workflow, engine_task)
    workflow.reset_from_task_id(target.id)
    instance.outcome = None


_ATTACHMENT = None


def _file_exists(attachment_id) -> bool:
    global _ATTACHMENT
    if _ATTACHMENT is None:
        from app.files.models import Attachment

        _ATTACHMENT = sql.prepared(select(Attachment.__table__.c.id).where(
            Attachment.__table__.c.id == bindparam("id")))
    return sql.execute(_ATTACHMENT, {"id": int(attachment_id)}).first() is not None


def instance_tasks(instance_id: int) -> list[HumanTask]:
    return db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)
                              .order_by(HumanTask.id)).all()


def submitted_data(task: HumanTask) -> dict:
    return orjson.loads(task.submitted) if task.submitted else {}


def start_instance(process_key: str, user: User, data: dict | None,
                   business_key: str | None = None) -> ProcessInstance:
    """Start the latest version; with ``data``, submit the initiator's first form too.

    Everything happens in memory first, so a form error writes nothing; then the instance is
    saved once.
    """
    from app.engine.services import can_start, create_instance, latest_version_ref
    from app.engine.validation import assignment_of, is_initiator_task

    version = latest_version_ref(process_key)
    if not can_start(version, user):
        raise Forbidden(f"You may not start '{process_key}'")
    data = data or {}
    title = str(data.get("company_name") or data.get("title") or data.get("name") or "")[:200]
    instance, workflow = create_instance(version, user, business_key=business_key,
                                         title=title or version.name,
                                         region=data.get("region") or user.region)
    run_engine(instance, workflow)
    first = next((t for t in runtime.ready_human_tasks(workflow)
                  if is_initiator_task(t.task_spec)), None) if data else None
    cleaned = decision = None
    if first is not None:
        cleaned = _clean(assignment_of(first.task_spec).get("formKey"),
                         first.task_spec.bpmn_id, data)
        decision = _advance(instance, workflow, first, cleaned)

    def on_written(inst: ProcessInstance) -> None:
        record(user.username, "instance.started", target_type="instance", target_id=inst.id,
               instance_id=inst.id, process_key=process_key,
               details={"version": version.version, "business_key": business_key})
        if first is None:
            return
        row = new_row(inst, first, 1) | _closed_values(user, cleaned, decision)
        row["_candidates"] = []
        [task_id] = insert_rows([row])
        record(user.username, "task.completed", target_type="task", target_id=task_id,
               instance_id=inst.id, task_id=task_id, process_key=process_key,
               details={"outcome": row["outcome"], "comment": row["comment"],
                        "bpmn_id": row["bpmn_id"]})

    save(instance, workflow, user, on_written=on_written)
    return instance


def instance_view_data(instance: ProcessInstance) -> dict:
    """What the instance's pages and API show of its data (latest values)."""
    return runtime.workflow_data(load_workflow_of(instance))


def can_view_instance(instance: ProcessInstance, user: User) -> bool:
    from app.tasks.cc import is_cc

    if user.has_role("admin", "analyst") or instance.started_by_id == user.id:
        return True
    if is_cc(instance.id, user):
        return True
    return any(can_view(t, user) or is_candidate(t, user) for t in instance_tasks(instance.id))


def open_tasks(instance_id: int) -> list[HumanTask]:
    return db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.status == "open")
                              .order_by(HumanTask.id)).all()


_OPEN_TASK_ROWS = sql.prepared(select(HumanTask.__table__).where(
    HumanTask.__table__.c.instance_id == bindparam("instance_id"),
    HumanTask.__table__.c.status == "open").order_by(HumanTask.__table__.c.id))


def instance_for_api(instance: ProcessInstance, with_data: bool = False,
                     history: bool = False) -> dict:
    """The instance summary; ``tasks`` holds the open tasks, or every task with ``history``."""
    out = {c: getattr(instance, c) for c in (
        "id", "process_key", "status", "outcome", "outcome_reason", "business_key", "title",
        "region", "created_at", "updated_at", "completed_at", "lock_version")}
    out["tasks"] = instance_tasks(instance.id) if history else \
        sql.execute(_OPEN_TASK_ROWS, {"instance_id": instance.id}).mappings()
    if with_data:
        out["data"] = instance_view_data(instance)
    return out


def task_for_api(task: HumanTask) -> HumanTask:
    """The task with the instance's current data (or what was submitted) and its form."""
    from app.forms.setup import form_registry

    instance = db.session.get(ProcessInstance, task.instance_id)
    task.data = instance_view_data(instance) if task.status == "open" else submitted_data(task)
    form = form_registry().get(task.form_key) if task.form_key else None
    task.form = {"key": form.key, "title": form.title,
                 "fields": [f.name for f in form.fields]} if form is not None else None
    return task


def started_by(user: User, limit: int = 200) -> list[ProcessInstance]:
    """The instances a user started, newest first."""
    return db.session.scalars(select(ProcessInstance)
                              .where(ProcessInstance.started_by_id == user.id)
                              .order_by(ProcessInstance.id.desc()).limit(limit)).all()


def last_completer(instance_id: int) -> str | None:
    """The username of whoever completed the instance's latest human task (None if nobody)."""
    user_id = db.session.scalar(
        select(HumanTask.completed_by_id)
        .where(HumanTask.instance_id == instance_id, HumanTask.status == "completed")
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
        .limit(1)
    )
    user = db.session.get(User, user_id) if user_id else None
    return user.username if user else None
