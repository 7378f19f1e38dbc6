"""Platform task specs that change how SpiffWorkflow runs two kinds of BPMN task."""

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.defaults import NoneTask, ServiceTask
from SpiffWorkflow.util.task import TaskState

_SCANNABLE = frozenset(("state", "manual"))


class PlatformWorkflow(BpmnWorkflow):
    """Task lookups that never stall on long instances and seldom walk the tree.

    - SpiffWorkflow's task iterator stops at depth 1000 (an instance returned ~250 times
      stalled silently); the platform raises that limit.
    - Most lookups ask for the tasks in one state (the engine's own loop asks for READY
      tasks after every step). Without subprocesses, the workflow's task dictionary holds
      exactly the tree's tasks: one match (or none), the usual answer, is read from it
      without walking the tree; several are looked up again by the iterator so that their
      order stays the engine's (depth first).
    """

    def get_tasks(self, first_task=None, **kwargs):
        if first_task is None and not self.subprocesses and kwargs.keys() <= _SCANNABLE:
            state = kwargs.get("state", TaskState.ANY_MASK)
            manual = kwargs.get("manual")
            found = [task for task in self.tasks.values() if task._state & state
                     and (manual is None or task.task_spec.manual == manual)]
            if len(found) <= 1:
                return found
        kwargs.setdefault("max_depth", 100_000)
        return super().get_tasks(first_task, **kwargs)

    def update_waiting_tasks(self):
        """Update the WAITING tasks, as SpiffWorkflow does after every completed task.

        SpiffWorkflow walks this workflow's tree for them (its iterator stops at depth
        1000); the task dictionary holds the same tasks. One (or none) is updated straight
        from it; several are left to SpiffWorkflow, in its order.
        """
        waiting = [task for task in self.tasks.values() if task._state & TaskState.WAITING]
        if len(waiting) > 1:
            return super().update_waiting_tasks()
        for task in waiting:
            task.task_spec._update(task)
        return None


class PlatformServiceTask(ServiceTask):
    """A service task that never calls out inside the engine loop.

    Running it leaves the task STARTED; the platform turns every STARTED service task into a
    ``job`` row, and the worker completes the task with the connector's result.
    """

    def _execute(self, task):
        return None


class PlatformNoneTask(NoneTask):
    """An untyped ``bpmn:task`` passes straight through, as in Camunda (not a manual task)."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False
