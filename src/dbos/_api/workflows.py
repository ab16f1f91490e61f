"""Starting workflows, retrieving them, awaiting them; durable sleep; sync and async forms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dbos._api.arguments import check_workflow_id
from dbos._api.decorators import registered_workflow
from dbos._api.state import launched_runtime, refuse_in_event_loop, require_runtime
from dbos._error import DBOSNonExistentWorkflowError
from dbos._runtime import context
from dbos._runtime.background import start_flow
from dbos._runtime.effects import run_async, run_sync
from dbos._runtime.handles import (
    RuntimeHandle,
    RuntimeHandleAsync,
    WorkflowHandle,
    WorkflowHandleAsync,
)
from dbos._runtime.introspection import WorkflowStatus
from dbos._runtime.operations import asyncio_wait_flow, sleep_flow, status_flow, wait_first_flow
from dbos._runtime.workflows import get_result_flow


class WorkflowsAPI:
    @classmethod
    def start_workflow(
        cls, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandle[Any]:
        """Start ``func`` as a workflow in the background and return a handle to it.

        Deliberately allowed inside a running event loop: it only inserts the row.
        """
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        workflow_id = run_sync(start_flow(rt, info, args, kwargs))
        return RuntimeHandle(rt, workflow_id)

    @classmethod
    async def start_workflow_async(
        cls, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandleAsync[Any]:
        """Start ``func`` as a workflow; an async one runs as a task on this loop."""
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        flow = start_flow(rt, info, args, kwargs, on_running_loop=True)
        workflow_id = await run_async(flow)
        return RuntimeHandleAsync(rt, workflow_id)

    @classmethod
    def retrieve_workflow(
        cls, workflow_id: str, existing_workflow: bool = True
    ) -> WorkflowHandle[Any]:
        """A handle to a workflow by ID; it must exist unless ``existing_workflow`` is False."""
        refuse_in_event_loop("retrieve_workflow")
        rt = launched_runtime("retrieve_workflow")
        check_workflow_id(workflow_id)
        if existing_workflow and run_sync(status_flow(rt, workflow_id)) is None:
            raise DBOSNonExistentWorkflowError("target", workflow_id)
        return RuntimeHandle(rt, workflow_id)

    @classmethod
    async def retrieve_workflow_async(
        cls, workflow_id: str, existing_workflow: bool = True
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of retrieve_workflow."""
        rt = launched_runtime("retrieve_workflow_async")
        check_workflow_id(workflow_id)
        if existing_workflow and await run_async(status_flow(rt, workflow_id)) is None:
            raise DBOSNonExistentWorkflowError("target", workflow_id)
        return RuntimeHandleAsync(rt, workflow_id)

    @classmethod
    def get_result(cls, workflow_id: str) -> Any:
        """Wait for a workflow to finish and return its result (or raise its error)."""
        refuse_in_event_loop("get_result")
        rt = launched_runtime("get_result")
        return run_sync(get_result_flow(rt, check_workflow_id(workflow_id), 1.0))

    @classmethod
    async def get_result_async(cls, workflow_id: str) -> Any:
        """The async twin of get_result."""
        rt = launched_runtime("get_result_async")
        return await run_async(get_result_flow(rt, check_workflow_id(workflow_id), 1.0))

    @classmethod
    def get_workflow_status(cls, workflow_id: str) -> WorkflowStatus | None:
        """A workflow's status, or None if there is no such workflow."""
        refuse_in_event_loop("get_workflow_status")
        rt = launched_runtime("get_workflow_status")
        return run_sync(status_flow(rt, check_workflow_id(workflow_id)))

    @classmethod
    async def get_workflow_status_async(cls, workflow_id: str) -> WorkflowStatus | None:
        """The async twin of get_workflow_status."""
        rt = launched_runtime("get_workflow_status_async")
        return await run_async(status_flow(rt, check_workflow_id(workflow_id)))

    @classmethod
    def wait_first(
        cls, handles: Sequence[WorkflowHandle[Any]], *, polling_interval_sec: float = 1.0
    ) -> WorkflowHandle[Any]:
        """The first of ``handles`` whose workflow has finished."""
        refuse_in_event_loop("wait_first")
        rt = launched_runtime("wait_first")
        by_id = {h.workflow_id: h for h in handles}
        ids = [h.workflow_id for h in handles]
        return by_id[run_sync(wait_first_flow(rt, ids, polling_interval_sec))]

    @classmethod
    async def wait_first_async(
        cls, handles: Sequence[WorkflowHandleAsync[Any]], *, polling_interval_sec: float = 1.0
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of wait_first."""
        rt = launched_runtime("wait_first_async")
        by_id = {h.workflow_id: h for h in handles}
        ids = [h.workflow_id for h in handles]
        return by_id[await run_async(wait_first_flow(rt, ids, polling_interval_sec))]

    @classmethod
    def sleep(cls, seconds: float) -> None:
        """Sleep durably: a recovered workflow sleeps only for what remains."""
        if seconds <= 0:
            return
        refuse_in_event_loop("sleep")
        run_sync(sleep_flow(require_runtime("sleep"), seconds))

    @classmethod
    async def sleep_async(cls, seconds: float) -> None:
        """The async twin of sleep; the wait holds no thread."""
        if seconds <= 0:
            return
        await run_async(sleep_flow(require_runtime("sleep_async"), seconds))

    @classmethod
    async def asyncio_wait(
        cls,
        fs: Iterable[Any],
        *,
        timeout: float | None = None,
        return_when: str = asyncio.ALL_COMPLETED,
    ) -> tuple[set[Any], set[Any]]:
        """A durable asyncio.wait: a replay returns the same done/pending split."""
        futures = [asyncio.ensure_future(f) for f in fs]
        if context.current_execution() is None:
            done, pending = await asyncio.wait(futures, timeout=timeout, return_when=return_when)
            return done, pending
        rt = require_runtime("asyncio_wait")
        split: tuple[set[Any], set[Any]] = await run_async(
            asyncio_wait_flow(rt, futures, timeout, return_when)
        )
        return split
