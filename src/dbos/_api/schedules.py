"""Scheduling on the DBOS facade: @DBOS.scheduled and the schedules in the database (spec 9).

Each method is a short delegation to ``_runtime/schedules.py`` (storing and reading) or
``_runtime/schedule_firing.py`` (backfill and trigger); the SchedulerService fires. From a
workflow, creating, listing, reading, deleting, pausing and resuming are checkpointed steps
(spec 6.7); apply_schedules, backfill_schedule and trigger_schedule refuse to run there.
Async twins exist where the spec has them: not for pause, resume, backfill and trigger.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypedDict, TypeVar

from dbos._api.decorators import workflow_info_of
from dbos._api.state import launched_runtime, refuse_in_event_loop
from dbos._core.cron import check_cron
from dbos._core.schedule_rules import (
    ACTIVE,
    PAUSED,
    ScheduleDefinition,
    build_schedule_filter,
    check_required_fields,
    check_schedule_fields,
)
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.effects import Flow, run_async, run_sync
from dbos._runtime.handles import RuntimeHandle, WorkflowHandle
from dbos._runtime.managed_calls import (
    CREATE_SCHEDULE,
    DELETE_SCHEDULE,
    GET_SCHEDULE,
    LIST_SCHEDULES,
    PAUSE_SCHEDULE,
    RESUME_SCHEDULE,
    managed_flow,
)
from dbos._runtime.registry import global_registry
from dbos._runtime.runtime import Runtime
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

F = TypeVar("F", bound=Callable[..., Any])
StringFilter = str | list[str] | None
SCHEDULE_INPUT_REQUIRED = ("schedule_name", "workflow_fn", "schedule")


class ScheduleInput(TypedDict, total=False):
    """One schedule for DBOS.apply_schedules; schedule_name, workflow_fn, schedule required."""

    schedule_name: str
    workflow_fn: Callable[..., Any]
    schedule: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None


class ClientScheduleInput(TypedDict, total=False):
    """One schedule for DBOSClient.apply_schedules: the workflow by name, not by function."""

    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    application_name: str | None


def refuse_inside_workflow(api_name: str) -> None:
    """Calls that enqueue many workflows or rewrite many schedules are not steps (spec 6.7)."""
    if context.enclosing_execution() is not None:
        raise DBOSException(f"{api_name} cannot be called from within a workflow")


def unknown_fields(entries: Sequence[Any], allowed: Sequence[str]) -> None:
    """An entry naming a field the input type does not have is a typo; refuse it."""
    for index, entry in enumerate(entries):
        unknown = sorted(set(entry) - set(allowed))
        if unknown:
            raise DBOSException(f"Schedule entry {index} has unknown fields: {', '.join(unknown)}")


def _first_parameter(func: Callable[..., Any]) -> str | None:
    try:
        return next(iter(inspect.signature(func).parameters), None)
    except (TypeError, ValueError):
        return None


def _scheduled_workflow(workflow_fn: Callable[..., Any]) -> tuple[str, str | None]:
    """The registered name and class of the workflow a schedule fires."""
    info = workflow_info_of(workflow_fn)
    if info is None or info.kind != "workflow":
        name = getattr(workflow_fn, "__qualname__", repr(workflow_fn))
        raise DBOSException(f"Workflow function '{name}' is not registered")
    if info.method_kind == "instance":
        raise DBOSException(
            f"Workflow function '{info.name}' is a method of a configured instance, which "
            "cannot be scheduled; schedule a function, a static method or a class method"
        )
    return info.name, info.class_name


def _definition(rt: Runtime, entry: dict[str, Any]) -> ScheduleDefinition:
    """A definition from create_schedule's arguments (or one apply_schedules entry)."""
    with checked_schedule():  # the cron before the workflow, as the spec orders the checks
        check_schedule_fields(entry.get("schedule_name"), entry.get("schedule"), None)
    workflow_name, class_name = _scheduled_workflow(entry["workflow_fn"])
    return build_definition(
        rt,
        schedule_name=entry["schedule_name"],
        workflow_name=workflow_name,
        workflow_class_name=class_name,
        schedule=entry["schedule"],
        context=entry.get("context"),
        automatic_backfill=bool(entry.get("automatic_backfill", False)),
        cron_timezone=entry.get("cron_timezone"),
        queue_name=entry.get("queue_name"),
        application_name=rt.app_name,
    )


def _create(rt: Runtime, arguments: dict[str, Any]) -> Flow[None]:
    definition = _definition(rt, arguments)
    func = partial(create_schedule, rt, definition, verify_queue=True)
    return managed_flow(rt, CREATE_SCHEDULE, func)


def _list(rt: Runtime, filters: dict[str, Any]) -> Flow[list[WorkflowSchedule]]:
    with checked_schedule():
        f = build_schedule_filter(rt.app_name, **filters)
    return managed_flow(rt, LIST_SCHEDULES, list_schedules, rt, f)


def _applied(rt: Runtime, schedules: list[ScheduleInput]) -> list[ScheduleDefinition]:
    refuse_inside_workflow("apply_schedules")
    if not isinstance(schedules, list):
        raise DBOSException("apply_schedules needs a list of schedules")
    with checked_schedule():
        check_required_fields(schedules, SCHEDULE_INPUT_REQUIRED)
    unknown_fields(schedules, list(ScheduleInput.__annotations__))
    return [_definition(rt, dict(entry)) for entry in schedules]


class SchedulesAPI:
    @classmethod
    def scheduled(cls, cron: str) -> Callable[[F], F]:
        """Fire a workflow on a cron schedule, evaluated in UTC, from launch on.

        Apply it on top of ``@DBOS.workflow()``; the workflow takes ``(scheduled_time,
        actual_time)``. Every process fires it; each fire time runs once. Raises ValueError
        for a cron it cannot read.
        """
        check_cron(cron)

        def decorator(func: F) -> F:
            info = workflow_info_of(func)
            if info is None or info.kind != "workflow":
                raise DBOSException("@DBOS.scheduled must be applied on top of @DBOS.workflow()")
            if info.method_kind == "instance" or _first_parameter(info.func) == "self":
                raise DBOSException(
                    f"Workflow {info.name}: methods of configured instances cannot be scheduled"
                )
            global_registry().scheduled[info.name] = cron
            return func

        return decorator

    @classmethod
    def create_schedule(
        cls,
        *,
        schedule_name: str,
        workflow_fn: Callable[..., Any],
        schedule: str,
        context: Any = None,
        automatic_backfill: bool = False,
        cron_timezone: str | None = None,
        queue_name: str | None = None,
    ) -> None:
        """Store a schedule that fires ``workflow_fn(fire_time, context)`` on a cron.

        Every process of this application fires it; each fire time runs once. The cron is
        evaluated in ``cron_timezone`` (an IANA name; default UTC), and the workflow is
        enqueued on ``queue_name`` (default: the internal queue). With ``automatic_backfill``
        fire times missed while no process ran are fired when one starts. Raises
        DBOSException for a bad cron, timezone or queue, an unregistered workflow or a
        name already in use.
        """
        arguments = locals_of(locals())
        refuse_in_event_loop("create_schedule")
        rt = launched_runtime("create_schedule")
        run_sync(_create(rt, arguments))

    @classmethod
    async def create_schedule_async(
        cls,
        *,
        schedule_name: str,
        workflow_fn: Callable[..., Any],
        schedule: str,
        context: Any = None,
        automatic_backfill: bool = False,
        cron_timezone: str | None = None,
        queue_name: str | None = None,
    ) -> None:
        """The async twin of create_schedule."""
        arguments = locals_of(locals())
        rt = launched_runtime("create_schedule_async")
        await run_async(_create(rt, arguments))

    @classmethod
    def list_schedules(
        cls,
        *,
        status: StringFilter = None,
        workflow_name: StringFilter = None,
        schedule_name_prefix: StringFilter = None,
        application_name: StringFilter = None,
    ) -> list[WorkflowSchedule]:
        """The schedules of this application and the unclaimed ones, by name.

        Each filter takes a string or a list of strings. Naming ``application_name`` lists
        those applications' schedules instead.
        """
        filters = locals_of(locals())
        refuse_in_event_loop("list_schedules")
        rt = launched_runtime("list_schedules")
        return run_sync(_list(rt, filters))

    @classmethod
    async def list_schedules_async(
        cls,
        *,
        status: StringFilter = None,
        workflow_name: StringFilter = None,
        schedule_name_prefix: StringFilter = None,
        application_name: StringFilter = None,
    ) -> list[WorkflowSchedule]:
        """The async twin of list_schedules."""
        filters = locals_of(locals())
        rt = launched_runtime("list_schedules_async")
        return await run_async(_list(rt, filters))

    @classmethod
    def get_schedule(cls, name: str) -> WorkflowSchedule | None:
        """The schedule called ``name``; None if there is none (of this application)."""
        refuse_in_event_loop("get_schedule")
        rt = launched_runtime("get_schedule")
        result: WorkflowSchedule | None = run_sync(
            managed_flow(rt, GET_SCHEDULE, get_schedule, rt, name)
        )
        return result

    @classmethod
    async def get_schedule_async(cls, name: str) -> WorkflowSchedule | None:
        """The async twin of get_schedule."""
        rt = launched_runtime("get_schedule_async")
        result: WorkflowSchedule | None = await run_async(
            managed_flow(rt, GET_SCHEDULE, get_schedule, rt, name)
        )
        return result

    @classmethod
    def delete_schedule(cls, name: str) -> None:
        """Delete a schedule, which stops firing; nothing happens if there is none."""
        refuse_in_event_loop("delete_schedule")
        rt = launched_runtime("delete_schedule")
        run_sync(managed_flow(rt, DELETE_SCHEDULE, delete_schedule, rt, name))

    @classmethod
    async def delete_schedule_async(cls, name: str) -> None:
        """The async twin of delete_schedule."""
        rt = launched_runtime("delete_schedule_async")
        await run_async(managed_flow(rt, DELETE_SCHEDULE, delete_schedule, rt, name))

    @classmethod
    def pause_schedule(cls, name: str) -> None:
        """Stop firing a schedule until it is resumed (status PAUSED)."""
        rt = launched_runtime("pause_schedule")
        run_sync(managed_flow(rt, PAUSE_SCHEDULE, set_schedule_status, rt, name, PAUSED))

    @classmethod
    def resume_schedule(cls, name: str) -> None:
        """Fire a paused schedule again (status ACTIVE), from its next fire time on."""
        rt = launched_runtime("resume_schedule")
        run_sync(managed_flow(rt, RESUME_SCHEDULE, set_schedule_status, rt, name, ACTIVE))

    @classmethod
    def apply_schedules(cls, schedules: list[ScheduleInput]) -> None:
        """Create or redefine several schedules atomically (not from inside a workflow).

        A schedule that exists keeps its ID, status and last fire time. Each entry needs
        ``schedule_name``, ``workflow_fn`` and ``schedule``.
        """
        refuse_in_event_loop("apply_schedules")
        rt = launched_runtime("apply_schedules")
        apply_schedules(rt, _applied(rt, schedules), verify_queues=True)

    @classmethod
    async def apply_schedules_async(cls, schedules: list[ScheduleInput]) -> None:
        """The async twin of apply_schedules."""
        rt = launched_runtime("apply_schedules_async")
        definitions = _applied(rt, schedules)
        await rt.storage_threads.call(partial(apply_schedules, rt, definitions, verify_queues=True))

    @classmethod
    def backfill_schedule(
        cls, schedule_name: str, start: dt.datetime, end: dt.datetime
    ) -> list[WorkflowHandle[None]]:
        """Enqueue every fire time strictly between ``start`` and ``end`` (naive: UTC).

        Fire times that already ran are not run again; their handles are returned too.
        """
        rt = launched_runtime("backfill_schedule")
        refuse_inside_workflow("backfill_schedule")
        return [RuntimeHandle(rt, w) for w in backfill_schedule(rt, schedule_name, start, end)]

    @classmethod
    def trigger_schedule(cls, schedule_name: str) -> WorkflowHandle[None]:
        """Enqueue a firing of a schedule now, whatever its cron and status."""
        rt = launched_runtime("trigger_schedule")
        refuse_inside_workflow("trigger_schedule")
        return RuntimeHandle(rt, trigger_schedule(rt, schedule_name))


def locals_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """A method's arguments, from ``locals()`` taken on its first line (less cls/self)."""
    return {k: v for k, v in arguments.items() if k not in ("cls", "self")}
