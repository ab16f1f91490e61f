"""The step flow: replay a recorded step, or run it with retries and checkpoint the outcome."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any

from dbos._core.retry import attempts_allowed, retry_delay_seconds
from dbos._core.status import CANCELLED
from dbos._error import (
    DBOSException,
    DBOSMaxStepRetriesExceeded,
    DBOSUnexpectedStepError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
)
from dbos._runtime import context
from dbos._runtime.context import StepStatus
from dbos._runtime.effects import CallUser, Flow, Offload, Sleep
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.registry import StepSpec
from dbos._runtime.runtime import Runtime
from dbos._storage.backend import Statement
from dbos._storage.records import RecordResult, StepRow, StepWrite

logger = logging.getLogger("dbos")


def cancelled_error(workflow_id: str) -> DBOSWorkflowCancelledError:
    return DBOSWorkflowCancelledError(f"Workflow {workflow_id} is cancelled. Aborting function.")


def begin_operation(rt: Runtime, ex: WorkflowExecution, function_id: int) -> StepRow | None:
    """Before a durable operation: stop if the workflow was cancelled; return its recording.

    No database round trip: what earlier runs recorded was loaded when this run began, and a
    cancel made in this process is an in-memory flag. A cancel made by another process is
    seen by the next checkpoint write, which returns the workflow's status.
    """
    if ex.workflow_id in rt.cancelled:
        raise cancelled_error(ex.workflow_id)
    return ex.recorded.get(function_id)


def replay(rt: Runtime, ex: WorkflowExecution, recorded: StepRow, expected_name: str) -> Any:
    """Return (or raise) what a recorded operation produced; its name must match."""
    if recorded.function_name != expected_name:
        raise DBOSUnexpectedStepError(
            ex.workflow_id, recorded.function_id, expected_name, recorded.function_name
        )
    if recorded.error is not None:
        raise rt.codec.decode_error(recorded.error, recorded.serialization)
    if recorded.output is None:
        return None
    return rt.codec.decode_value(recorded.output, recorded.serialization)


def record(
    rt: Runtime, ex: WorkflowExecution, write: StepWrite, operation: Sequence[Statement] = ()
) -> Flow[None]:
    """Checkpoint one operation, committing ``operation``'s writes with it (all or nothing).

    A race lost to another execution applies nothing of ``operation``; see ``settle``.
    """
    if operation:
        result = yield Offload(rt.db.steps.record_with, (write, operation))
    else:
        result = yield Offload(rt.db.steps.record, (write,))
    yield from settle(rt, ex, write, result)


def settle(
    rt: Runtime, ex: WorkflowExecution, write: StepWrite, result: RecordResult
) -> Flow[None]:
    """After recording ``write``: stop if it lost the race or the workflow was cancelled.

    Another execution having recorded it first means this one has lost the race: it stops
    and leaves the workflow to the winner.
    """
    if not result.recorded:
        completed_at = yield Offload(
            rt.db.steps.completed_at, (write.workflow_id, write.function_id)
        )
        # Our own write, retried after a lost acknowledgement, reads back identical.
        if completed_at != write.completed_at_epoch_ms:
            raise DBOSWorkflowConflictIDError(write.workflow_id)
    if result.workflow_status == CANCELLED:
        raise cancelled_error(ex.workflow_id)


def checkpoint_write(
    rt: Runtime,
    ex: WorkflowExecution,
    function_id: int,
    name: str,
    started_ms: int,
    *,
    output: str | None = None,
    error: str | None = None,
    child_workflow_id: str | None = None,
    completed_ms: int | None = None,
    serialization: str | None = None,
) -> StepWrite:
    return StepWrite(
        ex.workflow_id,
        function_id,
        name,
        output,
        error,
        serialization or rt.serializer_name,
        child_workflow_id,
        started_ms,
        rt.clock.now_ms() if completed_ms is None else completed_ms,
        rt.app_name,
    )


def _discard(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # never awaited: silence the "coroutine was never awaited" warning


def _should_retry(spec: StepSpec, exc: Exception) -> Flow[bool]:
    if spec.should_retry is None:
        return True
    # An effect, so that an async predicate is awaited by the async driver.
    verdict = yield CallUser(spec.should_retry, (exc,), {})
    if inspect.isawaitable(verdict):
        _discard(verdict)
        raise DBOSException(f"Step {spec.name} is synchronous but its should_retry is async")
    return bool(verdict)


def _attempts(
    spec: StepSpec,
    function_id: int,
    func: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    io: bool,
) -> Flow[tuple[Any, BaseException | None]]:
    """Run the body until it succeeds or may not be retried: (value, None) or (None, error)."""
    attempts = attempts_allowed(spec.retries_allowed, spec.max_attempts)
    retrying = spec.retries_allowed
    errors: list[BaseException] = []
    for attempt in range(attempts):
        status = StepStatus(
            function_id, attempt if retrying else None, attempts if retrying else None
        )
        token = context.enter_step(status)
        try:
            return (yield CallUser(func, args, kwargs, io)), None
        except Exception as exc:
            if not (yield from _should_retry(spec, exc)):
                return None, exc
            errors.append(exc)
            if attempt + 1 == attempts:
                if not retrying:
                    return None, exc
                return None, DBOSMaxStepRetriesExceeded(spec.name, attempts, errors)
            delay = retry_delay_seconds(spec.interval_seconds, spec.backoff_rate, attempt)
            logger.warning(
                "Step %s failed on attempt %d of %d (%r); retrying in %.2fs",
                spec.name, attempt + 1, attempts, exc, delay,
            )  # fmt: skip
            yield Sleep(delay)
        finally:
            context.leave_step(token)
    raise AssertionError("unreachable: the last attempt always returns")


def step_flow(
    rt: Runtime,
    ex: WorkflowExecution,
    spec: StepSpec,
    func: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    io: bool = False,
) -> Flow[Any]:
    """Replay the step recorded at the next function ID, or run ``func`` and record it.

    ``io`` marks ``func`` as a blocking call (an internal storage read), see CallUser.
    """
    function_id = ex.next_function_id()
    recorded = begin_operation(rt, ex, function_id)
    if recorded is not None:
        return replay(rt, ex, recorded, spec.name)
    started = rt.clock.now_ms()
    value, failure = yield from _attempts(spec, function_id, func, args, kwargs, io)
    output: str | None = None
    error: str | None = None
    if failure is None:
        try:
            output = rt.codec.encode_value(value, rt.codec.configured)
        except Exception as exc:  # an output we cannot store fails the step, durably
            failure = exc
    if failure is not None:
        error = rt.codec.encode_error(failure, rt.codec.configured)
        failure = as_replayed(rt, failure, error)
    write = checkpoint_write(rt, ex, function_id, spec.name, started, output=output, error=error)
    yield from record(rt, ex, write)
    if failure is not None:
        raise failure
    return value


def as_replayed(rt: Runtime, failure: BaseException, stored: str) -> BaseException:
    """The error a replay will raise, when it differs in type from the live one.

    An exception that cannot be stored faithfully is stored as a plain Exception; raising the
    live one now would send the workflow down a different ``except`` branch than its replay.
    """
    replayed = rt.codec.decode_error(stored, rt.serializer_name)
    return failure if type(replayed) is type(failure) else replayed
