"""What the diagram of a process version or instance shows: the BPMN XML and element states."""

import orjson
from SpiffWorkflow.util.task import TaskState

from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.services import load_workflow_of

# A later state wins when one element has several tasks (loops, resubmissions).
_RANK = {"completed": 1, "active": 2, "incident": 3}


def version_files(version: ProcessVersion) -> dict[str, str]:
    """Every file of a version's bundle: ``{filename: xml}`` (the process file and its DMNs)."""
    return orjson.loads(version.bundle)


def version_xml(version: ProcessVersion) -> str:
    """The XML of the file that defines the version's process."""
    return version_files(version)[version.filename]


def _mark(states: dict[str, str], element: str | None, state: str) -> None:
    if element and _RANK[state] > _RANK.get(states.get(element, ""), 0):
        states[element] = state


def element_states(instance: ProcessInstance, incident_elements=()) -> dict[str, str]:
    """``{bpmn element id: completed | active | incident}`` for one instance.

    ``completed``: the element ran; ``active``: it waits now (an open user task, a timer, a
    message, a queued service call); ``incident``: its service call failed for good (the
    elements in ``incident_elements``), or the engine stopped on it with an error.
    """
    workflow = load_workflow_of(instance)
    states: dict[str, str] = {}
    for task in workflow.get_tasks():
        element = getattr(task.task_spec, "bpmn_id", None)
        if task.state == TaskState.COMPLETED:
            _mark(states, element, "completed")
        elif task.state & (TaskState.READY | TaskState.STARTED | TaskState.WAITING):
            _mark(states, element, "active")
        elif task.state == TaskState.ERROR:
            _mark(states, element, "incident")
    for element in incident_elements:
        _mark(states, element, "incident")
    return states
