"""Deploying process models and persisting instances (load → step → save, one transaction)."""

import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import orjson
from flask import current_app
from sqlalchemy import bindparam, delete, event, func, insert, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.services import record
from app.core import sql
from app.core.errors import (
    Conflict,
    DeployError,
    Forbidden,
    NotFound,
    ValidationFailed,
    WorkflowError,
)
from app.core.models import User, utcnow
from app.engine import runtime
from app.engine.models import MessageSubscription, ProcessInstance, ProcessVersion
from app.engine.parsing import ModelProblems, parse_bundle
from app.engine.serialization import dump_workflow, load_workflow
from app.engine.validation import Rules, validate_bundle
from app.extensions import db

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
STAFF_EXCLUDED = {"dealer", "applicant"}


@dataclass
class DeployResult:
    process_key: str
    version: int
    created: bool
    filename: str


def platform_rules() -> Rules:
    from app.forms.setup import form_registry
    from connectors.registry import registry

    return Rules(form_exists=form_registry().has, operation=registry.get)


def check_files(files: dict[str, bytes]):
    """Parse and validate; return the bundle or raise ModelProblems."""
    bundle = parse_bundle(files)
    validate_bundle(bundle, platform_rules())
    return bundle


def _starter_roles(bundle, process_id: str) -> str:
    tree = bundle.trees[bundle.process_files[process_id]]
    found = tree.getroot().xpath("//*[local-name()='process'][@id=$id]", id=process_id)
    value = found[0].get(f"{{{CAMUNDA_NS}}}candidateStarterGroups") if found else None
    return ",".join(r.strip() for r in (value or "").split(",") if r.strip())


def deploy_files(files: dict[str, bytes], actor: str) -> list[DeployResult]:
    """Validate and deploy; a new version only where a process's content changed."""
    try:
        bundle = check_files(files)
    except ModelProblems as exc:
        raise DeployError(exc.problems) from None
    results = []
    for pid in bundle.process_ids():
        names = bundle.files_for(pid)
        contents = {n: files[n] for n in names}
        digest = runtime.bundle_hash(contents)
        latest = latest_version(pid, required=False)
        if latest is not None and latest.bundle_hash == digest:
            results.append(DeployResult(pid, latest.version, False, bundle.process_files[pid]))
            continue
        spec_name = bundle.parser.get_process_parser(pid).get_name() or pid
        version = ProcessVersion(
            process_key=pid, version=(latest.version + 1) if latest else 1, name=spec_name,
            filename=bundle.process_files[pid], deployed_by=actor, bundle_hash=digest,
            content_hash=runtime.bundle_hash({names[0]: files[bundle.process_files[pid]]}),
            bundle=orjson.dumps({n: c.decode() for n, c in contents.items()}).decode(),
            starter_roles=_starter_roles(bundle, pid))
        db.session.add(version)
        db.session.flush()
        record(actor, "process.deployed", target_type="process_version", target_id=version.id,
               process_key=pid, details={"version": version.version, "hash": digest})
        results.append(DeployResult(pid, version.version, True, version.filename))
    return results


def read_model_files(paths) -> dict[str, bytes]:
    files = {}
    for path in paths:
        p = Path(path)
        targets = sorted([*p.glob("*.bpmn"), *p.glob("*.dmn")]) if p.is_dir() else [p]
        for t in targets:
            files[t.name] = t.read_bytes()
    return files


def deploy_directory(path: str | None = None, actor: str = "system") -> list[DeployResult]:
    files = read_model_files([path or current_app.config["PROCESSES_DIR"]])
    return deploy_files(files, actor) if files else []


def latest_version(key: str, required: bool = True) -> ProcessVersion | None:
    version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_key == key)
                                .order_by(ProcessVersion.version.desc()).limit(1))
    if version is None and required:
        raise NotFound(f"Process '{key}' is not deployed", code="process_not_found")
    return version


_VERSIONS = ProcessVersion.__table__
_LATEST_REF = sql.prepared(
    select(_VERSIONS.c.id, _VERSIONS.c.process_key, _VERSIONS.c.version, _VERSIONS.c.name,
           _VERSIONS.c.starter_roles)
    .where(_VERSIONS.c.process_key == bindparam("key"))
    .order_by(_VERSIONS.c.version.desc()).limit(1))


def latest_version_ref(key: str):
    """The latest version's id, key, number, name and starter roles, without its bundle.

    What starting an instance needs (``can_start``, ``create_instance``); 404 if undeployed.
    """
    row = sql.execute(_LATEST_REF, {"key": key}).first()
    if row is None:
        raise NotFound(f"Process '{key}' is not deployed", code="process_not_found")
    return row


def latest_versions() -> list[ProcessVersion]:
    newest = (select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("v"))
              .group_by(ProcessVersion.process_key).subquery())
    stmt = select(ProcessVersion).join(
        newest, (ProcessVersion.process_key == newest.c.process_key)
        & (ProcessVersion.version == newest.c.v)).order_by(ProcessVersion.process_key)
    return db.session.scalars(stmt).all()


def can_start(version: ProcessVersion, user: User) -> bool:
    if version.starter_roles:
        return user.has_role(*version.starter_roles.split(","), "admin")
    return any(r not in STAFF_EXCLUDED for r in user.roles)


_version_cache: dict[int, tuple[str, str, str]] = {}


def clear_caches() -> None:
    """Forget version rows (tests recreate the database; deployed rows never change)."""
    _version_cache.clear()
    with _warm_lock:
        _warm.clear()


def compiled_for(version_id: int) -> runtime.CompiledProcess:
    meta = _version_cache.get(version_id)
    if meta is None:
        v = db.session.get(ProcessVersion, version_id)
        meta = (v.process_key, v.bundle_hash, v.bundle)
        _version_cache[version_id] = meta
    return runtime.compiled(*meta)


# Workflows this process saved and committed, by instance id: (stored state, spec, workflow).
# The next load of that instance takes the object instead of deserialising the state again,
# but only while the row still holds exactly the state that was saved from it (any other
# writer, another process or a rolled-back save makes it a miss). A load takes the entry
# out, so one object is never shared; ``save`` offers it back once its transaction commits.
WARM_LIMIT = 256
_warm: OrderedDict[int, tuple[str, object, object]] = OrderedDict()
_warm_lock = threading.Lock()
_PENDING = "engine.warm_workflows"


def load_workflow_of(instance: ProcessInstance):
    proc = compiled_for(instance.process_version_id)
    if instance.id is not None:
        with _warm_lock:
            hit = _warm.pop(instance.id, None)
        if hit is not None and hit[1] is proc.spec and hit[0] == instance.state:
            return runtime.attach(hit[2])
    return runtime.attach(load_workflow(instance.state, proc.spec, proc.subprocess_specs))


def _keep_warm(instance: ProcessInstance, state: str, workflow) -> None:
    proc = compiled_for(instance.process_version_id)
    db.session.info.setdefault(_PENDING, {})[instance.id] = (state, proc.spec, workflow)


@event.listens_for(Session, "after_commit")
def _warm_committed(session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        with _warm_lock:
            for instance_id, entry in pending.items():
                _warm[instance_id] = entry
                _warm.move_to_end(instance_id)
            while len(_warm) > WARM_LIMIT:
                _warm.popitem(last=False)


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _warm_dropped(session, *_args) -> None:
    session.info.pop(_PENDING, None)


def _engine_error(instance: ProcessInstance, exc: Exception) -> WorkflowError:
    task = getattr(exc, "task", None)
    element = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    return WorkflowError(f"Process '{instance.process_key}' failed at '{element}': {exc}",
                         details={"process": instance.process_key, "element": element})


def run_engine(instance: ProcessInstance, workflow) -> None:
    try:
        runtime.prune_stale_events(workflow)
        workflow.do_engine_steps()
    except Exception as exc:  # noqa: BLE001 - any script/engine failure is reported, not a 500
        raise _engine_error(instance, exc) from exc


_MUTABLE = ("state", "updated_at", "next_timer_at", "waiting_messages", "status",
            "completed_at", "outcome", "outcome_reason")
_SAVE = sql.guarded_update(ProcessInstance.__table__, ("id", "lock_version"),
                           (*_MUTABLE, "lock_version"))


def _stamp(instance: ProcessInstance, workflow) -> tuple[dict, bool]:
    """The row's new values from the workflow's state; True when this step completed it.

    Nothing is set on the ORM object here: ``_write`` stores the values and marks them as
    committed, so the session has nothing left to flush at commit.
    """
    events = workflow.waiting_events()
    waiting = runtime.waiting_message_names(workflow, events)
    values = {"state": dump_workflow(workflow), "updated_at": utcnow(),
              "next_timer_at": runtime.next_timer_at(workflow, events),
              "waiting_messages": f",{','.join(waiting)}," if waiting else ""}
    values.update({name: getattr(instance, name)
                   for name in ("status", "completed_at", "outcome", "outcome_reason")})
    if not workflow.is_completed() or instance.status in ("completed", "cancelled"):
        return values, False
    values.update(status="completed", completed_at=utcnow(),
                  outcome=str(workflow.data.get("outcome") or instance.outcome or "completed"))
    return values, True


_INSERT_COLUMNS = tuple(c.key for c in ProcessInstance.__table__.columns if c.key != "id")
_INSERT = sql.prepared(insert(ProcessInstance.__table__)
                       .values({k: bindparam(k) for k in _INSERT_COLUMNS})
                       .returning(ProcessInstance.__table__.c.id))


def _insert(instance: ProcessInstance) -> None:
    """INSERT a new instance row without an ORM flush; the object becomes persistent."""
    now = utcnow()
    if instance.created_at is None:
        instance.created_at = now
    if instance.updated_at is None:
        instance.updated_at = now
    if instance.waiting_messages is None:
        instance.waiting_messages = ""
    instance.id = sql.execute(_INSERT, {k: getattr(instance, k) for k in _INSERT_COLUMNS}
                              ).scalar_one()
    make_transient_to_detached(instance)
    db.session.add(instance)


def _write(instance: ProcessInstance, values: dict) -> None:
    """INSERT a new row, or UPDATE guarded on ``lock_version``: 409 if someone saved first."""
    if instance.id is None:
        for name, value in values.items():
            setattr(instance, name, value)
        if inspect(instance).transient:
            _insert(instance)
        else:  # already added to the session by the caller
            db.session.flush()
        return
    version = instance.lock_version
    values = {**values, "lock_version": version + 1}
    # The row's pending attributes go into this one UPDATE (no ORM flush of them).
    params = {"w_id": instance.id, "w_lock_version": version, **sql.bind("s", values)}
    pending = _held_saves.get()
    if pending is not None:
        pending.append(params)
    elif sql.execute(_SAVE, params).rowcount != 1:
        raise _stale()
    for name, value in values.items():
        set_committed_value(instance, name, value)


def _stale() -> Conflict:
    return Conflict("The instance was changed by someone else; reload and try again",
                    code="stale_instance")


_held_saves: ContextVar[list | None] = ContextVar("held_instance_saves", default=None)


def held_saves() -> AbstractContextManager[list]:
    """Hold the guarded UPDATEs of instances saved in this block (this thread) in the yielded
    list, for ``write_held_saves`` to run in one round trip in the same transaction (the worker
    applies a batch of job results so). The objects take their new values at once."""
    return sql.holding(_held_saves)


def write_held_saves(pending: list) -> None:
    """Run held instance UPDATEs, in order; ``Conflict`` if any found its row changed (the
    caller rolls the transaction back: which one cannot be told)."""
    if pending and sql.execute(_SAVE, list(pending)).rowcount != len(pending):
        raise _stale()
    pending.clear()


_SUBS = MessageSubscription.__table__
_DROP_SUBSCRIPTIONS = delete(_SUBS).where(_SUBS.c.instance_id == bindparam("instance_id"))
_ADD_SUBSCRIPTION = insert(_SUBS)
_SUBSCRIBED_VERSIONS = (select(_SUBS.c.process_version_id).distinct()
                        .where(_SUBS.c.message == bindparam("message")))


def _sync_subscriptions(instance: ProcessInstance, workflow, had_waiting: bool) -> None:
    """Store the correlation keys the instance's waiting message events listen on."""
    subs = runtime.message_subscriptions(workflow) if instance.waiting_messages else []
    if not subs and not had_waiting:
        return  # nothing stored before, nothing now: no statement at all
    _store_subscriptions(instance, subs)


def _store_subscriptions(instance: ProcessInstance, subs: list) -> None:
    sql.execute(_DROP_SUBSCRIPTIONS, {"instance_id": instance.id})
    if subs:
        now = utcnow()
        sql.execute(_ADD_SUBSCRIPTION, [
            {"instance_id": instance.id, "process_version_id": instance.process_version_id,
             "message": name[:255], "correlation_key": key[:255],
             "value_digest": runtime.correlation_digest(values), "created_at": now,
             "values": orjson.dumps(values, default=str).decode()}
            for name, key, values in subs])


_STORED_SUBSCRIPTIONS = (select(_SUBS.c.message, _SUBS.c.correlation_key, _SUBS.c.value_digest)
                         .where(_SUBS.c.instance_id == bindparam("instance_id")))


def _version_keyed_messages(version_id: int) -> set[str]:
    proc = compiled_for(version_id)
    return runtime.keyed_messages(
        [proc.spec, *(s for s in proc.subprocess_specs.values() if s is not None)])


def reindex_subscriptions(missing_only: bool = False) -> tuple[int, int]:
    """Compute and store the correlation keys of every running instance waiting for a message.

    For instances that started waiting before keys were stored (or whose rows were lost): a
    payload-only message finds them afterwards. Idempotent: an instance whose stored keys
    already match is left alone. ``missing_only`` looks only at waiting instances without any
    stored key, of versions whose waited-for messages use correlation keys (cheap enough to run
    on every deploy). Returns (instances checked, instances whose keys were rewritten); the
    caller commits.
    """
    has_rows = select(_SUBS.c.id).where(_SUBS.c.instance_id == ProcessInstance.id).exists()
    stmt = (select(ProcessInstance.id, ProcessInstance.process_version_id,
                   ProcessInstance.waiting_messages)
            .where(ProcessInstance.status == "running", ProcessInstance.waiting_messages != "")
            .order_by(ProcessInstance.id))
    if missing_only:
        stmt = stmt.where(~has_rows)
    keyed: dict[int, set[str]] = {}
    checked = rewritten = 0
    for instance_id, version_id, waiting in db.session.execute(stmt).all():
        if version_id not in keyed:
            keyed[version_id] = _version_keyed_messages(version_id)
        if missing_only and not keyed[version_id] & set(filter(None, waiting.split(","))):
            continue  # nothing it waits for is correlated: no key to store
        checked += 1
        instance = db.session.get(ProcessInstance, instance_id)
        subs = runtime.message_subscriptions(load_workflow_of(instance))
        wanted = {(name[:255], key[:255], runtime.correlation_digest(values))
                  for name, key, values in subs}
        stored = {tuple(row) for row in sql.execute(_STORED_SUBSCRIPTIONS,
                                                    {"instance_id": instance_id})}
        if wanted != stored:
            _store_subscriptions(instance, subs)
            rewritten += 1
    return checked, rewritten


# Called as hook(instance) in the saving transaction when an instance completes (notifications).
completion_hooks: list = []


def save(instance: ProcessInstance, workflow, actor: User | None, on_written=None,
         none_open: bool = False) -> None:
    """Store the state, then project human tasks and jobs (``on_written`` runs in between).

    ``none_open``: the state ``workflow`` was loaded from had no READY human task (see
    ``sync_human_tasks``).
    """
    from app.jobs.services import sync_jobs
    from app.tasks.projection import sync_human_tasks

    had_waiting = bool(instance.waiting_messages)
    values, completed = _stamp(instance, workflow)
    _write(instance, values)
    _keep_warm(instance, values["state"], workflow)
    _sync_subscriptions(instance, workflow, had_waiting)
    if on_written is not None:
        on_written(instance)
    sync_human_tasks(instance, workflow, none_open)
    sync_jobs(instance, workflow)
    if completed:
        record(actor.username if actor else "system", "instance.completed",
               target_type="instance", target_id=instance.id, instance_id=instance.id,
               process_key=instance.process_key, details={"outcome": instance.outcome})
        for hook in completion_hooks:
            hook(instance)


def create_instance(version: ProcessVersion, user: User, *, business_key=None, title="",
                    region=None, subject=None) -> tuple[ProcessInstance, object]:
    proc = compiled_for(version.id)
    workflow = runtime.new_workflow(proc)
    instance = ProcessInstance(process_version_id=version.id, process_key=version.process_key,
                               status="running", business_key=business_key, title=title,
                               region=region, started_by_id=user.id, state="{}", lock_version=1)
    if subject:
        instance.subject_type, instance.subject_id = subject
    settings = current_app.config.get("PROCESS_START_SETTINGS", {}).get(version.process_key, {})
    runtime.seed_data(workflow, {"initiator": user.username,
                                 **{var: current_app.config[name] for var, name in settings.items()}})
    return instance, workflow


def get_instance(instance_id: int) -> ProcessInstance:
    return ProcessInstance.get_or_404(instance_id, "Instance")


def first_user_task(version: ProcessVersion) -> tuple[str | None, str | None]:
    """(BPMN id, form key) of the first user task reached from the process start."""
    from app.engine.validation import assignment_of

    spec = compiled_for(version.id).spec
    queue, seen = [spec.start], set()
    while queue:
        task_spec = queue.pop(0)
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        if getattr(task_spec, "manual", False):
            return task_spec.bpmn_id, assignment_of(task_spec).get("formKey")
        queue.extend(task_spec.outputs)
    return None, None


def _correlates(instance: ProcessInstance, correlation: dict):
    """The instance's workflow when its data (or BPMN correlation properties) match."""
    workflow = load_workflow_of(instance)
    values = runtime.correlation_values(workflow)
    if all(k in values and str(values[k]) == str(v) for k, v in correlation.items()):
        return workflow
    return None


def _version_correlations(version_id: int, name: str, payload: dict) -> dict:
    """{key: {property: value}} of message ``name`` computed from ``payload`` with the
    ``messagePath`` expressions of one deployed version (raises ``CorrelationError``)."""
    proc = compiled_for(version_id)
    specs = [proc.spec, *(s for s in proc.subprocess_specs.values() if s is not None)]
    return runtime.payload_correlations(specs, name, payload or {})


def _message_correlations(name: str, payload: dict) -> dict:
    """The payload's correlation keys for message ``name``, from every version whose waiting
    instances stored keys for it (an index-only read); 422 when the payload lacks what every
    keyed version reads."""
    version_ids = sql.execute(_SUBSCRIBED_VERSIONS, {"message": name}).scalars().all()
    out, errors = {}, []
    for version_id in sorted(version_ids):
        try:
            out.update(_version_correlations(version_id, name, payload))
        except runtime.CorrelationError as exc:
            errors.append(str(exc))
    if not out and errors:
        raise ValidationFailed({"payload": sorted(set(errors))})
    return out


def _subscribed(name: str, keys: dict) -> list[ProcessInstance]:
    """Running instances waiting for ``name`` whose stored correlation key matches one of
    ``keys`` (at most two: one is the answer, two is ambiguous)."""
    wanted = [(key, runtime.correlation_digest(values)) for key, values in keys.items()]
    match = None
    for key, digest in wanted:
        clause = (MessageSubscription.correlation_key == key) & \
            (MessageSubscription.value_digest == digest)
        match = clause if match is None else (match | clause)
    ids = select(MessageSubscription.instance_id).where(MessageSubscription.message == name,
                                                        match)
    return list(db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.id.in_(ids),
                                      ProcessInstance.status == "running",
                                      ProcessInstance.waiting_messages.contains(f",{name},"))
        .order_by(ProcessInstance.id).limit(2)))


def deliver_message(name: str, payload: dict, actor: User | None, *,
                    business_key: str | None = None, instance_id: int | None = None,
                    correlations: dict | None = None, correlation: dict | None = None) -> int:
    """Wake the one running instance waiting for message ``name``.

    The instance is chosen by business key, id, and/or ``correlation``: every key must equal
    the instance's process data of that name (or a BPMN correlation property of that name).
    Without any of them, a message whose BPMN defines correlation properties is matched on
    the keys its ``messagePath`` expressions compute from ``payload`` against the keys each
    waiting instance computed from its data (``dataPath`` / ``processVariableCorrelation``)
    when it started waiting.
    404 when none waits; 409 when several do and the caller did not say which.
    """
    explicit = bool(business_key or instance_id or correlation)
    computed = {} if explicit else _message_correlations(name, payload)
    stmt = select(ProcessInstance).where(ProcessInstance.status == "running",
                                         ProcessInstance.waiting_messages.contains(f",{name},"))
    if business_key:
        stmt = stmt.where(ProcessInstance.business_key == business_key)
    if instance_id:
        stmt = stmt.where(ProcessInstance.id == instance_id)
    stmt = stmt.order_by(ProcessInstance.id)
    for value in (correlation or {}).values():
        # A matching instance holds the value in its stored JSON state (ASCII-escaped, so only
        # plain ASCII values are searched verbatim): let the database drop the others before
        # any workflow is loaded (the match itself is decided below).
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) \
                and all(ch.isascii() and ch.isprintable() and ch not in '"\\'
                        for ch in str(value)):
            stmt = stmt.where(ProcessInstance.state.contains(str(value), autoescape=True))
    if correlation:
        waiting = []
        for candidate in db.session.scalars(stmt):
            workflow = _correlates(candidate, correlation)
            if workflow is not None:
                waiting.append((candidate, workflow))
                if len(waiting) > 1:
                    break
    elif computed and not explicit:
        waiting = [(i, None) for i in _subscribed(name, computed)]
    else:
        waiting = [(i, None) for i in db.session.scalars(stmt.limit(2))]
    if not waiting:
        keys = correlation or ({k: v for values in computed.values() for k, v in values.items()}
                               if not explicit else {})
        raise NotFound(f"No running instance is waiting for message '{name}'"
                       + (f" with correlation keys {keys}" if keys else ""),
                       code="no_waiting_instance")
    if len(waiting) > 1:
        raise Conflict(f"Several instances wait for message '{name}'; give correlation keys, "
                       "business_key or instance_id", code="ambiguous_message")
    instance, workflow = waiting[0]
    if explicit:  # the chosen instance's own correlation properties must be in the payload
        try:
            computed = _version_correlations(instance.process_version_id, name, payload)
        except runtime.CorrelationError as exc:
            raise ValidationFailed({"payload": [str(exc)]}) from None
    workflow = workflow or load_workflow_of(instance)
    if not runtime.send_message(workflow, name, payload, computed or correlations or {}):
        raise NotFound(f"Instance {instance.id} does not accept message '{name}' with these "
                       "correlation keys", code="no_waiting_instance")
    run_engine(instance, workflow)
    who = actor.username if actor is not None else "system"
    save(instance, workflow, actor)
    record(who, "message.delivered", target_type="instance", target_id=instance.id,
           instance_id=instance.id, process_key=instance.process_key,
           details={"message": name, "payload": payload,
                    "correlation": correlation or ({} if explicit else computed)})
    return instance.id


def start_with_data(process_key: str, user: User, data: dict, *, title: str = "",
                    business_key: str | None = None, subject=None,
                    region: str | None = None) -> ProcessInstance:
    """Start the latest version of ``process_key`` for a platform object, its data seeded.

    For processes a service starts on someone's behalf (a promotion sent for approval, an
    order submitted): no initiator form, the object's data goes straight into the instance.
    """
    version = latest_version_ref(process_key)
    if not can_start(version, user):
        raise Forbidden(f"You may not start '{process_key}'")
    instance, workflow = create_instance(version, user, business_key=business_key,
                                         title=title or version.name, region=region or user.region,
                                         subject=subject)
    runtime.seed_data(workflow, data)
    run_engine(instance, workflow)

    def on_written(inst: ProcessInstance) -> None:
        record(user.username, "instance.started", target_type="instance", target_id=inst.id,
               instance_id=inst.id, process_key=process_key,
               details={"version": version.version, "business_key": business_key})

    save(instance, workflow, user, on_written=on_written)
    return instance
