"""What the diagram of a process version or instance shows: the BPMN XML and element states.

An instance's diagram is the diagram of its own process; the processes its call activities
called are diagrams of their own (one per called run, a *child*), reached by the id of the
call activity's engine task. Embedded sub-processes belong to the diagram that draws them.
"""

from dataclasses import dataclass, field
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.util.task import TaskState

from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.parsing import parse_xml
from app.engine.services import load_workflow_of

# A later state wins when one element has several tasks (loops, resubmissions).
_RANK = {"completed": 1, "active": 2, "incident": 3}
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"


def version_files(version: ProcessVersion) -> dict[str, str]:
    """Every file of a version's bundle: ``{filename: xml}`` (the process file and its DMNs)."""
    return orjson.loads(version.bundle)


def version_xml(version: ProcessVersion) -> str:
    """The XML of the file that defines the version's process."""
    return version_files(version)[version.filename]


def _mark(states: dict[str, str], element: str | None, state: str) -> None:
    if element and _RANK[state] > _RANK.get(states.get(element, ""), 0):
        states[element] = state


def _task_state(task) -> str | None:
    if task.state == TaskState.COMPLETED:
        return "completed"
    if task.state & (TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        return "active"
    if task.state == TaskState.ERROR:
        return "incident"
    return None


@dataclass
class DiagramRun:
    """One drawn run: the top workflow or one called process, with its element states."""

    process_key: str
    elements: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[dict]] = field(default_factory=dict)  # call activity → runs
    parent: dict | None = None  # {"subprocess_id": …, "element": …} for a called run
    diagram_id: str | None = None


def _own_tasks(workflow, top) -> list:
    """The tasks drawn on ``workflow``'s diagram: its own and its embedded sub-processes'."""
    pending, tasks = [workflow], []
    while pending:
        current = pending.pop()
        for task in current.get_tasks(skip_subprocesses=True):
            tasks.append(task)
            sub = top.subprocesses.get(task.id)
            if sub is not None and not isinstance(task.task_spec, CallActivity):
                pending.append(sub)
    return tasks


def _run_has_incident(workflow, top, incident_tasks: set[str]) -> bool:
    for task in _own_tasks(workflow, top):
        if str(task.id) in incident_tasks or task.state == TaskState.ERROR:
            return True
        sub = top.subprocesses.get(task.id)
        if sub is not None and isinstance(task.task_spec, CallActivity) \
                and _run_has_incident(sub, top, incident_tasks):
            return True
    return False


def _describe(workflow, top, process_key: str, incident_tasks: set[str],
              incident_elements=()) -> DiagramRun:
    run = DiagramRun(process_key)
    for task in _own_tasks(workflow, top):
        element = getattr(task.task_spec, "bpmn_id", None)
        state = _task_state(task)
        if str(task.id) in incident_tasks:
            state = "incident"
        if state:
            _mark(run.elements, element, state)
        sub = top.subprocesses.get(task.id)
        if sub is None or not isinstance(task.task_spec, CallActivity):
            continue
        child_state = "completed" if sub.completed else "active"
        if _run_has_incident(sub, top, incident_tasks):
            child_state = "incident"
            _mark(run.elements, element, "incident")
        run.children.setdefault(element, []).append(
            {"id": str(task.id), "process_key": task.task_spec.spec, "state": child_state})
    for element in incident_elements:
        _mark(run.elements, element, "incident")
    return run


def instance_run(instance: ProcessInstance, subprocess_id: str | None = None,
                 incident_tasks=(), incident_elements=()) -> DiagramRun | None:
    """The instance's diagram run, or the run of one called process (None: no such child).

    ``incident_tasks`` are engine task ids whose service call failed for good: they are
    marked on the run that holds them. ``incident_elements`` (bpmn ids without a task id)
    are marked on the instance's own diagram only.
    """
    workflow = load_workflow_of(instance)
    failed = {str(t) for t in incident_tasks if t}
    if subprocess_id is None:
        return _describe(workflow, workflow, workflow.spec.name, failed, incident_elements)
    try:
        key = UUID(subprocess_id)
    except ValueError:
        return None
    sub = workflow.subprocesses.get(key)
    caller = workflow.get_task_from_id(key) if sub is not None else None
    if caller is None or not isinstance(caller.task_spec, CallActivity):
        return None
    run = _describe(sub, workflow, caller.task_spec.spec, failed)
    parent_workflow = caller.workflow
    while parent_workflow is not workflow:  # an embedded sub-process: climb to its diagram
        holder = workflow.get_task_from_id(parent_workflow.parent_task_id)
        if isinstance(holder.task_spec, CallActivity):
            break
        parent_workflow = holder.workflow
    parent_id = None if parent_workflow is workflow else str(parent_workflow.parent_task_id)
    run.parent = {"subprocess_id": parent_id, "element": caller.task_spec.bpmn_id}
    return run


def process_file_xml(version: ProcessVersion, process_key: str) -> tuple[str, str | None]:
    """The XML of the bundle file defining ``process_key`` and the id of the diagram drawing it."""
    files = version_files(version)
    for name, text in files.items():
        if not name.endswith(".bpmn"):
            continue
        root = parse_xml(text.encode(), name).getroot()
        if not root.xpath("//b:process[@id=$key]", namespaces={"b": BPMN_NS}, key=process_key):
            continue
        collaborations = root.xpath("//b:collaboration[b:participant[@processRef=$key]]/@id",
                                    namespaces={"b": BPMN_NS}, key=process_key)
        drawn = {process_key, *collaborations}
        diagram = next((d.get("id") for d in root.iter(f"{{{DI_NS}}}BPMNDiagram")
                        for plane in d.iter(f"{{{DI_NS}}}BPMNPlane")
                        if plane.get("bpmnElement") in drawn), None)
        return text, diagram
    return version_xml(version), None
