"""The exceptions DBOS raises (public as ``dbos.error``), their codes, and how they pickle.

Codes 1-18 and 25 follow the 2.x API. The three errors taken from the 3.x line have no code at
2.x, so we number them after the last one in use: StepNondeterminism 26, WorkflowIDInUse 27,
QueryTimeout 28, in the order the 3.x release notes list them.

Every class that takes constructor arguments defines ``__reduce__``: the default serializer
pickles exceptions whole into the system database, and ``Exception``'s own pickling would call
the constructor with the formatted message instead of the original arguments.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "DBOSBaseException",
    "DBOSConflictingRegistrationError",
    "DBOSConflictingWorkflowError",
    "DBOSErrorCode",
    "DBOSException",
    "DBOSInitializationError",
    "DBOSMaxStepRetriesExceeded",
    "DBOSNonExistentWorkflowError",
    "DBOSNotAuthorizedError",
    "DBOSPatchNondeterminismError",
    "DBOSQueryTimeoutError",
    "DBOSQueueDeduplicatedError",
    "DBOSRecoveryError",
    "DBOSStepNondeterminismError",
    "DBOSStepTimeoutError",
    "DBOSStreamNondeterminismError",
    "DBOSStreamTimeoutError",
    "DBOSUnexpectedStepError",
    "DBOSWorkflowCancelledError",
    "DBOSWorkflowConflictIDError",
    "DBOSWorkflowFunctionNotFoundError",
    "DBOSWorkflowIDInUseError",
    "MaxRecoveryAttemptsExceededError",
]


class DBOSErrorCode(IntEnum):
    ConflictingIDError = 1
    RecoveryError = 2
    InitializationError = 3
    WorkflowFunctionNotFound = 4
    NonExistentWorkflowError = 5
    MaxRecoveryAttemptsExceeded = 6
    MaxStepRetriesExceeded = 7
    NotAuthorized = 8
    ConflictingWorkflowError = 9
    WorkflowCancelled = 10
    UnexpectedStep = 11
    QueueDeduplicated = 12
    AwaitedWorkflowCancelled = 13
    AwaitedWorkflowMaxRecoveryAttemptsExceeded = 14
    PatchNondeterminism = 15
    StreamTimeout = 16
    StreamNondeterminism = 17
    StepTimeout = 18
    ConflictingRegistrationError = 25
    StepNondeterminism = 26
    WorkflowIDInUse = 27
    QueryTimeout = 28


class _DBOSErrorShape:
    """What both roots share, so ``Exception`` and ``BaseException`` errors look alike."""

    message: str
    dbos_error_code: int | None
    status_code: int | None

    def _set_fields(self, message: str, dbos_error_code: int | None) -> None:
        self.message = message
        # A plain int, so str() and JSON bodies read "7" on every Python version.
        self.dbos_error_code = None if dbos_error_code is None else int(dbos_error_code)
        self.status_code = None

    def __str__(self) -> str:
        if self.dbos_error_code is None:
            return f"DBOS Error: {self.message}"
        return f"DBOS Error {self.dbos_error_code}: {self.message}"


class DBOSException(_DBOSErrorShape, Exception):
    """The base of the DBOS errors that user code may catch with ``except Exception``."""

    def __init__(self, message: str, dbos_error_code: int | None = None) -> None:
        super().__init__(message)
        self._set_fields(message, dbos_error_code)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message, self.dbos_error_code))


class DBOSBaseException(_DBOSErrorShape, BaseException):
    """The base of the DBOS errors that ``except Exception`` must not swallow."""

    def __init__(self, message: str, dbos_error_code: int | None = None) -> None:
        super().__init__(message)
        self._set_fields(message, dbos_error_code)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message, self.dbos_error_code))


def _with_detail(text: str, detail: str | None) -> str:
    return text if not detail else f"{text}: {detail}"


class DBOSConflictingWorkflowError(DBOSException):
    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        self.workflow_id = workflow_id
        self.detail = message
        super().__init__(
            _with_detail(
                f"Conflicting workflow invocation with the same ID ({workflow_id})", message
            ),
            DBOSErrorCode.ConflictingWorkflowError,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.detail))


class DBOSRecoveryError(DBOSException):
    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        self.workflow_id = workflow_id
        self.detail = message
        super().__init__(
            _with_detail(f"Recovery error for workflow ID {workflow_id}", message),
            DBOSErrorCode.RecoveryError,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.detail))


class DBOSInitializationError(DBOSException):
    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(
            f"Error initializing DBOS Transact: {message}", DBOSErrorCode.InitializationError
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.detail,))


class DBOSWorkflowFunctionNotFoundError(DBOSException):
    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        self.workflow_id = workflow_id
        self.detail = message
        super().__init__(
            _with_detail(f"Could not execute workflow id: {workflow_id}", message),
            DBOSErrorCode.WorkflowFunctionNotFound,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.detail))


class DBOSNonExistentWorkflowError(DBOSException):
    def __init__(self, destination: str, destination_id: str) -> None:
        self.destination = destination
        self.destination_id = destination_id
        self.workflow_id = destination_id
        super().__init__(
            f"Non-existent {destination} workflow ID: {destination_id}",
            DBOSErrorCode.NonExistentWorkflowError,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.destination, self.destination_id))


class DBOSStreamTimeoutError(DBOSException):
    def __init__(self, workflow_id: str, key: str, timeout_seconds: float | None = None) -> None:
        self.workflow_id = workflow_id
        self.key = key
        self.timeout_seconds = timeout_seconds
        within = "" if timeout_seconds is None else f" within {timeout_seconds} seconds"
        super().__init__(
            f"No value arrived on stream {key} of workflow {workflow_id}{within}",
            DBOSErrorCode.StreamTimeout,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.key, self.timeout_seconds))


class DBOSStreamNondeterminismError(DBOSException):
    def __init__(self, workflow_id: str, key: str) -> None:
        self.workflow_id = workflow_id
        self.key = key
        super().__init__(
            f"Cannot deterministically read stream {key} of workflow {workflow_id}: "
            "another checkpointed read of this stream overlaps this one",
            DBOSErrorCode.StreamNondeterminism,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.key))


class MaxRecoveryAttemptsExceededError(DBOSException):
    def __init__(self, wf_id: str, max_retries: int | None = None) -> None:
        self.workflow_id = wf_id
        self.max_retries = max_retries
        maximum = "maximum" if max_retries is None else f"maximum of {max_retries}"
        super().__init__(
            f"Workflow {wf_id} has exceeded its {maximum} execution or recovery attempts. "
            "Further attempts to execute or recover it will fail.",
            DBOSErrorCode.MaxRecoveryAttemptsExceeded,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.max_retries))


class DBOSNotAuthorizedError(DBOSException):
    def __init__(self, msg: str) -> None:
        super().__init__(msg, DBOSErrorCode.NotAuthorized)
        self.status_code = 403

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message,))


class DBOSMaxStepRetriesExceeded(DBOSException):
    def __init__(self, step_name: str, max_retries: int, errors: list[BaseException]) -> None:
        self.step_name = step_name
        self.max_retries = max_retries
        # Our own list, so the caller reusing theirs cannot rewrite this error's history.
        self.errors = list(errors)
        super().__init__(
            f"Step {step_name} has exceeded its maximum of {max_retries} retries",
            DBOSErrorCode.MaxStepRetriesExceeded,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.step_name, self.max_retries, self.errors))


class DBOSStepTimeoutError(DBOSException):
    def __init__(self, step_name: str, timeout_seconds: float) -> None:
        self.step_name = step_name
        self.timeout_seconds = timeout_seconds
        super().__init__(
            f"Step {step_name} was cancelled after exceeding its timeout of "
            f"{timeout_seconds} seconds",
            DBOSErrorCode.StepTimeout,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.step_name, self.timeout_seconds))


class DBOSConflictingRegistrationError(DBOSException):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"Operation (Name: {name}) is already registered with a conflicting function type",
            DBOSErrorCode.ConflictingRegistrationError,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.name,))


class DBOSUnexpectedStepError(DBOSException):
    def __init__(
        self, workflow_id: str, step_id: int, expected_name: str, recorded_name: str
    ) -> None:
        self.workflow_id = workflow_id
        self.step_id = step_id
        self.expected_name = expected_name
        self.recorded_name = recorded_name
        super().__init__(
            f"During execution of workflow {workflow_id} step {step_id}, function "
            f"{recorded_name} was recorded when {expected_name} was expected. "
            "Check that your workflow is deterministic.",
            DBOSErrorCode.UnexpectedStep,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.workflow_id, self.step_id, self.expected_name, self.recorded_name)
        return (self.__class__, args)


class DBOSPatchNondeterminismError(DBOSException):
    def __init__(self, workflow_id: str, patch_name: str, details: str) -> None:
        self.workflow_id = workflow_id
        self.patch_name = patch_name
        self.details = details
        super().__init__(
            f"Cannot deterministically apply patch {patch_name} in workflow {workflow_id}: "
            f"{details}",
            DBOSErrorCode.PatchNondeterminism,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.patch_name, self.details))


class DBOSQueueDeduplicatedError(DBOSException):
    def __init__(self, workflow_id: str, queue_name: str, deduplication_id: str) -> None:
        self.workflow_id = workflow_id
        self.queue_name = queue_name
        self.deduplication_id = deduplication_id
        super().__init__(
            f"Workflow {workflow_id} was deduplicated due to an existing workflow in queue "
            f"{queue_name} with deduplication ID {deduplication_id}.",
            DBOSErrorCode.QueueDeduplicated,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.queue_name, self.deduplication_id))


class DBOSAwaitedWorkflowCancelledError(DBOSException):
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"Awaited workflow {workflow_id} was cancelled", DBOSErrorCode.AwaitedWorkflowCancelled
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id,))


class DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(DBOSException):
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"Awaited workflow {workflow_id} exceeded its maximum recovery attempts",
            DBOSErrorCode.AwaitedWorkflowMaxRecoveryAttemptsExceeded,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id,))


class DBOSWorkflowCancelledError(DBOSBaseException):
    # A BaseException so that a broad ``except Exception`` in user code cannot keep a cancelled
    # workflow running past its next durable operation.
    def __init__(self, msg: str) -> None:
        super().__init__(msg, DBOSErrorCode.WorkflowCancelled)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message,))


class DBOSWorkflowConflictIDError(DBOSBaseException):
    # A BaseException: the other execution owns the checkpoint, so this one must stop, not
    # carry on from a user's ``except Exception``.
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"Conflicting workflow ID {workflow_id}", DBOSErrorCode.ConflictingIDError)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id,))


class DBOSStepNondeterminismError(DBOSException):
    def __init__(self, workflow_id: str, step_id: int, details: str | None = None) -> None:
        self.workflow_id = workflow_id
        self.step_id = step_id
        self.details = details
        super().__init__(
            _with_detail(
                f"Step {step_id} of workflow {workflow_id} was recorded twice with different "
                "results by the same execution",
                details,
            )
            + ". Check that your workflow is deterministic.",
            DBOSErrorCode.StepNondeterminism,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.step_id, self.details))


class DBOSWorkflowIDInUseError(DBOSException):
    def __init__(self, workflow_id: str, workflow_status: str, workflow_name: str) -> None:
        self.workflow_id = workflow_id
        self.workflow_status = workflow_status
        self.workflow_name = workflow_name
        super().__init__(
            f"Workflow ID {workflow_id} is already in use by a workflow with status "
            f"{workflow_status} (workflow name {workflow_name})",
            DBOSErrorCode.WorkflowIDInUse,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.workflow_id, self.workflow_status, self.workflow_name))


class DBOSQueryTimeoutError(DBOSException):
    def __init__(self, operation: str, timeout_seconds: float) -> None:
        self.operation = operation
        self.timeout_seconds = timeout_seconds
        super().__init__(
            f"Query {operation} was cancelled after exceeding its timeout of "
            f"{timeout_seconds} seconds",
            DBOSErrorCode.QueryTimeout,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.operation, self.timeout_seconds))
