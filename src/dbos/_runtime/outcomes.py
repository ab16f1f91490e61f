"""Awaiting a workflow's outcome and turning a recorded outcome into a result or an error."""

from __future__ import annotations

from typing import Any

from dbos._core.status import ACTIVE, CANCELLED, DEAD_LETTERED, ERROR, SUCCESS
from dbos._error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSException,
)
from dbos._runtime.effects import Flow, Offload, Wait
from dbos._runtime.runtime import Runtime
from dbos._storage.records import WorkflowOutcome


def resolve(rt: Runtime, workflow_id: str, outcome: WorkflowOutcome) -> Any:
    """The result a terminal outcome stands for; raises for anything but SUCCESS."""
    status = outcome.status
    if status == SUCCESS:
        if outcome.output is None:
            return None
        return rt.codec.decode_value(outcome.output, outcome.serialization)
    if status == ERROR:
        raise rt.codec.decode_error(outcome.error or "", outcome.serialization)
    if status == CANCELLED:
        raise DBOSAwaitedWorkflowCancelledError(workflow_id)
    if status == DEAD_LETTERED:
        raise DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(workflow_id)
    raise DBOSException(f"Workflow {workflow_id} has no outcome yet (status {status})")


def wait_outcome(
    rt: Runtime, workflow_id: str, polling_interval_sec: float
) -> Flow[WorkflowOutcome]:
    """Wait until the workflow has a terminal outcome.

    A row that does not exist yet is waited for too: it may be about to be inserted by
    another process.

    Completions in this process wake the wait at once; the poll covers other processes.
    """
    event = rt.waiters.register(workflow_id)
    try:
        while True:
            outcome: WorkflowOutcome | None
            outcome = yield Offload(rt.db.workflows.get_outcome, (workflow_id,))
            if outcome is not None and outcome.status not in ACTIVE:
                return outcome
            if rt.stopping.is_set():
                raise DBOSException(f"DBOS was shut down while waiting for workflow {workflow_id}")
            yield Wait(event, polling_interval_sec)
            event.clear()
    finally:
        rt.waiters.unregister(workflow_id, event)
