"""Platform task specs that change how SpiffWorkflow runs two kinds of BPMN task."""

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.defaults import NoneTask, ServiceTask


class PlatformWorkflow(BpmnWorkflow):
    """Raise SpiffWorkflow's task-iterator depth so long instances never stall silently."""

    def get_tasks(self, first_task=None, **kwargs):
        kwargs.setdefault("max_depth", 100_000)
        return super().get_tasks(first_task, **kwargs)


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
