"""The DBOS exceptions: message text, codes, base classes and pickling."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from dbos import _error as error
from dbos._error import DBOSErrorCode

# (error, code, exact message)
CASES: list[tuple[BaseException, int, str]] = [
    (
        error.DBOSConflictingWorkflowError(
            "wf-1",
            "Workflow already exists with a different function name: a, but the provided "
            "function name is: b",
        ),
        9,
        "Conflicting workflow invocation with the same ID (wf-1): Workflow already exists with a "
        "different function name: a, but the provided function name is: b",
    ),
    (
        error.DBOSRecoveryError("wf-1", "status row is missing"),
        2,
        "Recovery error for workflow ID wf-1: status row is missing",
    ),
    (
        error.DBOSInitializationError("bad URL"),
        3,
        "Error initializing DBOS Transact: bad URL",
    ),
    (
        error.DBOSWorkflowFunctionNotFoundError("<NONE>", "function f is not registered"),
        4,
        "Could not execute workflow id: <NONE>: function f is not registered",
    ),
    (
        error.DBOSNonExistentWorkflowError("target", "wf-9"),
        5,
        "Non-existent target workflow ID: wf-9",
    ),
    (
        error.DBOSStreamTimeoutError("wf-1", "k", 2.5),
        16,
        "No value arrived on stream k of workflow wf-1 within 2.5 seconds",
    ),
    (
        error.DBOSStreamTimeoutError("wf-1", "k"),
        16,
        "No value arrived on stream k of workflow wf-1",
    ),
    (
        error.DBOSStreamNondeterminismError("wf-1", "k"),
        17,
        "Cannot deterministically read stream k of workflow wf-1: another checkpointed read of "
        "this stream overlaps this one",
    ),
    (
        error.MaxRecoveryAttemptsExceededError("wf-1", 3),
        6,
        "Workflow wf-1 has exceeded its maximum of 3 execution or recovery attempts. Further "
        "attempts to execute or recover it will fail.",
    ),
    (
        error.MaxRecoveryAttemptsExceededError("wf-1"),
        6,
        "Workflow wf-1 has exceeded its maximum execution or recovery attempts. Further "
        "attempts to execute or recover it will fail.",
    ),
    (
        error.DBOSNotAuthorizedError(
            "Function f has required roles, but user is not authenticated"
        ),
        8,
        "Function f has required roles, but user is not authenticated",
    ),
    (
        error.DBOSMaxStepRetriesExceeded("fetch", 3, [ValueError("a"), KeyError("b")]),
        7,
        "Step fetch has exceeded its maximum of 3 retries",
    ),
    (
        error.DBOSStepTimeoutError("fetch", 1.5),
        18,
        "Step fetch was cancelled after exceeding its timeout of 1.5 seconds",
    ),
    (
        error.DBOSConflictingRegistrationError("my_fn"),
        25,
        "Operation (Name: my_fn) is already registered with a conflicting function type",
    ),
    (
        error.DBOSUnexpectedStepError("wf-1", 3, "step_b", "step_a"),
        11,
        "During execution of workflow wf-1 step 3, function step_a was recorded when step_b was "
        "expected. Check that your workflow is deterministic.",
    ),
    (
        error.DBOSPatchNondeterminismError("wf-1", "v2", "step 4 was already recorded"),
        15,
        "Cannot deterministically apply patch v2 in workflow wf-1: step 4 was already recorded",
    ),
    (
        error.DBOSQueueDeduplicatedError("wf-1", "q", "dedup-1"),
        12,
        "Workflow wf-1 was deduplicated due to an existing workflow in queue q with "
        "deduplication ID dedup-1.",
    ),
    (
        error.DBOSAwaitedWorkflowCancelledError("wf-1"),
        13,
        "Awaited workflow wf-1 was cancelled",
    ),
    (
        error.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded("wf-1"),
        14,
        "Awaited workflow wf-1 exceeded its maximum recovery attempts",
    ),
    (
        error.DBOSWorkflowCancelledError("Workflow wf-1 is cancelled. Aborting function."),
        10,
        "Workflow wf-1 is cancelled. Aborting function.",
    ),
    (
        error.DBOSWorkflowConflictIDError("wf-1"),
        1,
        "Conflicting workflow ID wf-1",
    ),
    (
        error.DBOSStepNondeterminismError("wf-1", 2),
        26,
        "Step 2 of workflow wf-1 was recorded twice with different results by the same "
        "execution. Check that your workflow is deterministic.",
    ),
    (
        error.DBOSStepNondeterminismError("wf-1", 2, "first SUCCESS, now ERROR"),
        26,
        "Step 2 of workflow wf-1 was recorded twice with different results by the same "
        "execution: first SUCCESS, now ERROR. Check that your workflow is deterministic.",
    ),
    (
        error.DBOSWorkflowIDInUseError("wf-1", "SUCCESS", "my_workflow"),
        27,
        "Workflow ID wf-1 is already in use by a workflow with status SUCCESS (workflow name "
        "my_workflow)",
    ),
    (
        error.DBOSQueryTimeoutError("list_workflows", 30.0),
        28,
        "Query list_workflows was cancelled after exceeding its timeout of 30.0 seconds",
    ),
]

BASE_EXCEPTIONS = (error.DBOSWorkflowCancelledError, error.DBOSWorkflowConflictIDError)


def _ids(case: tuple[BaseException, int, str]) -> str:
    return type(case[0]).__name__


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_message_code_and_str(case: tuple[BaseException, int, str]) -> None:
    exc, code, message = case
    assert isinstance(exc, (error.DBOSException, error.DBOSBaseException))
    assert exc.message == message
    assert exc.dbos_error_code == code
    assert type(exc.dbos_error_code) is int
    assert str(exc) == f"DBOS Error {code}: {message}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_base_class(case: tuple[BaseException, int, str]) -> None:
    exc = case[0]
    if isinstance(exc, BASE_EXCEPTIONS):
        assert isinstance(exc, error.DBOSBaseException)
        assert not isinstance(exc, Exception)
    else:
        assert isinstance(exc, error.DBOSException)
        assert isinstance(exc, Exception)


def _comparable_state(exc: BaseException) -> dict[str, Any]:
    state = dict(vars(exc))
    if "errors" in state:
        state["errors"] = [(type(e), e.args) for e in state["errors"]]
    return state


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_pickle_round_trip_keeps_type_and_attributes(case: tuple[BaseException, int, str]) -> None:
    exc = case[0]
    copy = pickle.loads(pickle.dumps(exc, pickle.HIGHEST_PROTOCOL))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert _comparable_state(copy) == _comparable_state(exc)


def test_only_authorization_errors_carry_http_403() -> None:
    for exc, _, _ in CASES:
        expected = 403 if isinstance(exc, error.DBOSNotAuthorizedError) else None
        assert exc.status_code == expected  # type: ignore[attr-defined]


def test_base_exception_escapes_except_exception() -> None:
    def body() -> str:
        try:
            raise error.DBOSWorkflowCancelledError("Workflow w is cancelled. Aborting function.")
        except Exception:
            return "swallowed"

    with pytest.raises(error.DBOSWorkflowCancelledError):
        body()


def test_generic_roots_format_without_a_code_and_pickle() -> None:
    for root in (error.DBOSException, error.DBOSBaseException):
        exc = root("not inside a workflow")
        assert str(exc) == "DBOS Error: not inside a workflow"
        assert exc.dbos_error_code is None
        assert exc.status_code is None
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is root
        assert str(copy) == str(exc)
    coded = error.DBOSException("boom", DBOSErrorCode.RecoveryError)
    assert str(pickle.loads(pickle.dumps(coded))) == "DBOS Error 2: boom"


def test_max_step_retries_keeps_attempt_errors_through_pickle() -> None:
    attempts = [ValueError("first"), RuntimeError("second")]
    exc = error.DBOSMaxStepRetriesExceeded("fetch", 2, attempts)
    attempts.append(KeyError("late"))
    copy = pickle.loads(pickle.dumps(exc))
    assert copy.step_name == "fetch"
    assert copy.max_retries == 2
    assert [(type(e), e.args) for e in copy.errors] == [
        (ValueError, ("first",)),
        (RuntimeError, ("second",)),
    ]


def test_useful_attributes_are_kept() -> None:
    unexpected = error.DBOSUnexpectedStepError("wf", 4, "expected", "recorded")
    assert (unexpected.workflow_id, unexpected.step_id) == ("wf", 4)
    assert (unexpected.expected_name, unexpected.recorded_name) == ("expected", "recorded")
    missing = error.DBOSNonExistentWorkflowError("target", "wf-2")
    assert (missing.destination, missing.destination_id, missing.workflow_id) == (
        "target",
        "wf-2",
        "wf-2",
    )
    in_use = error.DBOSWorkflowIDInUseError("wf", "PENDING", "name")
    assert (in_use.workflow_id, in_use.workflow_status, in_use.workflow_name) == (
        "wf",
        "PENDING",
        "name",
    )
    dedup = error.DBOSQueueDeduplicatedError("wf", "q", "d")
    assert (dedup.queue_name, dedup.deduplication_id) == ("q", "d")


def test_error_codes_are_the_published_numbers() -> None:
    assert {code.name: code.value for code in DBOSErrorCode} == {
        "ConflictingIDError": 1,
        "RecoveryError": 2,
        "InitializationError": 3,
        "WorkflowFunctionNotFound": 4,
        "NonExistentWorkflowError": 5,
        "MaxRecoveryAttemptsExceeded": 6,
        "MaxStepRetriesExceeded": 7,
        "NotAuthorized": 8,
        "ConflictingWorkflowError": 9,
        "WorkflowCancelled": 10,
        "UnexpectedStep": 11,
        "QueueDeduplicated": 12,
        "AwaitedWorkflowCancelled": 13,
        "AwaitedWorkflowMaxRecoveryAttemptsExceeded": 14,
        "PatchNondeterminism": 15,
        "StreamTimeout": 16,
        "StreamNondeterminism": 17,
        "StepTimeout": 18,
        "ConflictingRegistrationError": 25,
        "StepNondeterminism": 26,
        "WorkflowIDInUse": 27,
        "QueryTimeout": 28,
    }


def test_every_public_error_class_is_covered() -> None:
    public = {
        obj
        for name, obj in vars(error).items()
        if isinstance(obj, type) and issubclass(obj, BaseException) and not name.startswith("_")
    }
    covered = {type(exc) for exc, _, _ in CASES} | {error.DBOSException, error.DBOSBaseException}
    assert public == covered
