"""Running workflows: the spec cache, the sandboxed script engine and task helpers."""

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine.parsing import build_specs, parse_bundle
from app.engine.sandbox import SandboxEnvironment
from app.engine.specs import PlatformServiceTask, PlatformWorkflow

_script_engine: PythonScriptEngine | None = None
_script_helpers: dict = {}  # extra sandbox helpers registered by platform packages
_script_timeout = 1.0


def script_engine() -> PythonScriptEngine:
    global _script_engine
    if _script_engine is None:
        _script_engine = PythonScriptEngine(environment=SandboxEnvironment(
            helpers=_script_helpers, timeout_seconds=_script_timeout))
    return _script_engine


def configure_script_engine(timeout_seconds: float) -> None:
    global _script_engine, _script_timeout
    _script_timeout = timeout_seconds
    _script_engine = PythonScriptEngine(environment=SandboxEnvironment(
        helpers=_script_helpers, timeout_seconds=timeout_seconds))


def register_script_helper(name: str, fn) -> None:
    """Offer ``fn`` to every BPMN script and condition under ``name`` (read-only helpers)."""
    global _script_engine
    _script_helpers[name] = fn
    _script_engine = None


@dataclass
class CompiledProcess:
    key: str
    spec: object
    subprocess_specs: dict


_cache: dict[tuple[str, str], CompiledProcess] = {}
_cache_lock = threading.Lock()


def bundle_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def compiled(process_key: str, bundle_digest: str, bundle_json: str) -> CompiledProcess:
    """Return the parsed spec of a deployed version (content-addressed, parsed once)."""
    key = (bundle_digest, process_key)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    with _cache_lock:
        if key not in _cache:
            files = {n: x.encode() for n, x in orjson.loads(bundle_json).items()}
            bundle = parse_bundle(files, validate_xsd=False)
            spec, subs = build_specs(bundle, process_key)
            _cache[key] = CompiledProcess(process_key, spec, subs)
    return _cache[key]


def remember(process_key: str, bundle_digest: str, spec, subs) -> None:
    _cache[(bundle_digest, process_key)] = CompiledProcess(process_key, spec, subs)


def new_workflow(proc: CompiledProcess) -> BpmnWorkflow:
    return PlatformWorkflow(proc.spec, proc.subprocess_specs, script_engine=script_engine())


def seed_data(workflow: BpmnWorkflow, data: dict) -> None:
    """Put data on the workflow's ready start task(s) so every later task inherits it."""
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)


def attach(workflow: BpmnWorkflow) -> BpmnWorkflow:
    workflow.script_engine = script_engine()
    return workflow


def ready_human_tasks(workflow: BpmnWorkflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def started_service_tasks(workflow: BpmnWorkflow) -> list:
    return [t for t in workflow.get_tasks(state=TaskState.STARTED)
            if isinstance(t.task_spec, PlatformServiceTask)]


def task_by_id(workflow: BpmnWorkflow, engine_task_id: str):
    return workflow.get_task_from_id(UUID(engine_task_id))


def is_ready(task) -> bool:
    return task.state == TaskState.READY


def next_timer_at(workflow: BpmnWorkflow) -> datetime | None:
    """Earliest fire time among waiting timer events (naive UTC), or None."""
    times = []
    for event in workflow.waiting_events():
        if "Timer" not in str(event.event_type) or not isinstance(event.value, str):
            continue
        try:
            when = datetime.fromisoformat(event.value)
        except ValueError:
            continue
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        times.append(when)
    return min(times) if times else None


def waiting_message_names(workflow: BpmnWorkflow) -> list[str]:
    return sorted({e.name for e in workflow.waiting_events() if "Message" in str(e.event_type)})


def send_message(workflow: BpmnWorkflow, name: str, payload: dict, correlations: dict) -> bool:
    """Deliver a message; False when nothing in the workflow waits for it."""
    from SpiffWorkflow.bpmn.util.event import BpmnEvent
    from SpiffWorkflow.exceptions import WorkflowException
    from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition

    event = BpmnEvent(MessageEventDefinition(name), payload=payload, correlations=correlations)
    try:
        workflow.send_event(event)
    except WorkflowException:
        return False
    return True


def workflow_data(workflow: BpmnWorkflow) -> dict:
    """The data an observer should see: the workflow's data once done, else the latest task's."""
    if workflow.is_completed():
        return dict(workflow.data)
    latest = None
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        if latest is None or task.last_state_change > latest.last_state_change:
            latest = task
    return dict(latest.data) if latest is not None else dict(workflow.data)


def task_path(workflow: BpmnWorkflow, task) -> list:
    """Ancestors of a task, nearest first."""
    out, parent = [], task.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def throw_error(workflow: BpmnWorkflow, task, code: str, payload: dict) -> bool:
    """Deliver a BPMN error (by code) to whatever boundary event waits on ``task``."""
    from SpiffWorkflow.bpmn.util.event import BpmnEvent
    from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition

    event = BpmnEvent(ErrorEventDefinition(code, code=code), payload=payload)
    return bool(task.workflow.top_workflow.event_manager.catch(event))
