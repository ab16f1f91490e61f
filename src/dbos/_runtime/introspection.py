"""WorkflowStatus: what users see of a workflow row, deserialised."""

from __future__ import annotations

import json
import logging
from typing import Any, TypedDict

from dbos._core.serialization import PayloadCodec
from dbos._storage.records import StepInfoRow, VersionRecord, WorkflowRow

logger = logging.getLogger("dbos")


class WorkflowStatus:
    """A workflow's state as recorded in the system database."""

    workflow_id: str
    status: str
    name: str
    class_name: str | None
    config_name: str | None
    authenticated_user: str | None
    assumed_role: str | None
    authenticated_roles: list[str] | None
    input: Any
    output: Any
    error: Any
    created_at: int | None
    updated_at: int | None
    queue_name: str | None
    executor_id: str | None
    app_version: str | None
    app_id: str | None
    recovery_attempts: int | None
    workflow_timeout_ms: int | None
    workflow_deadline_epoch_ms: int | None
    deduplication_id: str | None
    priority: int | None
    queue_partition_key: str | None
    forked_from: str | None
    was_forked_from: bool
    parent_workflow_id: str | None
    dequeued_at: int | None
    delay_until_epoch_ms: int | None
    completed_at: int | None
    attributes: dict[str, Any] | None
    schedule_name: str | None
    application_name: str | None

    def __repr__(self) -> str:
        return (
            f"WorkflowStatus(workflow_id={self.workflow_id!r}, status={self.status!r}, "
            f"name={self.name!r})"
        )


def _best_effort(decode: Any, text: str | None, what: str, workflow_id: str) -> Any:
    if text is None:
        return None
    try:
        return decode()
    except Exception as exc:
        logger.warning("Could not deserialize the %s of workflow %s: %s", what, workflow_id, exc)
        return text


def status_from_row(
    row: WorkflowRow, codec: PayloadCodec, *, load_input: bool = True, load_output: bool = True
) -> WorkflowStatus:
    s = WorkflowStatus()
    wid = row.workflow_id
    s.workflow_id, s.status, s.name = wid, row.status, row.name
    s.class_name, s.config_name = row.class_name, row.config_name
    s.authenticated_user, s.assumed_role = row.authenticated_user, row.assumed_role
    s.authenticated_roles = json.loads(row.authenticated_roles) if row.authenticated_roles else None
    s.input = None
    if load_input and row.inputs is not None:
        s.input = _best_effort(
            lambda: dict(
                zip(
                    ("args", "kwargs"),
                    codec.decode_args(row.inputs or "", row.serialization),
                    strict=True,
                )
            ),
            row.inputs, "input", wid,
        )  # fmt: skip
    s.output = s.error = None
    if load_output:
        s.output = _best_effort(
            lambda: codec.decode_value(row.output or "", row.serialization),
            row.output,
            "output",
            wid,
        )
        s.error = _best_effort(
            lambda: codec.decode_error(row.error or "", row.serialization), row.error, "error", wid
        )
    s.created_at, s.updated_at = row.created_at, row.updated_at
    s.queue_name, s.executor_id = row.queue_name, row.executor_id
    s.app_version, s.app_id = row.application_version, row.application_id
    s.recovery_attempts = row.recovery_attempts
    s.workflow_timeout_ms = row.workflow_timeout_ms
    s.workflow_deadline_epoch_ms = row.workflow_deadline_epoch_ms
    s.deduplication_id, s.priority = row.deduplication_id, row.priority
    s.queue_partition_key = row.queue_partition_key
    s.forked_from, s.was_forked_from = row.forked_from, row.was_forked_from
    s.parent_workflow_id = row.parent_workflow_id
    s.dequeued_at = row.started_at_epoch_ms
    s.delay_until_epoch_ms, s.completed_at = row.delay_until_epoch_ms, row.completed_at
    attributes = row.attributes
    s.attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
    s.schedule_name, s.application_name = row.schedule_name, row.application_name
    return s


class StepInfo(TypedDict):
    """One recorded operation of a workflow, as list_workflow_steps returns it."""

    function_id: int
    function_name: str
    output: Any
    error: Exception | None
    child_workflow_id: str | None
    started_at_epoch_ms: int | None
    completed_at_epoch_ms: int | None


class VersionInfo(TypedDict):
    """An application version that has run against the system database."""

    version_id: str
    version_name: str
    version_timestamp: int
    created_at: int
    application_name: str | None


def step_info_from_row(row: StepInfoRow, codec: PayloadCodec, workflow_id: str) -> StepInfo:
    """A recorded operation for users: output and error deserialised, as far as possible."""
    name = row.serialization
    return StepInfo(
        function_id=row.function_id,
        function_name=row.function_name,
        output=_best_effort(
            lambda: codec.decode_value(row.output or "", name),
            row.output,
            "step output",
            workflow_id,
        ),
        error=_best_effort(
            lambda: codec.decode_error(row.error or "", name),
            row.error,
            "step error",
            workflow_id,
        ),
        child_workflow_id=row.child_workflow_id,
        started_at_epoch_ms=row.started_at_epoch_ms,
        completed_at_epoch_ms=row.completed_at_epoch_ms,
    )


def version_info(record: VersionRecord) -> VersionInfo:
    return VersionInfo(
        version_id=record.version_id,
        version_name=record.version_name,
        version_timestamp=record.version_timestamp,
        created_at=record.created_at,
        application_name=record.application_name,
    )
