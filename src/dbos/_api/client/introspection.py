"""DBOSClient's listings (workflows, queued workflows, steps) and application versions.

Each is the ManagementService's call, scoped to the client's application_name (its own
rows and unclaimed ones) or, for a client without one, to every application (spec 13.8).
"""

from __future__ import annotations

from functools import partial

from dbos._api.arguments import check_workflow_id
from dbos._api.client.connection import ClientConnection
from dbos._api.parameter_lists import (
    Filters,
    list_queued_workflows_parameters,
    list_workflows_parameters,
    takes,
)
from dbos._runtime.introspection import StepInfo, VersionInfo, WorkflowStatus


class ClientIntrospection(ClientConnection):
    """Reading workflows, their steps, and application versions."""

    @takes(list_workflows_parameters)
    def list_workflows(self, filters: Filters) -> list[WorkflowStatus]:
        """Workflows matching every given filter, oldest first (``sort_desc`` for newest).

        The same filters as DBOS.list_workflows: a filter given a list matches any of its
        values; times are ISO-8601 strings. Bad filters raise DBOSException.
        """
        return self._management().list_workflows(filters)

    @takes(list_workflows_parameters)
    async def list_workflows_async(self, filters: Filters) -> list[WorkflowStatus]:
        """The async twin of list_workflows."""
        return await self._call_async(self._management().list_workflows, filters)

    @takes(list_queued_workflows_parameters)
    def list_queued_workflows(self, filters: Filters) -> list[WorkflowStatus]:
        """Workflows on a queue; without a status filter, only those not yet finished."""
        return self._management().list_workflows(filters)

    @takes(list_queued_workflows_parameters)
    async def list_queued_workflows_async(self, filters: Filters) -> list[WorkflowStatus]:
        """The async twin of list_queued_workflows."""
        return await self._call_async(self._management().list_workflows, filters)

    def list_workflow_steps(
        self,
        workflow_id: str,
        *,
        load_output: bool = True,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[StepInfo]:
        """The operations a workflow recorded, by function ID (empty for an unknown ID)."""
        steps = self._management().list_steps
        return steps(
            check_workflow_id(workflow_id), load_output=load_output, limit=limit, offset=offset
        )

    async def list_workflow_steps_async(
        self,
        workflow_id: str,
        *,
        load_output: bool = True,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[StepInfo]:
        """The async twin of list_workflow_steps."""
        steps = partial(
            self._management().list_steps, load_output=load_output, limit=limit, offset=offset
        )
        return await self._call_async(steps, check_workflow_id(workflow_id))

    def list_application_versions(self) -> list[VersionInfo]:
        """Application versions that ran against this database, newest (latest) first."""
        return self._management().list_versions()

    async def list_application_versions_async(self) -> list[VersionInfo]:
        """The async twin of list_application_versions."""
        return await self._call_async(self._management().list_versions)

    def get_latest_application_version(self) -> VersionInfo:
        """The latest application version; DBOSException if none is registered."""
        return self._management().latest_version()

    async def get_latest_application_version_async(self) -> VersionInfo:
        """The async twin of get_latest_application_version."""
        return await self._call_async(self._management().latest_version)

    def set_latest_application_version(
        self, version_name: str, *, application_name: str | None = None
    ) -> None:
        """Make a registered version the latest, so version-less queued work goes to it.

        ``application_name`` defaults to the client's; DBOSException for an unknown version.
        """
        service = self._management()
        service.set_latest_version(version_name, application_name=application_name)

    async def set_latest_application_version_async(
        self, version_name: str, *, application_name: str | None = None
    ) -> None:
        """The async twin of set_latest_application_version."""
        set_latest = partial(
            self._management().set_latest_version, application_name=application_name
        )
        await self._call_async(set_latest, version_name)
