"""Enqueueing by workflow name with EnqueueOptions: the row a client builds, from a process.

The function need not be registered here, so nothing about it is checked locally (its
roles are checked when it is dequeued); the options, and the ambient SetWorkflowID,
SetEnqueueOptions, SetWorkflowTimeout and attributes where an option is unset, make the row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbos._core.queue_rules import check_priority, enqueue_violation
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._core.status import DELAYED, ENQUEUED
from dbos._error import DBOSException, DBOSQueueDeduplicatedError, DBOSWorkflowIDInUseError
from dbos._runtime import context
from dbos._runtime.context import EnqueueSettings
from dbos._runtime.effects import Flow
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import begin_operation
from dbos._runtime.targets import Target
from dbos._runtime.workflows import (
    check_duplication_policy,
    check_identity,
    choose_workflow_id,
    insert_flow,
    new_workflow_id,
    record_child,
    refuse_inside_step,
    replay_child,
    timeout_and_deadline,
)
from dbos._storage.backend import DuplicateKey
from dbos._storage.records import WorkflowInsert
from dbos._storage.workflows import WorkflowStore

OPTION_KEYS = frozenset(
    {
        "workflow_name", "queue_name", "workflow_id", "app_version", "workflow_timeout",
        "delay_seconds", "deduplication_id", "duplication_policy", "priority",
        "max_recovery_attempts", "queue_partition_key", "authenticated_user",
        "authenticated_roles", "serialization_type", "class_name", "instance_name",
        "attributes", "application_name", "otel_context", "workflow_id_reuse_policy",
    }
)  # fmt: skip
# Where a trace context travels with a workflow (spec 3.3, PropagateOtelContext).
OTEL_ATTRIBUTE = "dbos.otelContext"


def _text(options: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = options.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DBOSException(f"EnqueueOptions[{key!r}] must be a non-empty string")
    return value


def _seconds(options: Mapping[str, Any], key: str, *, positive: bool) -> float | None:
    value = options.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        raise DBOSException(f"EnqueueOptions[{key!r}] must be a number of seconds >= 0")
    return float(value)


def _roles(options: Mapping[str, Any]) -> list[str] | None:
    roles = options.get("authenticated_roles")
    if roles is None:
        return None
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        raise DBOSException("EnqueueOptions['authenticated_roles'] must be a list of strings")
    return list(roles)


@dataclass(frozen=True)
class _Resolved:
    """The options with the ambient settings filled in where an option is unset."""

    workflow_name: str
    queue_name: str
    settings: EnqueueSettings
    timeout_sec: float | None
    attributes: dict[str, Any] | None
    serialization_type: WorkflowSerializationFormat | None


def _resolve(rt: Runtime, options: Mapping[str, Any]) -> _Resolved:
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise DBOSException(f"Unknown EnqueueOptions keys: {', '.join(sorted(unknown))}")
    ctx = context.current()
    ambient = (ctx.enqueue if ctx is not None else None) or EnqueueSettings()
    priority = options.get("priority", ambient.priority)
    if priority is not None:
        check_priority(priority)
    delay = _seconds(options, "delay_seconds", positive=False)
    settings = EnqueueSettings(
        deduplication_id=_text(options, "deduplication_id") or ambient.deduplication_id,
        priority=priority,
        app_version=_text(options, "app_version") or ambient.app_version,
        queue_partition_key=_text(options, "queue_partition_key") or ambient.queue_partition_key,
        delay_until_epoch_ms=ambient.delay_until_epoch_ms
        if delay is None
        else rt.clock.now_ms() + int(delay * 1000),
        duplication_policy=options.get("duplication_policy") or ambient.duplication_policy,
    )
    if settings.duplication_policy not in (None, "reject", "return-existing"):
        raise DBOSException(f"Invalid duplication_policy {settings.duplication_policy!r}")
    attributes = options.get("attributes")
    if attributes is None and ctx is not None:
        attributes = ctx.attributes
    if options.get("otel_context") is not None:
        attributes = {**(attributes or {}), OTEL_ATTRIBUTE: dict(options["otel_context"])}
    try:
        fmt = options.get("serialization_type")
        serialization_type = None if fmt is None else WorkflowSerializationFormat(fmt)
        json.dumps(attributes)
    except (TypeError, ValueError) as exc:
        raise DBOSException(f"Invalid EnqueueOptions: {exc}") from exc
    return _Resolved(
        workflow_name=str(_text(options, "workflow_name", required=True)),
        queue_name=str(_text(options, "queue_name", required=True)),
        settings=settings,
        timeout_sec=_seconds(options, "workflow_timeout", positive=True),
        attributes=attributes,
        serialization_type=serialization_type,
    )


def _timeouts(
    rt: Runtime, parent: WorkflowExecution | None, timeout_sec: float | None
) -> tuple[int | None, int | None]:
    if timeout_sec is not None:  # the option wins over any ambient or inherited deadline
        return int(timeout_sec * 1000), None
    return timeout_and_deadline(parent, ENQUEUED, rt.clock.now_ms())


def _checked(
    rt: Runtime, options: Mapping[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[_Resolved, str, str]:
    """The resolved options, and the encoded inputs with their serialization's name.

    Everything is checked, and the inputs encoded, before anything is written.
    """
    resolved = _resolve(rt, options)
    queue_name, settings = resolved.queue_name, resolved.settings
    violation = enqueue_violation(
        queue_name, None, settings.queue_partition_key, settings.deduplication_id
    )
    if violation is not None:
        raise DBOSException(violation)
    check_duplication_policy(settings.duplication_policy, queue_name, settings.deduplication_id)
    serializer = rt.codec.serializer_for(resolved.serialization_type)
    return resolved, rt.codec.encode_args(tuple(args), kwargs, serializer), serializer.name()


def enqueue_in_transaction(
    rt: Runtime,
    workflows: WorkflowStore,
    options: Mapping[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> str:
    """Insert the row through ``workflows``, a caller's open transaction; the workflow's ID.

    As enqueue_by_name_flow from outside any workflow, except that the caller commits, and
    so "return-existing" (which would hand back a holder the caller may never see
    committed) is refused.
    """
    resolved, inputs, serialization = _checked(rt, options, args, kwargs)
    if resolved.settings.duplication_policy == "return-existing":
        raise DBOSException("enqueue_in_transaction does not support 'return-existing'")
    workflow_id = _text(options, "workflow_id") or new_workflow_id()
    row = _row(rt, options, resolved, workflow_id, inputs, serialization, None)
    try:
        found = workflows.insert(row)
    except DuplicateKey:
        if row.deduplication_id is None or row.queue_name is None:
            raise
        raise DBOSQueueDeduplicatedError(
            workflow_id, row.queue_name, row.deduplication_id
        ) from None
    if not found.created:
        target = Target(row.class_name, row.config_name, ())
        check_identity(workflow_id, resolved.workflow_name, target, found)
    return workflow_id


def enqueue_by_name_flow(
    rt: Runtime,
    options: Mapping[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    schedule_name: str | None = None,
) -> Flow[str]:
    """Insert an ENQUEUED (or DELAYED) row for ``options["workflow_name"]``; its ID.

    ``schedule_name``: the schedule firing it, which list_workflows can filter on. It is
    not an option users can set: only schedules fire workflows.
    """
    refuse_inside_step()
    resolved, inputs, serialization = _checked(rt, options, args, kwargs)
    name, settings = resolved.workflow_name, resolved.settings
    parent = context.current_execution()
    function_id = parent.next_function_id() if parent is not None else 0
    explicit_id = _text(options, "workflow_id")
    workflow_id, reuse_policy = (
        (explicit_id, options.get("workflow_id_reuse_policy"))
        if explicit_id
        else choose_workflow_id(parent, function_id)
    )
    if reuse_policy not in (None, "return-existing", "reject"):
        raise DBOSException(f"Invalid workflow_id_reuse_policy {reuse_policy!r}")
    if parent is not None:
        recorded = begin_operation(rt, parent, function_id)
        if recorded is not None:
            return replay_child(parent, recorded, name, rt)
    row = _row(rt, options, resolved, workflow_id, inputs, serialization, parent, schedule_name)
    found = yield from insert_flow(rt, row, name, parent, function_id, settings.duplication_policy)
    if isinstance(found, str):  # "return-existing": the holder of the deduplication ID
        workflow_id = found
    elif not found.created:
        check_identity(workflow_id, name, Target(row.class_name, row.config_name, ()), found)
        if reuse_policy == "reject":
            raise DBOSWorkflowIDInUseError(workflow_id, found.status, found.name)
    yield from record_child(rt, parent, function_id, name, row.created_at, workflow_id)
    rt.wake_queues(resolved.queue_name)
    return workflow_id


def _row(
    rt: Runtime,
    options: Mapping[str, Any],
    resolved: _Resolved,
    workflow_id: str,
    inputs: str,
    serialization: str,
    parent: WorkflowExecution | None,
    schedule_name: str | None = None,
) -> WorkflowInsert:
    settings = resolved.settings
    ctx = context.current()
    user = _text(options, "authenticated_user")
    roles = _roles(options)
    if user is None and roles is None and ctx is not None:
        user, roles = ctx.authenticated_user, ctx.authenticated_roles
    timeout_ms, deadline_ms = _timeouts(rt, parent, resolved.timeout_sec)
    attributes = resolved.attributes
    return WorkflowInsert(
        workflow_id=workflow_id,
        status=ENQUEUED if settings.delay_until_epoch_ms is None else DELAYED,
        name=resolved.workflow_name,
        class_name=_text(options, "class_name"),
        config_name=_text(options, "instance_name"),
        inputs=inputs,
        serialization=serialization,
        executor_id=None,
        # Left NULL unless pinned: only executors on the latest version dequeue it then.
        application_version=settings.app_version,
        application_name=_text(options, "application_name") or rt.app_name,
        application_id=rt.app_id,
        created_at=rt.clock.now_ms(),
        owner_xid=new_workflow_id(),
        recovery_attempts=0,
        queue_name=resolved.queue_name,
        authenticated_user=user,
        authenticated_roles=None if roles is None else json.dumps(roles),
        workflow_timeout_ms=timeout_ms,
        workflow_deadline_epoch_ms=deadline_ms,
        deduplication_id=settings.deduplication_id,
        priority=settings.priority or 0,
        queue_partition_key=settings.queue_partition_key,
        parent_workflow_id=None if parent is None else parent.workflow_id,
        delay_until_epoch_ms=settings.delay_until_epoch_ms,
        attributes=None if attributes is None else json.dumps(attributes),
        schedule_name=schedule_name,
    )
