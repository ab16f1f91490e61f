"""Workflow handles: a workflow's ID, with ways to await its result and read its status."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from dbos._error import DBOSNonExistentWorkflowError
from dbos._runtime.effects import run_async, run_sync
from dbos._runtime.introspection import WorkflowStatus
from dbos._runtime.operations import status_flow
from dbos._runtime.runtime import Runtime
from dbos._runtime.workflows import get_result_flow

R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")


class WorkflowHandle(Protocol[R_co]):
    """A handle to a workflow that may still be running."""

    workflow_id: str

    def get_workflow_id(self) -> str:
        """The workflow's ID."""
        ...

    def get_result(self, *, polling_interval_sec: float = 1.0) -> R_co:
        """Wait for the workflow to finish and return its result (or raise its error)."""
        ...

    def get_status(self) -> WorkflowStatus:
        """The workflow's current status."""
        ...


class WorkflowHandleAsync(Protocol[R_co]):
    """The async twin of WorkflowHandle."""

    workflow_id: str

    def get_workflow_id(self) -> str:
        """The workflow's ID."""
        ...

    async def get_result(self, *, polling_interval_sec: float = 1.0) -> R_co:
        """Wait for the workflow to finish and return its result (or raise its error)."""
        ...

    async def get_status(self) -> WorkflowStatus:
        """The workflow's current status."""
        ...


class RuntimeHandle(Generic[T]):
    """A handle bound to this process's runtime.

    Inside a workflow, awaiting it and reading its status are checkpointed, so a replay sees
    the same answers.
    """

    def __init__(self, rt: Runtime, workflow_id: str) -> None:
        self._rt = rt
        self.workflow_id = workflow_id

    def get_workflow_id(self) -> str:
        return self.workflow_id

    def get_result(self, *, polling_interval_sec: float = 1.0) -> T:
        result: T = run_sync(get_result_flow(self._rt, self.workflow_id, polling_interval_sec))
        return result

    def get_status(self) -> WorkflowStatus:
        status = run_sync(status_flow(self._rt, self.workflow_id))
        if status is None:
            raise DBOSNonExistentWorkflowError("target", self.workflow_id)
        return status

    def __repr__(self) -> str:
        return f"WorkflowHandle({self.workflow_id!r})"


class RuntimeHandleAsync(Generic[T]):
    """The async twin of RuntimeHandle: waits hold no thread."""

    def __init__(self, rt: Runtime, workflow_id: str) -> None:
        self._rt = rt
        self.workflow_id = workflow_id

    def get_workflow_id(self) -> str:
        return self.workflow_id

    async def get_result(self, *, polling_interval_sec: float = 1.0) -> T:
        flow = get_result_flow(self._rt, self.workflow_id, polling_interval_sec)
        result: T = await run_async(flow)
        return result

    async def get_status(self) -> WorkflowStatus:
        status = await run_async(status_flow(self._rt, self.workflow_id))
        if status is None:
            raise DBOSNonExistentWorkflowError("target", self.workflow_id)
        return status

    def __repr__(self) -> str:
        return f"WorkflowHandleAsync({self.workflow_id!r})"
