"""Approval operations on human tasks, as OA users know them, for any deployed model.

Per-node settings are ``spiffworkflow:properties`` on the user task:

- ``comment``: ``required`` makes every action on the node carry a comment (default optional);
- ``resubmit``: ``jump`` sends the instance straight back to this node when a task it returned
  the instance to is resubmitted (default ``rerun``: every node after it runs again);
- ``batchApprove``: ``true`` lets approvers complete the node from the inbox in batch.

A process may set ``dealerflow:withdraw="running"`` (namespace ``http://dealerflow.local/bpmn``)
on its ``bpmn:process`` to let the initiator withdraw while it runs; by default the initiator may
withdraw only until the first approver acts.

Added signers (加签) are platform rows (``kind='signer'``) on the same engine task; they gate the
engine task's completion and never change the BPMN.
"""

import orjson
from sqlalchemy import bindparam, func, select, update

from app.audit.services import record
from app.core import sql
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.models import User, utcnow
from app.engine import runtime
from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.services import compiled_for, load_workflow_of, run_engine, save
from app.extensions import db
from app.tasks import notifications
from app.tasks.models import HumanTask, TaskCandidate
from app.tasks.projection import ACTIVE, insert_rows, new_row
from app.tasks.services import (
    _audit,
    _clean,
    _close,
    _closed_values,
    _ensure_actor,
    finish_engine_task,
    submitted_data,
)

DEALERFLOW_NS = "http://dealerflow.local/bpmn"
NOT_STAFF = {"dealer", "applicant"}
POSITIONS = ("before", "after", "parallel")
MODES = ("all", "any", "sequential")
RETURN_SHORTCUTS = ("previous", "initiator")
MAX_JUMP_STEPS = 50


# --- Node and process settings ----------------------------------------------------------

def _memo(version_id: int) -> dict:
    """Per compiled version memo (lives and dies with the engine's compiled-spec cache)."""
    proc = compiled_for(version_id)
    memo = proc.__dict__.get("_operations_memo")
    if memo is None:
        memo = proc.__dict__["_operations_memo"] = {}
    return memo


def _settings(version_id: int, bpmn_id: str) -> dict:
    memo = _memo(version_id)
    key = ("node", bpmn_id)
    if key not in memo:
        proc, found = compiled_for(version_id), {}
        for spec in [proc.spec, *proc.subprocess_specs.values()]:
            for task_spec in (spec.task_specs.values() if spec is not None else ()):
                extensions = getattr(task_spec, "extensions", None)  # multi-instance: none
                if getattr(task_spec, "bpmn_id", None) == bpmn_id and extensions is not None:
                    found = {k: str(v) for k, v in (extensions.get("properties") or {}).items()}
        memo[key] = found
    return memo[key]


def node_settings(instance: ProcessInstance, bpmn_id: str) -> dict:
    """The ``spiffworkflow:properties`` of a node of the instance's process version."""
    return dict(_settings(instance.process_version_id, bpmn_id))


def process_attr(version_id: int, name: str) -> str | None:
    """A ``dealerflow:`` attribute of the version's ``bpmn:process`` element."""
    from app.engine.parsing import parse_xml

    memo = _memo(version_id)
    key = ("process", name)
    if key not in memo:
        version = db.session.get(ProcessVersion, version_id)
        xml = orjson.loads(version.bundle)[version.filename].encode()
        root = parse_xml(xml, version.filename).getroot()
        found = root.xpath("//*[local-name()='process'][@id=$id]", id=version.process_key)
        memo[key] = found[0].get(f"{{{DEALERFLOW_NS}}}{name}") if found else None
    return memo[key]


def check_comment(instance: ProcessInstance, task: HumanTask, comment) -> None:
    if node_settings(instance, task.bpmn_id).get("comment") == "required" and \
            not (comment or "").strip():
        raise ValidationFailed({"comment": ["A comment is required at this step"]})


def check_attachments(user: User, ids) -> list[int]:
    """Attachment ids the user uploaded (admins may pass any); 422 for others."""
    from app.files.models import Attachment

    if not ids:
        return []
    out, bad = [], []
    for ref in ids:
        att = db.session.get(Attachment, int(ref)) if str(ref).isdigit() else None
        if att is None or (att.uploaded_by_id != user.id and not user.has_role("admin")):
            bad.append(str(ref))
        else:
            out.append(att.id)
    if bad:
        raise ValidationFailed({"attachments": [f"Unknown attachment(s): {', '.join(bad)}"]})
    return out


def _audit_details(comment, attachments, **more) -> dict:
    return {"comment": comment, "attachments": attachments or [], **more}


# --- Helpers ---------------------------------------------------------------------------

def _instance(task: HumanTask) -> ProcessInstance:
    return db.session.get(ProcessInstance, task.instance_id)


def _require_running(instance: ProcessInstance) -> None:
    if instance.status != "running":
        raise Conflict(f"The application is already {instance.status}", code="instance_closed")


def _act_as_holder(task: HumanTask, user: User) -> None:
    """The user holds the open task now (claiming a group task), and it is not delegated away."""
    _ensure_actor(task, user)
    if task.delegation == "pending":
        raise Conflict("This task is delegated: resolve it back to its owner first",
                       code="delegation_pending")


def _guarded(task: HumanTask, expected: dict, values: dict) -> None:
    """UPDATE the row only if it still has ``expected`` values; 409 when someone was first."""
    table = HumanTask.__table__
    stmt = update(table).where(table.c.id == task.id,
                               *[table.c[k] == v if v is not None else table.c[k].is_(None)
                                 for k, v in expected.items()]).values(**values)
    if db.session.execute(stmt).rowcount != 1:
        db.session.rollback()
        raise Conflict(f"Task {task.id} was changed by someone else; reload and try again",
                       code="task_closed")
    db.session.refresh(task)


def _user_named(username, field: str) -> User:
    user = User.by_username(str(username or "").strip()) if username else None
    if user is None or not getattr(user, "active", True):
        raise ValidationFailed({field: [f"Unknown user '{username}'"]})
    return user


def _node_people(task: HumanTask) -> set[int]:
    """Users who already hold an active row of this node (engine task)."""
    rows = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == task.instance_id,
        HumanTask.engine_task_id == task.engine_task_id,
        HumanTask.status.in_(ACTIVE))).all()
    return {uid for r in rows for uid in (r.assignee_id, r.owner_id) if uid}


def _can_hold(task: HumanTask, target: User) -> bool:
    """Whether ``target`` could be a candidate of the task (role and region scope)."""
    if not set(target.roles) - NOT_STAFF:
        return False
    roles = [r for r in task.candidate_roles.split(",") if r]
    if roles and not set(roles) & set(target.roles):
        return False
    return not (task.scope_region and target.region and task.scope_region != target.region)


def _eligible(task: HumanTask, user: User, username, field: str = "user") -> User:
    target = _user_named(username, field)
    if target.id == user.id:
        raise ValidationFailed({field: ["You cannot hand a task to yourself"]})
    if not _can_hold(task, target):
        raise ValidationFailed({field: [f"{target.username} cannot hold this task "
                                        "(role or region does not match)"]})
    if target.id in _node_people(task):
        raise ValidationFailed({field: [f"{target.username} is already on this step"]})
    return target


_COPY = ("instance_id", "process_key", "title", "engine_task_id", "bpmn_id", "name", "form_key",
         "lane", "candidate_roles", "candidate_users", "scope_region", "due_at", "warn_at",
         "amount", "dealer_id", "priority", "pass_no", "kind", "parent_task_id",
         "sign_position", "sign_mode", "sign_seq", "jump_to")


def _copy_row(task: HumanTask, **values) -> HumanTask:
    row = HumanTask(**({c: getattr(task, c) for c in _COPY} | {"created_at": utcnow()} | values))
    db.session.add(row)
    db.session.flush()
    return row


# --- Transfer, delegate, resolve -------------------------------------------------------

def transfer(task: HumanTask, user: User, username, comment=None, attachments=None) -> HumanTask:
    """转交: the task moves to another user for good; the original row ends as transferred."""
    _act_as_holder(task, user)
    instance = _instance(task)
    check_comment(instance, task, comment)
    files = check_attachments(user, attachments)
    target = _eligible(task, user, username)
    _guarded(task, {"status": "open", "assignee_id": user.id},
             {"status": "transferred", "outcome": "transferred", "completed_at": utcnow(),
              "completed_by_id": user.id, "comment": comment, "transferred_to_id": target.id,
              "attachments": orjson.dumps(files).decode() if files else None})
    db.session.execute(TaskCandidate.__table__.delete().where(
        TaskCandidate.__table__.c.task_id == task.id))
    new = _copy_row(task, assignee_id=target.id, status="open", claimed_at=utcnow())
    db.session.execute(update(HumanTask.__table__).where(
        HumanTask.__table__.c.parent_task_id == task.id).values(parent_task_id=new.id))
    _audit(user, "task.transferred", task, **_audit_details(comment, files, to=target.username,
                                                            new_task_id=new.id))
    notifications.transferred(new, user, comment)
    return new


def delegate(task: HumanTask, user: User, username, comment=None, attachments=None) -> HumanTask:
    """委托: the owner keeps the task; the delegate works it and resolves it back."""
    _act_as_holder(task, user)
    check_comment(_instance(task), task, comment)
    files = check_attachments(user, attachments)
    target = _eligible(task, user, username)
    _guarded(task, {"status": "open", "assignee_id": user.id},
             {"owner_id": task.owner_id or user.id, "assignee_id": target.id,
              "delegation": "pending"})
    _audit(user, "task.delegated", task, **_audit_details(comment, files, to=target.username))
    notifications.delegated(task, user, comment)
    return task


def resolve(task: HumanTask, user: User, comment=None, attachments=None) -> HumanTask:
    """The delegate hands the task back to its owner, who then completes it."""
    if task.status != "open":
        raise Conflict(f"Task {task.id} is already {task.status}", code="task_closed")
    if task.delegation != "pending" or task.assignee_id != user.id:
        raise Conflict("Only the delegate of a delegated task can resolve it",
                       code="not_delegated")
    files = check_attachments(user, attachments)
    _guarded(task, {"status": "open", "assignee_id": user.id, "delegation": "pending"},
             {"assignee_id": task.owner_id, "delegation": "resolved", "comment": comment})
    _audit(user, "task.resolved", task, **_audit_details(comment, files))
    notifications.resolved(task, user, comment)
    return task


# --- Add signers (加签) -----------------------------------------------------------------

def _signer_group(parent: HumanTask) -> list[HumanTask]:
    """The signer rows of the parent's latest add (``sign_seq`` restarts at 0 per add)."""
    rows = db.session.scalars(select(HumanTask).where(HumanTask.parent_task_id == parent.id,
                                                      HumanTask.kind == "signer")
                              .order_by(HumanTask.id)).all()
    starts = [i for i, r in enumerate(rows) if r.sign_seq == 0]
    return rows[starts[-1]:] if starts else []


_SIGNER_ROW = sql.prepared(select(HumanTask.__table__.c.id).where(
    HumanTask.__table__.c.parent_task_id == bindparam("parent_id"),
    HumanTask.__table__.c.kind == "signer").limit(1))


def _has_signers(parent_id: int) -> bool:
    """Whether signers were ever added to the task (one indexed probe, no ORM load)."""
    return sql.execute(_SIGNER_ROW, {"parent_id": parent_id}).first() is not None


def _active_group(parent: HumanTask) -> list[HumanTask]:
    group = _signer_group(parent)
    return group if any(r.status in ACTIVE for r in group) else []


def add_signers(task: HumanTask, user: User, usernames, position: str, mode: str,
                comment=None, attachments=None) -> list[HumanTask]:
    """加签 before / after / parallel; the added people combine as all / any / sequential."""
    if task.kind != "engine":
        raise Conflict("Added signers cannot add further signers", code="signer_task")
    _act_as_holder(task, user)
    _require_running(_instance(task))
    check_comment(_instance(task), task, comment)
    files = check_attachments(user, attachments)
    errors = {}
    if position not in POSITIONS:
        errors["position"] = [f"Must be one of {', '.join(POSITIONS)}"]
    if mode not in MODES:
        errors["mode"] = [f"Must be one of {', '.join(MODES)}"]
    names = [str(u).strip() for u in (usernames or [])]
    if not names:
        errors["users"] = ["Name at least one user"]
    if errors:
        raise ValidationFailed(errors)
    if _active_group(task):
        raise Conflict("This task already waits for added signers", code="signers_pending")
    on_node, targets, problems = _node_people(task), [], []
    for name in names:
        target = User.by_username(name)
        if target is None:
            problems.append(f"Unknown user '{name}'")
        elif target.id == user.id:
            problems.append("You cannot add yourself")
        elif target.id in on_node or target in targets:
            problems.append(f"{name} is already on this step")
        elif not set(target.roles) - NOT_STAFF:
            problems.append(f"{name} cannot approve tasks")
        else:
            targets.append(target)
    if problems:
        raise ValidationFailed({"users": problems})
    now, rows = utcnow(), []
    for seq, target in enumerate(targets):
        active = position != "after" and (mode != "sequential" or seq == 0)
        rows.append(_copy_row(task, kind="signer", parent_task_id=task.id, form_key=None,
                              candidate_roles="", candidate_users="", assignee_id=target.id,
                              status="open" if active else "pending", sign_position=position,
                              sign_mode=mode, sign_seq=seq, jump_to=None, claimed_at=now))
    if position == "before":
        _guarded(task, {"status": "open"}, {"status": "waiting"})
    _audit(user, "task.signers_added", task, **_audit_details(
        comment, files, users=[t.username for t in targets], position=position, mode=mode,
        signer_task_ids=[r.id for r in rows]))
    notifications.signers_added(rows, user, comment)
    return rows


def _activate(rows: list[HumanTask]) -> None:
    for row in rows:
        row.status, row.claimed_at = "open", utcnow()
        notifications.signer_activated(row)


def _open_group(group: list[HumanTask]) -> None:
    """Start a queued (after-position) group according to its mode."""
    pending = [r for r in group if r.status == "pending"]
    _activate(pending[:1] if group and group[0].sign_mode == "sequential" else pending)


def defer_to_signers(task: HumanTask, user: User, cleaned: dict, attachments) -> bool:
    """When the approver decides while after/parallel signers are pending, wait for them.

    True when the engine task must wait; the decision is kept on the (waiting) row. A
    rejection or return by the approver cancels the signers and goes ahead.
    """
    group = _active_group(task) if task.kind == "engine" and _has_signers(task.id) else []
    if not group:
        return False
    decision = cleaned.get("decision")
    if decision not in (None, "approve", "completed"):
        _cancel(group)
        return False
    values = _closed_values(user, cleaned, decision)
    values.update(status="waiting", completed_at=None,
                  attachments=orjson.dumps(attachments).decode() if attachments else None)
    _guarded(task, {"status": "open"}, values)
    if group[0].sign_position == "after":
        _open_group(group)
    _audit(user, "task.decided", task, outcome=task.outcome, comment=task.comment,
           waiting_for=[r.assignee_id for r in group if r.status in ACTIVE],
           attachments=attachments or [])
    return True


def _cancel(rows) -> None:
    for row in rows:
        if row.status in ACTIVE:
            row.status, row.completed_at, row.outcome = "cancelled", utcnow(), "cancelled"


def complete_signer(task: HumanTask, user: User, data: dict) -> ProcessInstance:
    """An added signer's decision (approve / reject + comment); gates the original task."""
    data = data or {}
    decision = data.get("decision")
    instance = _instance(task)
    if decision not in ("approve", "reject"):
        raise ValidationFailed({"decision": ["Must be approve or reject"]})
    check_comment(instance, task, data.get("comment"))
    files = check_attachments(user, data.get("attachments"))
    cleaned = {"decision": decision, "comment": data.get("comment")}
    _close(task, user, cleaned, decision, attachments=files)
    _audit(user, "task.completed", task, outcome=decision, comment=cleaned["comment"],
           bpmn_id=task.bpmn_id, signer=True, attachments=files)
    parent = db.session.get(HumanTask, task.parent_task_id)
    group = _signer_group(parent)
    result = _group_result(group, task, decision)
    if result is None:
        return instance
    _cancel(group)
    record(user.username, "task.signers_done", target_type="task", target_id=parent.id,
           instance_id=parent.instance_id, task_id=parent.id, process_key=parent.process_key,
           details={"result": result, "position": task.sign_position, "mode": task.sign_mode})
    if parent.status == "waiting" and parent.completed_by_id is None:  # "before": back to it
        _guarded(parent, {"status": "waiting"}, {"status": "open"})
    elif parent.status == "waiting":  # the approver already decided (after / parallel)
        if result == "approve":
            decider = db.session.get(User, parent.completed_by_id)
            stored = parent.attachments
            return finish_engine_task(parent, decider, submitted_data(parent),
                                      orjson.loads(stored) if stored else None)
        _guarded(parent, {"status": "waiting"},
                 {"status": "open", "outcome": None, "completed_by_id": None, "comment": None,
                  "submitted": None})
    return instance


def _group_result(group: list[HumanTask], done: HumanTask, decision: str) -> str | None:
    """approve / reject once the group has decided, else None (and start the next in line)."""
    mode = done.sign_mode
    if mode == "any" or decision == "reject":
        return decision
    if mode == "sequential":
        nxt = [r for r in group if r.status == "pending"]
        if nxt:
            _activate(nxt[:1])
            return None
        return "approve"
    return None if any(r.status in ACTIVE for r in group) else "approve"


# --- Return (退回) and jumping back on resubmit -----------------------------------------

def _manual_ancestors(workflow, engine_task) -> list:
    return [t for t in runtime.task_path(workflow, engine_task)
            if getattr(t.task_spec, "manual", False)]


def return_target(workflow, engine_task, to: str):
    from app.engine.validation import is_initiator_task

    passed = _manual_ancestors(workflow, engine_task)
    if not passed:
        raise Conflict("There is no earlier step to return this instance to",
                       code="no_return_target")
    if to == "previous":
        return passed[0]
    if to == "initiator":
        mine = [t for t in passed if is_initiator_task(t.task_spec)]
        return mine[0] if mine else passed[-1]
    for ancestor in passed:
        if ancestor.task_spec.bpmn_id == to:
            return ancestor
    raise ValidationFailed({"to": [f"'{to}' is not a step this instance has passed"]})


def return_task(task: HumanTask, user: User, to: str = "previous", comment=None,
                attachments=None) -> ProcessInstance:
    """退回 to the previous step, the initiator, or any step already passed (by BPMN id)."""
    if task.kind != "engine":
        raise Conflict("Added signers cannot return the instance", code="signer_task")
    _act_as_holder(task, user)
    if not (comment or "").strip():
        raise ValidationFailed({"comment": ["Say why you return it"]})
    files = check_attachments(user, attachments)
    instance, _to = return_held(task, user, to, comment, files)
    return instance


def return_held(task: HumanTask, user: User, to: str, comment, files: list[int]):
    """Return the instance from ``task`` (whose holder was checked); (instance, target id)."""
    instance = _instance(task)
    _require_running(instance)
    workflow = load_workflow_of(instance)
    engine_task = runtime.task_by_id(workflow, task.engine_task_id)
    if engine_task is None or not runtime.is_ready(engine_task):
        raise Conflict(f"Task {task.id} is no longer waiting", code="task_closed")
    target = return_target(workflow, engine_task, to or "previous")
    workflow.reset_from_task_id(target.id)
    instance.outcome = None
    run_engine(instance, workflow)
    _cancel(_active_group(task))
    _close(task, user, {"comment": comment, "return_to": target.task_spec.bpmn_id}, "return",
           attachments=files)
    save(instance, workflow, user)
    _audit(user, "task.returned", task, **_audit_details(
        comment, files, to=target.task_spec.bpmn_id, bpmn_id=task.bpmn_id))
    notifications.returned(instance, task, user, comment, target.task_spec.bpmn_id)
    mark_jump(instance, task)
    return instance, target.task_spec.bpmn_id


def mark_jump(instance: ProcessInstance, returned_by: HumanTask, workflow=None) -> None:
    """With ``resubmit=jump`` on the returning node, the re-opened task jumps straight back."""
    if node_settings(instance, returned_by.bpmn_id).get("resubmit") != "jump":
        return
    newest = db.session.scalar(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.status == "open",
        HumanTask.kind == "engine", HumanTask.id > returned_by.id)
        .order_by(HumanTask.id.desc()).limit(1))
    if newest is not None:
        newest.jump_to = returned_by.bpmn_id


def jump_back(instance: ProcessInstance, workflow, task: HumanTask) -> list:
    """Complete the steps between a resubmitted task and the node that returned it, again with
    their last decisions, so the instance lands back at that node. Returns what was skipped."""
    if not task.jump_to:
        return []
    run_engine(instance, workflow)
    skipped = []
    for _ in range(MAX_JUMP_STEPS):
        ready = runtime.ready_human_tasks(workflow)
        if not ready or any(t.task_spec.bpmn_id == task.jump_to for t in ready):
            break
        earlier = [(t, _last_submitted(instance.id, t.task_spec.bpmn_id)) for t in ready]
        earlier = [(t, data) for t, data in earlier if data is not None]
        if not earlier:
            break
        for engine_task, data in earlier:
            engine_task.set_data(**data)
            engine_task.run()
            skipped.append((engine_task, data))
        run_engine(instance, workflow)
    return skipped


def _last_submitted(instance_id: int, bpmn_id: str) -> dict | None:
    row = db.session.scalar(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id,
        HumanTask.kind == "engine", HumanTask.status == "completed")
        .order_by(HumanTask.id.desc()).limit(1))
    return submitted_data(row) if row is not None and row.submitted else None


def history_writer(skipped: list, user: User):
    """``on_written`` for save(): history rows for steps skipped by a jump back."""
    if not skipped:
        return None

    def write(instance: ProcessInstance) -> None:
        for engine_task, data in skipped:
            bpmn_id = engine_task.task_spec.bpmn_id
            last = db.session.scalar(select(func.max(HumanTask.pass_no)).where(
                HumanTask.instance_id == instance.id, HumanTask.bpmn_id == bpmn_id)) or 0
            row = new_row(instance, engine_task, last + 1) | _closed_values(user, data, "skipped")
            row.update(_candidates=[], status="completed", completed_by_id=None,
                       assignee_id=None)
            [row_id] = insert_rows([row])
            record(user.username, "task.skipped", target_type="task", target_id=row_id,
                   instance_id=instance.id, task_id=row_id, process_key=instance.process_key,
                   details={"bpmn_id": bpmn_id, "reason": "resubmitted after a return"})
    return write


# --- Reject, withdraw, take back -------------------------------------------------------

def _has_reject_path(task: HumanTask) -> bool:
    from app.forms.setup import form_registry

    if not task.form_key or not form_registry().has(task.form_key):
        return False
    form = form_registry().get(task.form_key)
    field = next((f for f in form.fields if f.name == "decision"), None)
    options = getattr(field, "options", None) or []
    return any((o.get("value") if isinstance(o, dict) else getattr(o, "value", o)) == "reject"
               for o in options)


def reject(task: HumanTask, user: User, comment=None, attachments=None,
           data: dict | None = None) -> ProcessInstance:
    """拒绝: follow the model's reject path (a ``decision`` field offering ``reject``), else end
    the instance as rejected."""
    from app.tasks.services import complete_task

    if task.kind == "signer":
        return complete_signer(task, user, {"decision": "reject", "comment": comment,
                                            "attachments": attachments})
    if not (comment or "").strip():
        raise ValidationFailed({"comment": ["Say why you reject it"]})
    if _has_reject_path(task):
        return complete_task(task, user, {**(data or {}), "decision": "reject",
                                          "comment": comment, "attachments": attachments})
    _act_as_holder(task, user)
    files = check_attachments(user, attachments)
    instance = _instance(task)
    _require_running(instance)
    workflow = load_workflow_of(instance)
    engine_task = runtime.task_by_id(workflow, task.engine_task_id)
    if engine_task is None or not runtime.is_ready(engine_task):
        raise Conflict(f"Task {task.id} is no longer waiting", code="task_closed")
    workflow.cancel()
    instance.outcome, instance.outcome_reason = "rejected", comment
    _cancel(_active_group(task))
    _close(task, user, _clean(None, task.bpmn_id, {"comment": comment}), "reject",
           attachments=files)
    save(instance, workflow, user)
    _audit(user, "task.rejected", task, **_audit_details(comment, files, bpmn_id=task.bpmn_id))
    return instance


def _acted_by_others(instance: ProcessInstance) -> bool:
    return db.session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.completed_by_id.is_not(None),
        HumanTask.completed_by_id != instance.started_by_id)) > 0


def withdraw(instance: ProcessInstance, user: User, comment=None) -> ProcessInstance:
    """撤回 by the initiator: until the first approver acts (or while running, if allowed)."""
    if instance.started_by_id != user.id:
        raise Forbidden("Only the person who started the application can withdraw it")
    _require_running(instance)
    anytime = process_attr(instance.process_version_id, "withdraw") == "running"
    if not anytime and _acted_by_others(instance):
        raise Conflict("An approver has already acted on this application; it can no longer "
                       "be withdrawn", code="withdraw_window_closed")
    workflow = load_workflow_of(instance)
    workflow.cancel()
    instance.status, instance.completed_at = "cancelled", utcnow()
    instance.outcome, instance.outcome_reason = "withdrawn", comment
    save(instance, workflow, user)
    record(user.username, "instance.withdrawn", target_type="instance", target_id=instance.id,
           instance_id=instance.id, process_key=instance.process_key,
           details={"comment": comment})
    return instance


def take_back(task: HumanTask, user: User, comment=None) -> HumanTask:
    """An approver takes back its own last action, until the next approver opened or acted."""
    if task.completed_by_id != user.id or task.kind != "engine" or \
            task.status not in ("completed", "returned"):
        raise Conflict("Only your own completed step can be taken back", code="not_takeable")
    instance = _instance(task)
    _require_running(instance)
    later = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                       HumanTask.id > task.id)).all()
    touched = [r for r in later if (r.status not in ACTIVE and r.status != "cancelled")
               or (r.opened_at is not None and r.assignee_id != user.id)]
    if touched:
        raise Conflict("The next approver has already opened or acted on it; it can no longer "
                       "be taken back", code="take_back_window_closed")
    workflow = load_workflow_of(instance)
    engine_task = runtime.task_by_id(workflow, task.engine_task_id)
    if engine_task is None:
        raise Conflict("This step is no longer part of the instance", code="not_takeable")
    workflow.reset_from_task_id(engine_task.id)
    instance.outcome = instance.outcome_reason = None
    save(instance, workflow, user)
    new = db.session.scalar(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.engine_task_id == task.engine_task_id,
        HumanTask.status == "open").order_by(HumanTask.id.desc()).limit(1))
    if new is None:
        raise Conflict("This step could not be reopened", code="not_takeable")
    new.assignee_id, new.claimed_at = user.id, utcnow()
    task.outcome = "taken_back"
    _audit(user, "task.taken_back", task, comment=comment, new_task_id=new.id)
    return new


def mark_opened(task: HumanTask, user: User) -> None:
    """Remember that the assignee opened the task (this closes the previous approver's
    take-back window)."""
    if task.status == "open" and task.opened_at is None and task.assignee_id == user.id:
        task.opened_at = utcnow()


# --- Batch approve ---------------------------------------------------------------------

def batch_complete(user: User, task_ids: list[int], data: dict) -> list[dict]:
    """批量审批: each task in its own transaction; one result per task, in order."""
    from app.core.errors import AppError
    from app.tasks.services import complete_task, get_task_for

    results = []
    for task_id in task_ids:
        try:
            task = _batch_target(task_id, user, get_task_for)
            instance = _instance(task)
            if node_settings(instance, task.bpmn_id).get("batchApprove") != "true":
                raise Conflict("This step cannot be approved in batch", code="batch_not_allowed")
            complete_task(task, user, dict(data))
            db.session.commit()
            results.append({"task_id": task_id, "status": 200, "ok": True, "code": None,
                            "message": None, "instance_id": instance.id})
        except AppError as exc:
            db.session.rollback()
            results.append({"task_id": task_id, "status": exc.status, "ok": False,
                            "code": exc.code, "message": exc.message,
                            "errors": getattr(exc, "errors", None)})
    return results


def _batch_target(task_id: int, user: User, get_task_for) -> HumanTask:
    """The task, or 409 when a fellow candidate just claimed or completed it, else 404."""
    from app.tasks.services import is_candidate

    try:
        return get_task_for(task_id, user, with_instance=True)
    except NotFound:
        task = db.session.get(HumanTask, task_id)
        if task is None or not is_candidate(task, user):
            raise
        if task.status != "open":
            raise Conflict(f"Task {task_id} is already {task.status}", code="task_closed") \
                from None
        raise Conflict(f"Task {task_id} was claimed by someone else",
                       code="already_claimed") from None


def get_instance_for(instance_id: int, user: User) -> ProcessInstance:
    from app.tasks.services import can_view_instance

    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not can_view_instance(instance, user):
        raise NotFound(f"Instance {instance_id} not found")
    return instance
