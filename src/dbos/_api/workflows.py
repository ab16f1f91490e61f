"""Starting workflows, retrieving them, awaiting them; durable sleep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dbos._api.decorators import workflow_info_of
from dbos._api.state import launched_runtime, require_runtime
from dbos._error import DBOSNonExistentWorkflowError, DBOSWorkflowFunctionNotFoundError
from dbos._runtime.effects import run_sync
from dbos._runtime.handles import RuntimeHandle, WorkflowHandle
from dbos._runtime.introspection import WorkflowStatus
from dbos._runtime.operations import sleep_flow, status_flow, wait_first_flow
from dbos._runtime.workflows import get_result_flow, start_flow


def _check_workflow_id(workflow_id: object) -> str:
    if not isinstance(workflow_id, str) or not workflow_id:
        raise TypeError(f"workflow_id must be a non-empty string, got {workflow_id!r}")
    return workflow_id


class WorkflowsAPI:
    @classmethod
    def start_workflow(
        cls, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandle[Any]:
        """Start ``func`` as a workflow in the background and return a handle to it."""
        info = workflow_info_of(func)
        if info is None:
            raise DBOSWorkflowFunctionNotFoundError(
                "<NONE>", f"{getattr(func, '__qualname__', func)} is not a registered workflow"
            )
        rt = require_runtime(info.name)
        workflow_id = run_sync(start_flow(rt, info, args, kwargs))
        return RuntimeHandle(rt, workflow_id)

    @classmethod
    def retrieve_workflow(
        cls, workflow_id: str, existing_workflow: bool = True
    ) -> WorkflowHandle[Any]:
        """A handle to a workflow by ID; it must exist unless ``existing_workflow`` is False."""
        rt = launched_runtime("retrieve_workflow")
        _check_workflow_id(workflow_id)
        if existing_workflow and run_sync(status_flow(rt, workflow_id)) is None:
            raise DBOSNonExistentWorkflowError("target", workflow_id)
        return RuntimeHandle(rt, workflow_id)

    @classmethod
    def get_result(cls, workflow_id: str) -> Any:
        """Wait for a workflow to finish and return its result (or raise its error)."""
        rt = launched_runtime("get_result")
        return run_sync(get_result_flow(rt, _check_workflow_id(workflow_id), 1.0))

    @classmethod
    def get_workflow_status(cls, workflow_id: str) -> WorkflowStatus | None:
        """A workflow's status, or None if there is no such workflow."""
        rt = launched_runtime("get_workflow_status")
        return run_sync(status_flow(rt, _check_workflow_id(workflow_id)))

    @classmethod
    def wait_first(
        cls, handles: Sequence[WorkflowHandle[Any]], *, polling_interval_sec: float = 1.0
    ) -> WorkflowHandle[Any]:
        """The first of ``handles`` whose workflow has finished."""
        rt = launched_runtime("wait_first")
        by_id = {h.workflow_id: h for h in handles}
        chosen = run_sync(
            wait_first_flow(rt, [h.workflow_id for h in handles], polling_interval_sec)
        )
        return by_id[chosen]

    @classmethod
    def sleep(cls, seconds: float) -> None:
        """Sleep durably: a recovered workflow sleeps only for what remains."""
        if seconds <= 0:
            return
        run_sync(sleep_flow(require_runtime("sleep"), seconds))
