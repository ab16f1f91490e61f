"""Schedules in the database, for DBOS and DBOSClient alike: create, read, change (spec 9.2).

Both callers build ScheduleDefinitions (DBOS from a registered function, a client from the
names it is given) and come here; firing them is ``schedule_firing.py``. The caller acts for
its runtime's application: it sees and changes its own schedules and unclaimed ones, and a
client without an application_name acts for every application (spec 13.8).

Each change calls ``rt.schedules_changed``, so that this process's scheduler picks it up at
once; other processes' schedulers notice when they next read the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypedDict

from dbos._core.schedule_rules import (
    ACTIVE,
    InvalidSchedule,
    ScheduleDefinition,
    ScheduleFilter,
    check_schedule_fields,
)
from dbos._core.status import INTERNAL_QUEUE
from dbos._error import DBOSException
from dbos._runtime.runtime import Runtime
from dbos._storage.schedules import ScheduleOwnedElsewhere, ScheduleRecord


class WorkflowSchedule(TypedDict):
    """A schedule as list_schedules and get_schedule return it."""

    schedule_id: str
    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    status: Literal["ACTIVE", "PAUSED"]
    context: Any
    last_fired_at: str | None
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    application_name: str | None


@contextmanager
def checked_schedule() -> Iterator[None]:
    """A schedule the rules refuse surfaces as DBOSException."""
    try:
        yield
    except InvalidSchedule as exc:
        raise DBOSException(str(exc)) from exc


def build_definition(
    rt: Runtime,
    *,
    schedule_name: str,
    workflow_name: str,
    workflow_class_name: str | None,
    schedule: str,
    context: Any,
    automatic_backfill: bool,
    cron_timezone: str | None,
    queue_name: str | None,
    application_name: str | None,
) -> ScheduleDefinition:
    """A checked definition; ``context`` is serialised with the configured serializer."""
    with checked_schedule():
        check_schedule_fields(schedule_name, schedule, cron_timezone)
    try:
        encoded = rt.codec.encode_value(context, rt.codec.configured)
    except Exception as exc:
        raise DBOSException(
            f"Schedule '{schedule_name}': cannot serialize its context: {exc}"
        ) from exc
    return ScheduleDefinition(
        schedule_name=schedule_name,
        workflow_name=workflow_name,
        workflow_class_name=workflow_class_name,
        schedule=schedule,
        context=encoded,
        automatic_backfill=bool(automatic_backfill),
        cron_timezone=cron_timezone,
        queue_name=queue_name,
        application_name=application_name,
    )


def check_queue(rt: Runtime, queue_name: str | None) -> None:
    """A schedule's queue is declared in this process or registered in the database."""
    if queue_name is None or queue_name == INTERNAL_QUEUE or queue_name in rt.registry.queues:
        return
    if rt.db.queue_settings.get(queue_name) is None:
        raise DBOSException(
            f"Queue '{queue_name}' is not declared in this process or registered in the "
            "system database"
        )


def _owned_elsewhere(name: str, owner: str) -> DBOSException:
    return DBOSException(
        f"Schedule '{name}' already exists: it is already registered by application "
        f"'{owner}'; to use it from another application, re-own its rows first with dbos "
        "rename-application"
    )


def _visible(rt: Runtime, record: ScheduleRecord | None) -> ScheduleRecord | None:
    """``record`` if the caller's application may see it: its own, or unclaimed."""
    if record is None:
        return None
    owner = record.definition.application_name
    return record if rt.app_name is None or owner in (None, rt.app_name) else None


def create_schedule(rt: Runtime, definition: ScheduleDefinition, *, verify_queue: bool) -> None:
    """Store a new ACTIVE schedule; DBOSException if the name is taken.

    ``verify_queue``: refuse a queue that is neither declared here nor registered. A client
    passes False: it declares no queues, so it cannot tell a missing queue from one that
    only the processes running the workflows declare.
    """
    if verify_queue:
        check_queue(rt, definition.queue_name)
    name = definition.schedule_name
    if not rt.db.schedules.insert(str(uuid.uuid4()), ACTIVE, definition):
        existing = rt.db.schedules.get(name)
        owner = None if existing is None else existing.definition.application_name
        if owner is not None and owner != definition.application_name:
            raise _owned_elsewhere(name, owner)
        raise DBOSException(f"Schedule '{name}' already exists")
    rt.schedules_changed()


def apply_schedules(
    rt: Runtime, definitions: Sequence[ScheduleDefinition], *, verify_queues: bool
) -> None:
    """Create or redefine every schedule in ``definitions`` atomically (spec 9.2).

    A schedule that exists keeps its ID, status and last fire time. ``verify_queues`` as
    create_schedule's ``verify_queue``.
    """
    if verify_queues:
        for definition in definitions:
            check_queue(rt, definition.queue_name)
    try:
        rt.db.schedules.apply([(str(uuid.uuid4()), d) for d in definitions])
    except ScheduleOwnedElsewhere as exc:
        raise _owned_elsewhere(exc.schedule_name, exc.owner) from None
    rt.schedules_changed()


def decode_context(rt: Runtime, text: str) -> Any:
    """A stored context as the value it was; text that cannot be decoded stays text."""
    try:
        return rt.codec.decode_value(text, None)
    except Exception:
        return text


def _as_schedule(rt: Runtime, record: ScheduleRecord) -> WorkflowSchedule:
    d = record.definition
    return WorkflowSchedule(
        schedule_id=record.schedule_id,
        schedule_name=d.schedule_name,
        workflow_name=d.workflow_name,
        workflow_class_name=d.workflow_class_name,
        schedule=d.schedule,
        status="PAUSED" if record.status == "PAUSED" else "ACTIVE",
        context=decode_context(rt, d.context),
        last_fired_at=record.last_fired_at,
        automatic_backfill=d.automatic_backfill,
        cron_timezone=d.cron_timezone,
        queue_name=d.queue_name,
        application_name=d.application_name,
    )


def list_schedules(rt: Runtime, f: ScheduleFilter) -> list[WorkflowSchedule]:
    return [_as_schedule(rt, record) for record in rt.db.schedules.list(f)]


def find_schedule(rt: Runtime, name: str) -> ScheduleRecord | None:
    """The schedule called ``name``, unless another application owns it."""
    return _visible(rt, rt.db.schedules.get(name))


def get_schedule(rt: Runtime, name: str) -> WorkflowSchedule | None:
    record = find_schedule(rt, name)
    return None if record is None else _as_schedule(rt, record)


def delete_schedule(rt: Runtime, name: str) -> None:
    """Delete a schedule; nothing happens if there is none (of this application)."""
    if rt.db.schedules.delete(name, rt.app_name):
        rt.schedules_changed()


def set_schedule_status(rt: Runtime, name: str, status: str) -> None:
    """Pause (PAUSED) or resume (ACTIVE) a schedule; a missing one is left alone."""
    if rt.db.schedules.set_status(name, status, rt.app_name):
        rt.schedules_changed()
