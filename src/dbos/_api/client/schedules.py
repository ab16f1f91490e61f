"""DBOSClient's schedules: the same calls as DBOS's, naming workflows instead of passing them.

A client has none of the workflows' code, so ``workflow_name`` and ``workflow_class_name``
are stored as given, and the queue is not checked (a queue the workers only declare is
invisible from here). Schedules belong to ``application_name``, else to the client's
application, else to nobody (unclaimed: every application fires them). Like every client
call, none is ever checkpointed, even from inside a workflow.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from dbos._api.client.connection import ClientConnection
from dbos._api.client.handles import ClientHandle, ClientHandleAsync
from dbos._api.schedules import ClientScheduleInput, StringFilter, locals_of, unknown_fields
from dbos._core.schedule_rules import (
    ACTIVE,
    PAUSED,
    ScheduleDefinition,
    build_schedule_filter,
    check_required_fields,
)
from dbos._error import DBOSException
from dbos._runtime.schedule_firing import backfill_schedule, trigger_schedule
from dbos._runtime.schedules import (
    WorkflowSchedule,
    apply_schedules,
    build_definition,
    checked_schedule,
    create_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    set_schedule_status,
)

CLIENT_SCHEDULE_INPUT_REQUIRED = ("schedule_name", "workflow_name", "schedule")


class ClientSchedules(ClientConnection):
    """Schedules in the system database, which the DBOS processes fire."""

    def _definition(self, entry: dict[str, Any]) -> ScheduleDefinition:
        workflow_name = entry.get("workflow_name")
        if not isinstance(workflow_name, str) or not workflow_name:
            raise DBOSException(f"workflow_name must be a non-empty string, got {workflow_name!r}")
        return build_definition(
            self._runtime(),
            schedule_name=entry.get("schedule_name"),  # type: ignore[arg-type] # checked there
            workflow_name=workflow_name,
            workflow_class_name=entry.get("workflow_class_name"),
            schedule=entry.get("schedule"),  # type: ignore[arg-type] # checked there
            context=entry.get("context"),
            automatic_backfill=bool(entry.get("automatic_backfill", False)),
            cron_timezone=entry.get("cron_timezone"),
            queue_name=entry.get("queue_name"),
            application_name=entry.get("application_name") or self._application_name,
        )

    def _applied(self, schedules: list[ClientScheduleInput]) -> list[ScheduleDefinition]:
        if not isinstance(schedules, list):
            raise DBOSException("apply_schedules needs a list of schedules")
        with checked_schedule():
            check_required_fields(schedules, CLIENT_SCHEDULE_INPUT_REQUIRED)
        unknown_fields(schedules, list(ClientScheduleInput.__annotations__))
        return [self._definition(dict(entry)) for entry in schedules]

    def _filter(self, filters: dict[str, Any]) -> Any:
        with checked_schedule():
            return build_schedule_filter(self._application_name, **filters)

    # ------------------------------------------------------------------ create, apply

    def create_schedule(
        self,
        *,
        schedule_name: str,
        workflow_name: str,
        schedule: str,
        context: Any = None,
        workflow_class_name: str | None = None,
        automatic_backfill: bool = False,
        cron_timezone: str | None = None,
        queue_name: str | None = None,
        application_name: str | None = None,
    ) -> None:
        """Store a schedule firing ``workflow_name(fire_time, context)`` on a cron.

        Raises DBOSException for a bad cron or timezone, or a name already in use.
        """
        definition = self._definition(locals_of(locals()))
        create_schedule(self._runtime(), definition, verify_queue=False)

    async def create_schedule_async(
        self,
        *,
        schedule_name: str,
        workflow_name: str,
        schedule: str,
        context: Any = None,
        workflow_class_name: str | None = None,
        automatic_backfill: bool = False,
        cron_timezone: str | None = None,
        queue_name: str | None = None,
        application_name: str | None = None,
    ) -> None:
        """The async twin of create_schedule."""
        definition = self._definition(locals_of(locals()))
        await self._call_async(
            partial(create_schedule, self._runtime(), definition, verify_queue=False)
        )

    def apply_schedules(self, schedules: list[ClientScheduleInput]) -> None:
        """Create or redefine several schedules atomically.

        A schedule that exists keeps its ID, status and last fire time. Each entry needs
        ``schedule_name``, ``workflow_name`` and ``schedule``.
        """
        apply_schedules(self._runtime(), self._applied(schedules), verify_queues=False)

    async def apply_schedules_async(self, schedules: list[ClientScheduleInput]) -> None:
        """The async twin of apply_schedules."""
        definitions = self._applied(schedules)
        await self._call_async(
            partial(apply_schedules, self._runtime(), definitions, verify_queues=False)
        )

    # ------------------------------------------------------------------ read

    def list_schedules(
        self,
        *,
        status: StringFilter = None,
        workflow_name: StringFilter = None,
        schedule_name_prefix: StringFilter = None,
        application_name: StringFilter = None,
    ) -> list[WorkflowSchedule]:
        """The schedules of the client's application and the unclaimed ones, by name.

        A client without an application sees every schedule. Each filter takes a string or
        a list of strings.
        """
        return list_schedules(self._runtime(), self._filter(locals_of(locals())))

    async def list_schedules_async(
        self,
        *,
        status: StringFilter = None,
        workflow_name: StringFilter = None,
        schedule_name_prefix: StringFilter = None,
        application_name: StringFilter = None,
    ) -> list[WorkflowSchedule]:
        """The async twin of list_schedules."""
        f = self._filter(locals_of(locals()))
        return await self._call_async(list_schedules, self._runtime(), f)

    def get_schedule(self, name: str) -> WorkflowSchedule | None:
        """The schedule called ``name``; None if there is none the client sees."""
        return get_schedule(self._runtime(), name)

    async def get_schedule_async(self, name: str) -> WorkflowSchedule | None:
        """The async twin of get_schedule."""
        return await self._call_async(get_schedule, self._runtime(), name)

    # ------------------------------------------------------------------ change

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule; nothing happens if there is none."""
        delete_schedule(self._runtime(), name)

    async def delete_schedule_async(self, name: str) -> None:
        """The async twin of delete_schedule."""
        await self._call_async(delete_schedule, self._runtime(), name)

    def pause_schedule(self, name: str) -> None:
        """Stop firing a schedule until it is resumed."""
        set_schedule_status(self._runtime(), name, PAUSED)

    async def pause_schedule_async(self, name: str) -> None:
        """The async twin of pause_schedule."""
        await self._call_async(set_schedule_status, self._runtime(), name, PAUSED)

    def resume_schedule(self, name: str) -> None:
        """Fire a paused schedule again."""
        set_schedule_status(self._runtime(), name, ACTIVE)

    async def resume_schedule_async(self, name: str) -> None:
        """The async twin of resume_schedule."""
        await self._call_async(set_schedule_status, self._runtime(), name, ACTIVE)

    # ------------------------------------------------------------------ fire

    def backfill_schedule(
        self, schedule_name: str, start: dt.datetime, end: dt.datetime
    ) -> list[ClientHandle[None]]:
        """Enqueue every fire time strictly between ``start`` and ``end`` (naive: UTC).

        Fire times that already ran are not run again; their handles are returned too.
        """
        rt = self._runtime()
        return [ClientHandle(rt, w) for w in backfill_schedule(rt, schedule_name, start, end)]

    async def backfill_schedule_async(
        self, schedule_name: str, start: dt.datetime, end: dt.datetime
    ) -> list[ClientHandleAsync[None]]:
        """The async twin of backfill_schedule."""
        rt = self._runtime()
        ids = await self._call_async(backfill_schedule, rt, schedule_name, start, end)
        return [ClientHandleAsync(rt, w) for w in ids]

    def trigger_schedule(self, schedule_name: str) -> ClientHandle[None]:
        """Enqueue a firing of a schedule now."""
        rt = self._runtime()
        return ClientHandle(rt, trigger_schedule(rt, schedule_name))

    async def trigger_schedule_async(self, schedule_name: str) -> ClientHandleAsync[None]:
        """The async twin of trigger_schedule."""
        rt = self._runtime()
        return ClientHandleAsync(rt, await self._call_async(trigger_schedule, rt, schedule_name))
