"""Management calls made from a workflow: each one a checkpointed step (spec 6.7).

Inside a workflow, listing, cancelling, forking and the rest run exactly once: their result
is recorded under a fixed step name and a replay returns it without asking the database
again. Outside a workflow (and inside a step) they simply run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbos._runtime import context
from dbos._runtime.effects import Flow, Offload
from dbos._runtime.registry import StepSpec
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import step_flow

CANCEL_WORKFLOW = "DBOS.cancelWorkflow"
RESUME_WORKFLOW = "DBOS.resumeWorkflow"
DELETE_WORKFLOW = "DBOS.deleteWorkflow"
FORK_WORKFLOW = "DBOS.forkWorkflow"
REWIND_WORKFLOW = "DBOS.rewindWorkflow"
UPDATE_ATTRIBUTES = "DBOS.updateWorkflowAttributes"
SET_WORKFLOW_DELAY = "DBOS.setWorkflowDelay"
LIST_WORKFLOWS = "DBOS.listWorkflows"
LIST_QUEUED_WORKFLOWS = "DBOS.listQueuedWorkflows"
LIST_WORKFLOW_STEPS = "DBOS.listWorkflowSteps"
CREATE_SCHEDULE = "DBOS.createSchedule"
LIST_SCHEDULES = "DBOS.listSchedules"
GET_SCHEDULE = "DBOS.getSchedule"
DELETE_SCHEDULE = "DBOS.deleteSchedule"
PAUSE_SCHEDULE = "DBOS.pauseSchedule"
RESUME_SCHEDULE = "DBOS.resumeSchedule"


def managed_flow(rt: Runtime, step_name: str, func: Callable[..., Any], *args: Any) -> Flow[Any]:
    """``func(*args)``, as the checkpointed step ``step_name`` when called from a workflow."""
    execution = context.current_execution()
    if execution is None:
        return (yield Offload(func, args))
    spec = StepSpec(step_name)
    return (yield from step_flow(rt, execution, spec, func, args, {}, io=True))


def fork_workflow_id() -> str | None:
    """The ID a fork gets: an ambient SetWorkflowID, else one derived from the calling step.

    From a workflow, the ID is ``<workflow>-<function ID of the fork step>``: should the
    process die after the fork committed but before its step was recorded, the replay forks
    under the same ID again, which returns the fork made the first time. Elsewhere (None)
    the service makes a fresh UUID.
    """
    explicit, _ = context.take_workflow_id()
    if explicit is not None:
        return explicit
    execution = context.current_execution()
    if execution is None:
        return None
    return f"{execution.workflow_id}-{execution.function_id + 1}"
