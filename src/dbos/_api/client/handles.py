"""A DBOSClient's workflow handles: awaiting one is never checkpointed, even from a workflow.

DBOS's own handles record get_result and get_status as steps when a workflow calls them,
so a replay sees the same answers; a client's calls are never part of a workflow's
history (spec 7.3), so its handles run outside any workflow context.
"""

from __future__ import annotations

from typing import TypeVar

from dbos._api.client.connection import outside_workflows, outside_workflows_async
from dbos._runtime.handles import RuntimeHandle, RuntimeHandleAsync
from dbos._runtime.introspection import WorkflowStatus

T = TypeVar("T")


class ClientHandle(RuntimeHandle[T]):
    """A handle to a workflow, from a DBOSClient."""

    @outside_workflows
    def get_result(self, *, polling_interval_sec: float = 1.0) -> T:
        """Wait for the workflow's outcome: its result, or its error raised."""
        return super().get_result(polling_interval_sec=polling_interval_sec)

    @outside_workflows
    def get_status(self) -> WorkflowStatus:
        """The workflow's current status."""
        return super().get_status()


class ClientHandleAsync(RuntimeHandleAsync[T]):
    """The async twin of ClientHandle."""

    @outside_workflows_async
    async def get_result(self, *, polling_interval_sec: float = 1.0) -> T:
        """Wait for the workflow's outcome: its result, or its error raised."""
        return await super().get_result(polling_interval_sec=polling_interval_sec)

    @outside_workflows_async
    async def get_status(self) -> WorkflowStatus:
        """The workflow's current status."""
        return await super().get_status()
