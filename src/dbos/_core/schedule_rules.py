"""Schedules as data: a schedule's definition, the rules its fields follow, list filters.

Pure. What a caller asks for is checked here before anything is written; the runtime turns
InvalidSchedule into DBOSException. Whether the workflow is registered and whether the
queue exists need the process or the database, so they are checked by the callers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbos._core.cron import InvalidCron, InvalidTimezone, check_cron, resolve_timezone
from dbos._core.workflow_filters import InvalidArgument, string_list

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"


class InvalidSchedule(ValueError):
    """A schedule a caller asked for that cannot be stored; the message says why."""


@dataclass(frozen=True)
class ScheduleDefinition:
    """What a schedule fires, and when: everything of a row but its ID, status and history.

    ``context`` is already serialised (with the configured serializer, spec 11).
    """

    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    context: str
    automatic_backfill: bool = False
    cron_timezone: str | None = None
    queue_name: str | None = None
    application_name: str | None = None

    def signature(self) -> tuple[Any, ...]:
        """What a running schedule is restarted for when it changes (spec 9.2)."""
        return (
            self.workflow_name,
            self.workflow_class_name,
            self.schedule,
            self.context,
            self.cron_timezone,
            self.queue_name,
        )


def check_schedule_fields(schedule_name: object, schedule: object, cron_timezone: object) -> None:
    """The name, cron and timezone of a schedule to create or apply."""
    if not isinstance(schedule_name, str) or not schedule_name:
        raise InvalidSchedule(f"schedule_name must be a non-empty string, got {schedule_name!r}")
    try:
        check_cron(schedule)
    except InvalidCron as exc:
        raise InvalidSchedule(str(exc)) from None
    if cron_timezone is not None:
        if not isinstance(cron_timezone, str):
            raise InvalidSchedule(f"Invalid timezone {cron_timezone!r}")
        try:
            resolve_timezone(cron_timezone)
        except InvalidTimezone as exc:
            raise InvalidSchedule(str(exc)) from None


def check_required_fields(entries: Sequence[Mapping[str, Any]], required: Sequence[str]) -> None:
    """Every entry of an apply_schedules call has the fields it cannot do without.

    Entries are numbered from 0, as they are in the caller's list. A name given twice is
    not an error: the entries are applied in order, so the last one wins.
    """
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise InvalidSchedule(f"Schedule entry {index} must be a dict, got {entry!r}")
        for field in required:
            if entry.get(field) is None:
                raise InvalidSchedule(f"Schedule entry {index} is missing required field '{field}'")


@dataclass(frozen=True)
class ScheduleFilter:
    """Which schedules a list returns; None means "not filtered" on that field.

    ``scope_app``: the caller's application, whose own and unclaimed schedules are listed
    when no application is named explicitly (spec 13.8); None sees every application's.
    """

    statuses: tuple[str, ...] | None = None
    workflow_names: tuple[str, ...] | None = None
    name_prefixes: tuple[str, ...] | None = None
    application_names: tuple[str, ...] | None = None
    scope_app: str | None = None


def build_schedule_filter(
    caller_app: str | None,
    *,
    status: object = None,
    workflow_name: object = None,
    schedule_name_prefix: object = None,
    application_name: object = None,
) -> ScheduleFilter:
    """list_schedules' filters, each a string or a list of strings."""
    try:
        explicit_apps = string_list(application_name, "application_name")
        return ScheduleFilter(
            statuses=string_list(status, "status"),
            workflow_names=string_list(workflow_name, "workflow_name"),
            name_prefixes=string_list(schedule_name_prefix, "schedule_name_prefix"),
            application_names=explicit_apps,
            scope_app=caller_app if explicit_apps is None else None,
        )
    except InvalidArgument as exc:
        raise InvalidSchedule(str(exc)) from None
