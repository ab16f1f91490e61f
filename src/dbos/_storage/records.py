"""Rows that cross the storage seam, as plain immutable objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from dbos._core.queue_rules import QueueLimits


@dataclass(frozen=True, slots=True)
class WorkflowInsert:
    """A new workflow_status row, as the runtime starts or enqueues it."""

    workflow_id: str
    status: str
    name: str
    class_name: str | None
    config_name: str | None
    inputs: str
    serialization: str
    executor_id: str | None
    application_version: str | None
    application_name: str | None
    created_at: int
    owner_xid: str
    application_id: str | None = None
    recovery_attempts: int = 1
    queue_name: str | None = None
    authenticated_user: str | None = None
    assumed_role: str | None = None
    authenticated_roles: str | None = None
    workflow_timeout_ms: int | None = None
    workflow_deadline_epoch_ms: int | None = None
    deduplication_id: str | None = None
    priority: int = 0
    queue_partition_key: str | None = None
    parent_workflow_id: str | None = None
    delay_until_epoch_ms: int | None = None
    attributes: str | None = None
    schedule_name: str | None = None  # the schedule that fired it (spec 9.2)


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    """What an insert found: whether this caller created the row, and the row's identity."""

    created: bool
    status: str
    name: str
    class_name: str | None
    config_name: str | None
    queue_name: str | None
    workflow_deadline_epoch_ms: int | None


@dataclass(frozen=True, slots=True)
class WorkflowOutcome:
    """The parts of a row a waiter needs."""

    status: str
    output: str | None
    error: str | None
    serialization: str | None


# Column order of every full workflow_status read; WorkflowRow.from_row depends on it.
WORKFLOW_COLUMNS = (
    "workflow_uuid, status, name, class_name, config_name, authenticated_user, assumed_role, "
    "authenticated_roles, inputs, output, error, serialization, executor_id, "
    "application_version, application_id, application_name, created_at, updated_at, "
    "recovery_attempts, queue_name, workflow_timeout_ms, workflow_deadline_epoch_ms, "
    "started_at_epoch_ms, deduplication_id, priority, queue_partition_key, forked_from, "
    "was_forked_from, parent_workflow_id, delay_until_epoch_ms, completed_at, attributes, "
    "schedule_name"
)


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    """A whole workflow_status row, still serialized."""

    workflow_id: str
    status: str
    name: str
    class_name: str | None
    config_name: str | None
    authenticated_user: str | None
    assumed_role: str | None
    authenticated_roles: str | None
    inputs: str | None
    output: str | None
    error: str | None
    serialization: str | None
    executor_id: str | None
    application_version: str | None
    application_id: str | None
    application_name: str | None
    created_at: int
    updated_at: int
    recovery_attempts: int
    queue_name: str | None
    workflow_timeout_ms: int | None
    workflow_deadline_epoch_ms: int | None
    started_at_epoch_ms: int | None
    deduplication_id: str | None
    priority: int
    queue_partition_key: str | None
    forked_from: str | None
    was_forked_from: bool
    parent_workflow_id: str | None
    delay_until_epoch_ms: int | None
    completed_at: int | None
    attributes: Any
    schedule_name: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> WorkflowRow:
        values = list(row)
        values[27] = bool(values[27])  # SQLite stores booleans as 0/1
        return cls(*values)


@dataclass(frozen=True, slots=True)
class StepRow:
    """A recorded operation, as replay reads it."""

    function_id: int
    function_name: str
    output: str | None
    error: str | None
    child_workflow_id: str | None
    serialization: str | None


class StepWrite(NamedTuple):
    """A checkpoint to record. Output and error both None marks a bookkeeping row.

    A NamedTuple rather than a frozen dataclass: one is built per step, and a frozen
    dataclass's __init__ costs several times as much.
    """

    workflow_id: str
    function_id: int
    function_name: str
    output: str | None
    error: str | None
    serialization: str | None
    child_workflow_id: str | None
    started_at_epoch_ms: int
    completed_at_epoch_ms: int
    application_name: str | None


@dataclass(frozen=True, slots=True)
class RecordResult:
    """Whether a checkpoint landed, and the workflow's status as the write saw it."""

    recorded: bool
    workflow_status: str | None


@dataclass(frozen=True, slots=True)
class ClaimedWorkflow:
    workflow_id: str
    name: str
    recovery_attempts: int
    owner: str  # the token the claim stamped; the run's outcome write must present it
    queue_name: str | None = None
    partition_key: str | None = None
    # What running it needs from the row, returned by the claim itself.
    class_name: str | None = None
    config_name: str | None = None
    inputs: str | None = None
    serialization: str | None = None
    authenticated_user: str | None = None
    assumed_role: str | None = None
    authenticated_roles: str | None = None
    workflow_deadline_epoch_ms: int | None = None
    has_steps: bool = True  # False: nothing recorded yet, so there is nothing to replay


@dataclass(frozen=True, slots=True)
class VersionRecord:
    version_id: str
    version_name: str
    version_timestamp: int
    created_at: int
    application_name: str | None


class TransactionOutput(NamedTuple):
    """A transaction's outcome, as the application database's ``transaction_outputs`` holds it.

    Written in the same database transaction as the user's own writes, so the outcome is on
    record exactly when those writes are.
    """

    workflow_id: str
    function_id: int
    function_name: str
    output: str | None
    error: str | None
    executor_id: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """A queue registered in the database."""

    name: str
    limits: QueueLimits
    application_name: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class StepInfoRow:
    """A recorded operation as list_workflow_steps reads it (still serialized)."""

    function_id: int
    function_name: str
    output: str | None
    error: str | None
    child_workflow_id: str | None
    started_at_epoch_ms: int | None
    completed_at_epoch_ms: int | None
    serialization: str | None


@dataclass(frozen=True, slots=True)
class ForkRequest:
    """A new workflow to create from an existing one's row and its history before a step."""

    source_id: str
    fork_id: str
    start_step: int
    queue_name: str
    queue_partition_key: str | None
    application_version: str | None
    # The forking application claims an unclaimed source's fork (spec 13.8).
    application_name: str | None
    # None keeps the source's own timeout.
    workflow_timeout_ms: int | None
    replacement_children: dict[str, str]
    owner_xid: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class ForkOutcome:
    """What a fork found: the source missing, the fork created, or its ID already taken.

    When the ID is taken, ``existing_forked_from`` is what that workflow was forked from,
    so that forking the same source under the same ID again can return it.
    """

    source_missing: bool = False
    created: bool = False
    existing_forked_from: str | None = None


@dataclass(frozen=True, slots=True)
class RewindRequest:
    """Move a finished workflow back to a step, in place, and queue it to run from there."""

    workflow_id: str
    start_step: int
    queue_name: str
    queue_partition_key: str | None
    application_version: str | None  # None keeps the row's version
    now_ms: int
