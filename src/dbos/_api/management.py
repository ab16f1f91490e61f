"""Cancel, resume, delete, fork, rewind, attributes, garbage collection: sync and async forms.

Each method delegates to the runtime's ManagementService. Called from a workflow, the
per-workflow calls are checkpointed steps (spec 6.7); garbage collection and global
timeouts are not (they act on the whole database, not on named workflows).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from dbos._api.arguments import check_workflow_id, check_workflow_ids
from dbos._api.parameter_lists import ForkCall, fork_workflow_parameters, takes
from dbos._api.state import launched_runtime, refuse_in_event_loop
from dbos._runtime.effects import Flow, run_async, run_sync
from dbos._runtime.handles import (
    RuntimeHandle,
    RuntimeHandleAsync,
    WorkflowHandle,
    WorkflowHandleAsync,
)
from dbos._runtime.managed_calls import (
    CANCEL_WORKFLOW,
    DELETE_WORKFLOW,
    FORK_WORKFLOW,
    RESUME_WORKFLOW,
    REWIND_WORKFLOW,
    UPDATE_ATTRIBUTES,
    fork_workflow_id,
    managed_flow,
)
from dbos._runtime.runtime import Runtime


def _cancel(rt: Runtime, ids: list[str], cancel_children: bool) -> Flow[Any]:
    func = partial(rt.management.cancel, cancel_children=cancel_children)
    return managed_flow(rt, CANCEL_WORKFLOW, func, ids)


def _resume(rt: Runtime, ids: list[str], queue_name: str | None) -> Flow[Any]:
    func = partial(rt.management.resume, queue_name=queue_name)
    return managed_flow(rt, RESUME_WORKFLOW, func, ids)


def _delete(rt: Runtime, ids: list[str], delete_children: bool) -> Flow[Any]:
    func = partial(rt.management.delete, delete_children=delete_children)
    return managed_flow(rt, DELETE_WORKFLOW, func, ids)


def _fork(rt: Runtime, call: ForkCall) -> Flow[Any]:
    # Taken before the step: the ambient SetWorkflowID belongs to this call, even on replay.
    func = partial(rt.management.fork, fork_id=fork_workflow_id())
    return managed_flow(rt, FORK_WORKFLOW, func, call.workflow_id, call.start_step, call.options)


def _rewind(rt: Runtime, workflow_id: str, options: dict[str, Any]) -> Flow[Any]:
    func = partial(rt.management.rewind, **options)
    return managed_flow(rt, REWIND_WORKFLOW, func, check_workflow_id(workflow_id))


def _update_attributes(
    rt: Runtime, workflow_id: str, attributes: dict[str, Any] | None, merge: bool
) -> Flow[Any]:
    func = partial(rt.management.update_attributes, merge=merge)
    return managed_flow(rt, UPDATE_ATTRIBUTES, func, check_workflow_id(workflow_id), attributes)


class ManagementAPI:
    @classmethod
    def cancel_workflow(cls, workflow_id: str, *, cancel_children: bool = False) -> None:
        """Cancel a workflow (and its descendants with ``cancel_children``).

        A finished workflow is left as it is, and an unknown ID is ignored. A run stops at
        its next durable operation; whoever awaits it gets DBOSAwaitedWorkflowCancelledError.
        """
        refuse_in_event_loop("cancel_workflow")
        rt = launched_runtime("cancel_workflow")
        run_sync(_cancel(rt, [check_workflow_id(workflow_id)], cancel_children))

    @classmethod
    async def cancel_workflow_async(
        cls, workflow_id: str, *, cancel_children: bool = False
    ) -> None:
        """The async twin of cancel_workflow."""
        rt = launched_runtime("cancel_workflow_async")
        await run_async(_cancel(rt, [check_workflow_id(workflow_id)], cancel_children))

    @classmethod
    def cancel_workflows(cls, workflow_ids: list[str], *, cancel_children: bool = False) -> None:
        """Cancel several workflows, in one transaction."""
        refuse_in_event_loop("cancel_workflows")
        rt = launched_runtime("cancel_workflows")
        run_sync(_cancel(rt, check_workflow_ids(workflow_ids), cancel_children))

    @classmethod
    async def cancel_workflows_async(
        cls, workflow_ids: list[str], *, cancel_children: bool = False
    ) -> None:
        """The async twin of cancel_workflows."""
        rt = launched_runtime("cancel_workflows_async")
        await run_async(_cancel(rt, check_workflow_ids(workflow_ids), cancel_children))

    @classmethod
    def resume_workflow(
        cls, workflow_id: str, *, queue_name: str | None = None
    ) -> WorkflowHandle[Any]:
        """Continue a cancelled, dead-lettered or interrupted workflow from its last step.

        It goes on ``queue_name`` (default: the internal queue, which runs it at once). A
        finished workflow is left as it is: the handle returns its recorded result.
        """
        refuse_in_event_loop("resume_workflow")
        rt = launched_runtime("resume_workflow")
        run_sync(_resume(rt, [check_workflow_id(workflow_id)], queue_name))
        return RuntimeHandle(rt, workflow_id)

    @classmethod
    async def resume_workflow_async(
        cls, workflow_id: str, *, queue_name: str | None = None
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of resume_workflow."""
        rt = launched_runtime("resume_workflow_async")
        await run_async(_resume(rt, [check_workflow_id(workflow_id)], queue_name))
        return RuntimeHandleAsync(rt, workflow_id)

    @classmethod
    def resume_workflows(
        cls, workflow_ids: list[str], *, queue_name: str | None = None
    ) -> list[WorkflowHandle[Any]]:
        """Resume several workflows in one transaction; every ID must exist."""
        refuse_in_event_loop("resume_workflows")
        rt = launched_runtime("resume_workflows")
        ids = check_workflow_ids(workflow_ids)
        run_sync(_resume(rt, ids, queue_name))
        return [RuntimeHandle(rt, w) for w in ids]

    @classmethod
    async def resume_workflows_async(
        cls, workflow_ids: list[str], *, queue_name: str | None = None
    ) -> list[WorkflowHandleAsync[Any]]:
        """The async twin of resume_workflows."""
        rt = launched_runtime("resume_workflows_async")
        ids = check_workflow_ids(workflow_ids)
        await run_async(_resume(rt, ids, queue_name))
        return [RuntimeHandleAsync(rt, w) for w in ids]

    @classmethod
    def delete_workflow(cls, workflow_id: str, *, delete_children: bool = False) -> None:
        """Delete a workflow and everything recorded for it (descendants too, if asked)."""
        refuse_in_event_loop("delete_workflow")
        rt = launched_runtime("delete_workflow")
        run_sync(_delete(rt, [check_workflow_id(workflow_id)], delete_children))

    @classmethod
    async def delete_workflow_async(
        cls, workflow_id: str, *, delete_children: bool = False
    ) -> None:
        """The async twin of delete_workflow."""
        rt = launched_runtime("delete_workflow_async")
        await run_async(_delete(rt, [check_workflow_id(workflow_id)], delete_children))

    @classmethod
    def delete_workflows(cls, workflow_ids: list[str], *, delete_children: bool = False) -> None:
        """Delete several workflows, in one transaction."""
        refuse_in_event_loop("delete_workflows")
        rt = launched_runtime("delete_workflows")
        run_sync(_delete(rt, check_workflow_ids(workflow_ids), delete_children))

    @classmethod
    async def delete_workflows_async(
        cls, workflow_ids: list[str], *, delete_children: bool = False
    ) -> None:
        """The async twin of delete_workflows."""
        rt = launched_runtime("delete_workflows_async")
        await run_async(_delete(rt, check_workflow_ids(workflow_ids), delete_children))

    @classmethod
    @takes(fork_workflow_parameters)
    def fork_workflow(cls, call: ForkCall) -> WorkflowHandle[Any]:
        """Start a new workflow that replays this one's steps before ``start_step``.

        The fork takes its ID from an enclosing SetWorkflowID, else a new one; it runs on
        ``queue_name`` (default: the internal queue) at ``application_version`` (default:
        whichever version is latest when it is dequeued).
        """
        refuse_in_event_loop("fork_workflow")
        rt = launched_runtime("fork_workflow")
        return RuntimeHandle(rt, run_sync(_fork(rt, call)))

    @classmethod
    @takes(fork_workflow_parameters)
    async def fork_workflow_async(cls, call: ForkCall) -> WorkflowHandleAsync[Any]:
        """The async twin of fork_workflow."""
        rt = launched_runtime("fork_workflow_async")
        return RuntimeHandleAsync(rt, await run_async(_fork(rt, call)))

    @classmethod
    def rewind_workflow(
        cls,
        workflow_id: str,
        *,
        start_step: int | None = None,
        application_version: str | None = None,
        queue_name: str | None = None,
        queue_partition_key: str | None = None,
    ) -> WorkflowHandle[Any]:
        """Run a finished workflow again from ``start_step`` (default 1), under its own ID.

        The steps from ``start_step`` on are forgotten; the earlier ones replay. The workflow
        must not be active (cancel it first).
        """
        options = _options(locals())
        refuse_in_event_loop("rewind_workflow")
        rt = launched_runtime("rewind_workflow")
        run_sync(_rewind(rt, workflow_id, options))
        return RuntimeHandle(rt, workflow_id)

    @classmethod
    async def rewind_workflow_async(
        cls,
        workflow_id: str,
        *,
        start_step: int | None = None,
        application_version: str | None = None,
        queue_name: str | None = None,
        queue_partition_key: str | None = None,
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of rewind_workflow."""
        options = _options(locals())
        rt = launched_runtime("rewind_workflow_async")
        await run_async(_rewind(rt, workflow_id, options))
        return RuntimeHandleAsync(rt, workflow_id)

    @classmethod
    def update_workflow_attributes(
        cls, workflow_id: str, attributes: dict[str, Any] | None, *, merge: bool = False
    ) -> None:
        """Replace a workflow's attributes (None clears them); ``merge`` updates keys."""
        refuse_in_event_loop("update_workflow_attributes")
        rt = launched_runtime("update_workflow_attributes")
        run_sync(_update_attributes(rt, workflow_id, attributes, merge))

    @classmethod
    async def update_workflow_attributes_async(
        cls, workflow_id: str, attributes: dict[str, Any] | None, *, merge: bool = False
    ) -> None:
        """The async twin of update_workflow_attributes."""
        rt = launched_runtime("update_workflow_attributes_async")
        await run_async(_update_attributes(rt, workflow_id, attributes, merge))

    @classmethod
    def garbage_collect(
        cls,
        *,
        cutoff_epoch_timestamp_ms: int | None = None,
        rows_threshold: int | None = None,
        batch_size: int | None = None,
    ) -> int:
        """Delete finished workflows created before the cutoff, or beyond the newest N.

        Active workflows are never deleted. Works in batches of ``batch_size`` (default
        10,000; 1,000 on SQLite), one transaction each. Returns how many were deleted.
        """
        refuse_in_event_loop("garbage_collect")
        rt = launched_runtime("garbage_collect")
        return rt.management.garbage_collect(
            cutoff_epoch_timestamp_ms=cutoff_epoch_timestamp_ms,
            rows_threshold=rows_threshold,
            batch_size=batch_size,
        )

    @classmethod
    async def garbage_collect_async(
        cls,
        *,
        cutoff_epoch_timestamp_ms: int | None = None,
        rows_threshold: int | None = None,
        batch_size: int | None = None,
    ) -> int:
        """The async twin of garbage_collect."""
        rt = launched_runtime("garbage_collect_async")
        # A thread of its own: a long run of batches must not hold a storage thread, which
        # is for short calls from running workflows.
        return await asyncio.to_thread(
            rt.management.garbage_collect,
            cutoff_epoch_timestamp_ms=cutoff_epoch_timestamp_ms,
            rows_threshold=rows_threshold,
            batch_size=batch_size,
        )

    @classmethod
    def global_timeout(cls, cutoff_epoch_timestamp_ms: int) -> int:
        """Cancel every active workflow created at or before the cutoff; returns how many."""
        refuse_in_event_loop("global_timeout")
        return launched_runtime("global_timeout").management.global_timeout(
            cutoff_epoch_timestamp_ms
        )

    @classmethod
    async def global_timeout_async(cls, cutoff_epoch_timestamp_ms: int) -> int:
        """The async twin of global_timeout."""
        rt = launched_runtime("global_timeout_async")
        # Batches of cancels, possibly many: a thread of its own, as for garbage_collect.
        return await asyncio.to_thread(rt.management.global_timeout, cutoff_epoch_timestamp_ms)


def _options(arguments: dict[str, Any]) -> dict[str, Any]:
    """A method's keyword options (its ``locals()`` on entry), without ``cls`` and the ID."""
    return {k: v for k, v in arguments.items() if k not in ("cls", "workflow_id")}
