"""Firing schedules: enqueueing one firing, backfilling a window, triggering now (spec 9).

A firing is an enqueue by name (the same flow as DBOSClient.enqueue, so it needs none of the
workflow's code) under a workflow ID made from the schedule and the fire time. Every process
firing a schedule builds the same ID, and the insert does nothing when the ID exists, so a
fire time runs once however many processes fire it, and a backfill skips the fire times that
already ran. The workflow goes on the schedule's queue (default: the internal queue) at the
owning application's latest version, so the newest code runs it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dbos._core.cron import (
    UTC,
    fire_times_between,
    resolve_timezone,
    scheduled_workflow_id,
    triggered_workflow_id,
)
from dbos._core.schedule_rules import ScheduleDefinition
from dbos._core.status import INTERNAL_QUEUE
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.effects import run_sync
from dbos._runtime.enqueue_by_name import enqueue_by_name_flow
from dbos._runtime.runtime import Runtime
from dbos._runtime.schedules import decode_context, find_schedule


def latest_version(rt: Runtime, app_name: str | None) -> str | None:
    """The latest version ``app_name`` registered; None when there is no one application.

    A row left at no version is run by whichever executors run the latest one.
    """
    if app_name is None:
        return None
    versions = rt.db.versions.list(app_name)
    return versions[0].version_name if versions else None


def enqueue_firing(
    rt: Runtime,
    *,
    workflow_name: str,
    class_name: str | None,
    queue_name: str | None,
    application_name: str | None,
    workflow_id: str,
    args: tuple[Any, ...],
    schedule_name: str | None = None,
) -> str:
    """Enqueue one firing, unless a workflow with its ID exists; the workflow's ID.

    It runs outside any caller's context: a firing inherits no SetWorkflowID, enqueue
    options, authentication or attributes from whoever asked for it.
    """
    owner = application_name or rt.app_name
    options: dict[str, Any] = {
        "workflow_name": workflow_name,
        "queue_name": queue_name or INTERNAL_QUEUE,
        "workflow_id": workflow_id,
    }
    version = latest_version(rt, owner)
    if version is not None:
        options["app_version"] = version
    if class_name is not None:
        options["class_name"] = class_name
    if owner is not None:
        options["application_name"] = owner
    token = context.set_current(None)
    try:
        flow = enqueue_by_name_flow(rt, options, args, {}, schedule_name=schedule_name)
        return run_sync(flow)
    finally:
        context.reset(token)


def fire_schedule(
    rt: Runtime,
    definition: ScheduleDefinition,
    fire_time: dt.datetime,
    schedule_context: Any,
    workflow_id: str | None = None,
) -> str:
    """Enqueue the firing of a database schedule at ``fire_time``; the workflow's ID.

    The workflow is called with ``(fire_time, context)``. Its ID is the fire time's own
    (the same in every process) unless ``workflow_id`` is given.
    """
    name = definition.schedule_name
    return enqueue_firing(
        rt,
        workflow_name=definition.workflow_name,
        class_name=definition.workflow_class_name,
        queue_name=definition.queue_name,
        application_name=definition.application_name,
        workflow_id=workflow_id or scheduled_workflow_id(name, fire_time),
        args=(fire_time, schedule_context),
        schedule_name=name,
    )


def _existing(rt: Runtime, name: str) -> ScheduleDefinition:
    record = find_schedule(rt, name)
    if record is None:
        raise DBOSException(f"Schedule '{name}' does not exist")
    return record.definition


def backfill_schedule(rt: Runtime, name: str, start: dt.datetime, end: dt.datetime) -> list[str]:
    """Enqueue every fire time strictly between ``start`` and ``end``; their workflow IDs.

    Fire times that already ran keep their workflow (and are still returned).
    """
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        raise DBOSException("backfill_schedule needs start and end datetimes")
    definition = _existing(rt, name)
    tz = resolve_timezone(definition.cron_timezone)
    schedule_context = decode_context(rt, definition.context)
    return [
        fire_schedule(rt, definition, fire_time, schedule_context)
        for fire_time in fire_times_between(definition.schedule, start, end, tz)
    ]


def trigger_schedule(rt: Runtime, name: str) -> str:
    """Enqueue a firing of schedule ``name`` now; the workflow's ID."""
    definition = _existing(rt, name)
    now = dt.datetime.fromtimestamp(rt.clock.now_ms() / 1000, UTC)
    schedule_context = decode_context(rt, definition.context)
    return fire_schedule(rt, definition, now, schedule_context, triggered_workflow_id(name, now))
