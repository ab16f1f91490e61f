"""Listing workflows, queued workflows and steps; application versions. Sync and async forms.

Each method delegates to the runtime's ManagementService; inside a workflow the list calls
are checkpointed steps (spec 6.7), while the version calls are not.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from dbos._api.arguments import check_workflow_id
from dbos._api.parameter_lists import (
    Filters,
    list_queued_workflows_parameters,
    list_workflows_parameters,
    takes,
)
from dbos._api.state import launched_runtime, refuse_in_event_loop
from dbos._runtime.effects import Flow, run_async, run_sync
from dbos._runtime.introspection import StepInfo, VersionInfo, WorkflowStatus
from dbos._runtime.managed_calls import (
    LIST_QUEUED_WORKFLOWS,
    LIST_WORKFLOW_STEPS,
    LIST_WORKFLOWS,
    managed_flow,
)
from dbos._runtime.runtime import Runtime


def _list(rt: Runtime, step_name: str, filters: dict[str, Any]) -> Flow[list[WorkflowStatus]]:
    return managed_flow(rt, step_name, rt.management.list_workflows, filters)


def _steps(
    rt: Runtime, workflow_id: str, load_output: bool, limit: int | None, offset: int | None
) -> Flow[list[StepInfo]]:
    func = partial(rt.management.list_steps, load_output=load_output, limit=limit, offset=offset)
    return managed_flow(rt, LIST_WORKFLOW_STEPS, func, check_workflow_id(workflow_id))


class IntrospectionAPI:
    @classmethod
    @takes(list_workflows_parameters)
    def list_workflows(cls, filters: Filters) -> list[WorkflowStatus]:
        """Workflows matching every given filter, oldest first (``sort_desc`` for newest).

        A filter given a list matches any of its values. Times are ISO-8601 strings.
        """
        refuse_in_event_loop("list_workflows")
        rt = launched_runtime("list_workflows")
        return run_sync(_list(rt, LIST_WORKFLOWS, filters))

    @classmethod
    @takes(list_workflows_parameters)
    async def list_workflows_async(cls, filters: Filters) -> list[WorkflowStatus]:
        """The async twin of list_workflows."""
        rt = launched_runtime("list_workflows_async")
        result: list[WorkflowStatus] = await run_async(_list(rt, LIST_WORKFLOWS, filters))
        return result

    @classmethod
    @takes(list_queued_workflows_parameters)
    def list_queued_workflows(cls, filters: Filters) -> list[WorkflowStatus]:
        """Workflows on a queue; without a status filter, only those not yet finished."""
        refuse_in_event_loop("list_queued_workflows")
        rt = launched_runtime("list_queued_workflows")
        return run_sync(_list(rt, LIST_QUEUED_WORKFLOWS, filters))

    @classmethod
    @takes(list_queued_workflows_parameters)
    async def list_queued_workflows_async(cls, filters: Filters) -> list[WorkflowStatus]:
        """The async twin of list_queued_workflows."""
        rt = launched_runtime("list_queued_workflows_async")
        result: list[WorkflowStatus] = await run_async(_list(rt, LIST_QUEUED_WORKFLOWS, filters))
        return result

    @classmethod
    def list_workflow_steps(
        cls,
        workflow_id: str,
        *,
        load_output: bool = True,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[StepInfo]:
        """The operations a workflow recorded, by function ID (empty for an unknown ID)."""
        refuse_in_event_loop("list_workflow_steps")
        rt = launched_runtime("list_workflow_steps")
        return run_sync(_steps(rt, workflow_id, load_output, limit, offset))

    @classmethod
    async def list_workflow_steps_async(
        cls,
        workflow_id: str,
        *,
        load_output: bool = True,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[StepInfo]:
        """The async twin of list_workflow_steps."""
        rt = launched_runtime("list_workflow_steps_async")
        steps: list[StepInfo] = await run_async(_steps(rt, workflow_id, load_output, limit, offset))
        return steps

    @classmethod
    def list_application_versions(cls) -> list[VersionInfo]:
        """Application versions that ran against this database, newest (latest) first."""
        refuse_in_event_loop("list_application_versions")
        return launched_runtime("list_application_versions").management.list_versions()

    @classmethod
    async def list_application_versions_async(cls) -> list[VersionInfo]:
        """The async twin of list_application_versions."""
        rt = launched_runtime("list_application_versions_async")
        versions: list[VersionInfo] = await rt.storage_threads.call(rt.management.list_versions)
        return versions

    @classmethod
    def get_latest_application_version(cls) -> VersionInfo:
        """The latest application version; DBOSException if none is registered."""
        refuse_in_event_loop("get_latest_application_version")
        return launched_runtime("get_latest_application_version").management.latest_version()

    @classmethod
    async def get_latest_application_version_async(cls) -> VersionInfo:
        """The async twin of get_latest_application_version."""
        rt = launched_runtime("get_latest_application_version_async")
        latest: VersionInfo = await rt.storage_threads.call(rt.management.latest_version)
        return latest

    @classmethod
    def set_latest_application_version(
        cls, version_name: str, *, application_name: str | None = None
    ) -> None:
        """Make a registered version the latest, so version-less queued work goes to it."""
        refuse_in_event_loop("set_latest_application_version")
        rt = launched_runtime("set_latest_application_version")
        rt.management.set_latest_version(version_name, application_name=application_name)

    @classmethod
    async def set_latest_application_version_async(
        cls, version_name: str, *, application_name: str | None = None
    ) -> None:
        """The async twin of set_latest_application_version."""
        rt = launched_runtime("set_latest_application_version_async")
        func = partial(rt.management.set_latest_version, application_name=application_name)
        await rt.storage_threads.call(func, version_name)
