"""Running workflows: the spec cache, the sandboxed script engine and task helpers."""

import hashlib
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


def next_timer_at(workflow: BpmnWorkflow, events=None) -> datetime | None:
    """Earliest fire time among waiting timer events (naive UTC), or None.

    ``events``: ``workflow.waiting_events()`` when the caller already has them.
    """
    times = []
    for event in workflow.waiting_events() if events is None else events:
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


_clock_lock = threading.RLock()


@contextmanager
def engine_clock(now: datetime | None):
    """Make the engine's timer code see ``now`` (naive UTC) instead of the wall clock.

    SpiffWorkflow reads ``datetime.now`` inside its timer module; the worker passes the time
    it works for, so tests (and catch-up runs) can fire timers at a chosen moment.
    """
    if now is None:
        yield
        return
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    aware = now.replace(tzinfo=UTC) if now.tzinfo is None else now

    class _At(datetime):
        @classmethod
        def now(cls, tz=None):
            return aware.astimezone(tz) if tz is not None else aware.replace(tzinfo=None)

    with _clock_lock:
        saved = timer.datetime
        timer.datetime = _At
        try:
            yield
        finally:
            timer.datetime = saved


@dataclass
class FiredTimer:
    bpmn_id: str
    interrupting: bool
    attached_to: str | None  # BPMN id of the activity a boundary timer sits on


def _waiting_timers(workflow: BpmnWorkflow) -> dict:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    return {t.id: t for t in workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)}


def fire_timers(workflow: BpmnWorkflow, now: datetime | None = None) -> list[FiredTimer]:
    """Fire every due timer (as of ``now``), run the engine on, and say which fired."""
    from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent

    with engine_clock(now):
        before = _waiting_timers(workflow)
        workflow.refresh_timers()
        workflow.do_engine_steps()
    fired = []
    for task in before.values():
        if task.state not in (TaskState.COMPLETED, TaskState.READY, TaskState.STARTED):
            continue
        spec = task.task_spec
        boundary = isinstance(spec, BoundaryEvent)
        siblings = task.parent.children if boundary and task.parent is not None else []
        attached = next((c.task_spec.bpmn_id for c in siblings
                         if not isinstance(c.task_spec, BoundaryEvent)), None)
        fired.append(FiredTimer(spec.bpmn_id, bool(boundary and spec.cancel_activity),
                                attached))
    return fired


def prune_stale_events(workflow: BpmnWorkflow) -> None:
    """Forget waiting events of tasks no longer in the tree.

    ``reset_from_task_id`` drops the tasks after the reset point, but SpiffWorkflow keeps the
    waiting ones (e.g. a boundary timer on a task being returned) in its event manager, and the
    next engine step would fail on them.
    """
    manager = workflow.event_manager
    for task_id, task in list(manager.tasks.items()):
        if task.workflow.tasks.get(task_id) is not task:
            manager.tasks.pop(task_id, None)


def waiting_message_names(workflow: BpmnWorkflow, events=None) -> list[str]:
    events = workflow.waiting_events() if events is None else events
    return sorted({e.name for e in events if "Message" in str(e.event_type)})


def correlation_values(workflow: BpmnWorkflow) -> dict:
    """Values a message may be correlated on: BPMN correlation properties, then process data."""
    values = dict(workflow_data(workflow))
    for props in (workflow.correlations or {}).values():
        if isinstance(props, dict):
            values.update(props)
    return values


def _message_definitions(task_specs, name: str | None = None):
    from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition

    for task_spec in task_specs:
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition) and (name is None
                                                               or definition.name == name):
            yield definition


def _key_names(definition) -> set[str]:
    props = [*definition.correlation_properties,
             *getattr(definition, "process_correlations", [])]
    return {key for prop in props for key in prop.correlation_keys}


def keyed_messages(specs) -> set[str]:
    """Names of the messages whose catch events in ``specs`` listen on correlation keys."""
    task_specs = [t for spec in specs for t in spec.task_specs.values()]
    return {d.name for d in _message_definitions(task_specs) if _key_names(d)}


def correlation_digest(values: dict) -> str:
    """A stable digest of one correlation key's property values ({property: value})."""
    canonical = orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


def message_subscriptions(workflow: BpmnWorkflow) -> list[tuple[str, str, dict]]:
    """(message, correlation key, {property: value}) of every waiting message catch event.

    The values are the ones SpiffWorkflow computed from the task's data (``dataPath`` /
    ``processVariableCorrelation`` expressions) when the event started waiting.
    """
    out = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        for definition in _message_definitions([task.task_spec]):
            for key in sorted(_key_names(definition)):
                values = (task.workflow.correlations or {}).get(key)
                if isinstance(values, dict) and values:
                    out.append((definition.name, key, dict(values)))
    return out


class CorrelationError(Exception):
    """A message payload from which a correlation property cannot be computed."""

    def __init__(self, prop: str, reason: str):
        super().__init__(f"Correlation property '{prop}' cannot be computed from the payload: "
                         f"{reason}")
        self.prop = prop


def payload_correlations(specs, name: str, payload: dict) -> dict:
    """{correlation key: {property: value}} of message ``name``, computed from ``payload``
    with the ``messagePath`` retrieval expressions of the catch events in ``specs``."""
    task_specs = [t for spec in specs for t in spec.task_specs.values()]
    env = script_engine().environment
    out: dict = {}
    for definition in _message_definitions(task_specs, name):
        for prop in definition.correlation_properties:
            try:
                value = env.evaluate(prop.retrieval_expression, dict(payload))
            except Exception as exc:  # noqa: BLE001 - a missing field is the sender's mistake
                raise CorrelationError(prop.name, str(exc)) from None
            for key in prop.correlation_keys:
                out.setdefault(key, {})[prop.name] = value
    return out


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


MISSED_SLOT_POLICIES = ("latest", "catch_up", "skip")


@dataclass
class TimerStart:
    bpmn_id: str
    kind: str  # date | duration | cycle
    value: str  # the evaluated ISO 8601 expression
    missed_slots: str | None = None  # the start event's "missedSlots" property, if any


def timer_start_events(spec) -> list[TimerStart]:
    """The timer start events of a process spec, with their expressions evaluated."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
        CycleTimerEventDefinition,
        DurationTimerEventDefinition,
        TimeDateEventDefinition,
    )

    kinds = ((CycleTimerEventDefinition, "cycle"), (DurationTimerEventDefinition, "duration"),
             (TimeDateEventDefinition, "date"))
    from SpiffWorkflow.bpmn.specs.control import StartEventSplit

    out = []
    # A process with several start events reaches them through one StartEventSplit.
    starts = [s for output in spec.start.outputs
              for s in (output.outputs if isinstance(output, StartEventSplit) else [output])]
    for task_spec in starts:
        definition = getattr(task_spec, "event_definition", None)
        kind = next((k for cls, k in kinds if isinstance(definition, cls)), None)
        if kind is None:
            continue
        value = script_engine().environment.evaluate(definition.expression, {})
        props = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
        out.append(TimerStart(task_spec.bpmn_id, kind, str(value),
                              props.get("missedSlots") or None))
    return out


def iso_duration(text: str) -> timedelta:
    """A positive ISO 8601 duration (``PT4H``, ``P2D``, ``P1DT30M``); ValueError otherwise."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    try:
        parsed = TimerEventDefinition.parse_iso_duration(str(text or "").strip())
        delta = TimerEventDefinition.get_timedelta_from_start(parsed, datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - the library raises a bare Exception
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT4H or P2D") from exc
    if delta <= timedelta(0):
        raise ValueError(f"'{text}' is not a positive duration")
    return delta


def _duration(text: str, start: datetime):
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    parsed = TimerEventDefinition.parse_iso_duration(text)
    return TimerEventDefinition.get_timedelta_from_start(parsed, start.replace(tzinfo=UTC))


def _utc(text: str) -> datetime:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    return TimerEventDefinition.get_datetime(text).astimezone(UTC).replace(tzinfo=None)


def _cycle(event: TimerStart, anchor: datetime):
    """(first slot, period, number of cycles or -1) of a cycle timer."""
    parts = event.value.strip().split("/")
    if len(parts) not in (2, 3) or not parts[0].upper().startswith("R"):
        raise ValueError(f"Not an ISO 8601 repeating interval: {event.value}")
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    period = _duration(parts[-1], anchor)
    if period.total_seconds() <= 0:
        raise ValueError(f"Timer cycle period must be positive: {event.value}")
    first = _utc(parts[1]) if len(parts) == 3 else anchor + period
    return first, period, cycles


def timer_slots(event: TimerStart, anchor: datetime, after: datetime | None,
                now: datetime, limit: int | None = None) -> list[datetime]:
    """The slots (naive UTC, oldest first) of a timer start event in (``after``, ``now``];
    with ``limit``, only the latest ``limit`` of them.

    ``anchor`` (the deployment time) starts durations and cycles without a start date:
    ``PT1H`` fires once an hour after deployment; ``R/PT1H`` every hour from then on;
    ``R3/2026-01-01T08:00:00+08:00/P1D`` three mornings from that date.
    """
    if event.kind in ("date", "duration"):
        when = _utc(event.value) if event.kind == "date" else \
            anchor + _duration(event.value, anchor)
        return [when] if when <= now and (after is None or when > after) else []
    first, period, cycles = _cycle(event, anchor)
    if now < first or cycles == 0:
        return []
    last = int((now - first) / period)
    if cycles > 0:
        last = min(last, cycles - 1)
    start = 0 if after is None or after < first else int((after - first) / period) + 1
    if limit is not None:
        start = max(start, last - limit + 1)
    return [first + i * period for i in range(start, last + 1)]


def timer_slot(event: TimerStart, anchor: datetime, now: datetime) -> datetime | None:
    """The latest slot (naive UTC) at or before ``now`` of a timer start event, or None."""
    found = timer_slots(event, anchor, None, now, limit=1)
    return found[-1] if found else None


def fire_start_timer(workflow: BpmnWorkflow, bpmn_id: str) -> None:
    """Let a new workflow pass its timer start event ``bpmn_id`` now (its slot has come)."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if task.task_spec.bpmn_id == bpmn_id:
            if not task.children:  # a cycle timer grows its branch only when it fires
                for output in task.task_spec.outputs:
                    child = task._add_child(output, TaskState.FUTURE)
                    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            task._set_internal_data(event_fired=True)
            task.task_spec._update(task)
