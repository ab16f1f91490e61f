"""The transaction flow: user code in one application-database transaction, run exactly once.

Inside a workflow a transaction takes one function ID. A replay looks for its outcome in the
system database's checkpoints first, then in the application database's
``transaction_outputs``: the user's commit may have landed there although the process died
before the checkpoint did. A first run calls the function in a SQLAlchemy session, writes the
outcome row in that same database transaction, commits, and only then mirrors the outcome to
the system database. So the user's writes happen once, however often the workflow replays.

Serialization failures and lost connections are retried without limit (1 ms, x1.5, capped at
2 s). Each attempt first looks for the outcome row again, so a commit whose acknowledgement was
lost is found rather than repeated. Any other error is recorded, in an application-database
transaction of its own and then as the checkpoint, and raised.

A transaction called from inside a step is a plain database transaction (retried the same
way, with no function ID and nothing recorded): it is part of that step, as a nested step is.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbos._core.retry import TRANSACTION_RETRY_MAX_SECONDS, transaction_retry_delay_seconds
from dbos._error import DBOSUnexpectedStepError, DBOSWorkflowConflictIDError
from dbos._runtime import context
from dbos._runtime.context import StepStatus
from dbos._runtime.effects import CallUser, Flow, Offload, Sleep
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import (
    as_replayed,
    begin_operation,
    cancelled_error,
    checkpoint_write,
    record,
    replay,
)
from dbos._storage.records import StepRow, TransactionOutput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dbos._storage.app_database import ApplicationDatabase

logger = logging.getLogger("dbos")
# The levels @DBOS.transaction accepts. Postgres runs each as asked; SQLite runs every one of
# them as SERIALIZABLE, the only level it has for writers (see _storage/app_database.py).
ISOLATION_LEVELS = ("SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED")
NO_APPLICATION_DATABASE = (
    "Transactions can only be used if DBOS is configured with an application_database_url"
)

_session: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "dbos_sql_session", default=None
)


@dataclass(frozen=True)
class TransactionSpec:
    """A transaction's resolved options."""

    name: str
    isolation_level: str = "SERIALIZABLE"


class _RecordedElsewhere(Exception):
    """Another execution of the workflow committed this transaction's outcome first."""


def current_session() -> Session | None:
    """The session of the transaction running in this context, if any."""
    return _session.get()


def application_database(rt: Runtime) -> ApplicationDatabase:
    if rt.app_db is None:
        raise AssertionError(NO_APPLICATION_DATABASE)
    return rt.app_db


def _attempt(
    rt: Runtime,
    app_db: ApplicationDatabase,
    spec: TransactionSpec,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    step: StepStatus | None,
    outcome: Callable[[str], TransactionOutput] | None,
) -> tuple[Any, str | None]:
    """One attempt: the function and, when durable, its outcome row, committed together."""
    output: str | None = None
    with app_db.transaction(spec.isolation_level) as session:
        session_token = _session.set(session)
        step_token = None if step is None else context.enter_step(step)
        try:
            value = func(*args, **kwargs)
        finally:
            if step_token is not None:
                context.leave_step(step_token)
            _session.reset(session_token)
        if outcome is not None:
            # An output that cannot be stored fails the transaction: its writes roll back.
            output = rt.codec.encode_value(value, rt.codec.configured)
            if not app_db.insert_output(session, outcome(output)):
                raise _RecordedElsewhere
    return value, output


def _wait_to_retry(
    rt: Runtime, spec: TransactionSpec, attempt: int, exc: Exception, workflow_id: str | None
) -> Flow[None]:
    delay = transaction_retry_delay_seconds(attempt)
    # Conflicts are routine under SERIALIZABLE; only a failure that persists is worth a warning.
    log = logger.warning if delay >= TRANSACTION_RETRY_MAX_SECONDS else logger.debug
    log("Transaction %s hit a retriable error (%s); retrying in %.3fs", spec.name, exc, delay)
    yield Sleep(delay)
    if workflow_id is not None and workflow_id in rt.cancelled:
        raise cancelled_error(workflow_id)


def _record_error(rt: Runtime, app_db: ApplicationDatabase, row: TransactionOutput) -> Flow[None]:
    """Record a failed transaction's error in the application database, past lost connections."""
    attempt = 0
    while True:
        try:
            inserted = yield Offload(app_db.record_error, (row,))
            if inserted:
                return
            existing = yield Offload(app_db.get_output, (row.workflow_id, row.function_id))
        except Exception as exc:
            if not app_db.retriable(exc):
                raise
            yield from _wait_to_retry(rt, TransactionSpec(row.function_name), attempt, exc, None)
            attempt += 1
            continue
        # Our own earlier attempt, committed before its acknowledgement was lost, reads back
        # identical; anything else was recorded by another execution of the workflow.
        if existing is None or existing.error != row.error:
            raise DBOSWorkflowConflictIDError(row.workflow_id)
        return


def _replay_committed(
    rt: Runtime,
    ex: WorkflowExecution,
    spec: TransactionSpec,
    found: TransactionOutput,
    started: int,
) -> Flow[Any]:
    """An outcome that committed without its checkpoint: write the checkpoint, then replay it."""
    if found.function_name != spec.name:
        raise DBOSUnexpectedStepError(
            ex.workflow_id, found.function_id, spec.name, found.function_name
        )
    write = checkpoint_write(
        rt, ex, found.function_id, spec.name, started, output=found.output, error=found.error
    )
    yield from record(rt, ex, write)
    row = StepRow(
        found.function_id, found.function_name, found.output, found.error, None, rt.serializer_name
    )
    return replay(rt, ex, row, spec.name)


def transaction_flow(
    rt: Runtime,
    ex: WorkflowExecution,
    spec: TransactionSpec,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Flow[Any]:
    """A transaction as a durable operation of the workflow ``ex``."""
    app_db = application_database(rt)
    function_id = ex.next_function_id()
    recorded = begin_operation(rt, ex, function_id)
    if recorded is not None:
        return replay(rt, ex, recorded, spec.name)
    started = rt.clock.now_ms()

    def outcome(output: str | None, error: str | None = None) -> TransactionOutput:
        return TransactionOutput(
            ex.workflow_id, function_id, spec.name, output, error, rt.executor_id, rt.clock.now_ms()
        )

    step = StepStatus(function_id, None, None)
    found: TransactionOutput | None = None
    failure: Exception | None = None
    value: Any = None
    output: str | None = None
    attempt = 0
    while True:
        try:
            found = yield Offload(app_db.get_output, (ex.workflow_id, function_id))
            if found is None:
                call = CallUser(_attempt, (rt, app_db, spec, func, args, kwargs, step, outcome), {})
                value, output = yield call
        except _RecordedElsewhere:
            raise DBOSWorkflowConflictIDError(ex.workflow_id) from None
        except Exception as exc:
            if app_db.retriable(exc):
                yield from _wait_to_retry(rt, spec, attempt, exc, ex.workflow_id)
                attempt += 1
                continue
            failure = exc
        break
    if failure is not None:
        error = rt.codec.encode_error(failure, rt.codec.configured)
        yield from _record_error(rt, app_db, outcome(None, error))
        yield from record(
            rt, ex, checkpoint_write(rt, ex, function_id, spec.name, started, error=error)
        )
        raise as_replayed(rt, failure, error)
    if found is not None:
        return (yield from _replay_committed(rt, ex, spec, found, started))
    yield from record(
        rt, ex, checkpoint_write(rt, ex, function_id, spec.name, started, output=output)
    )
    return value


def plain_transaction_flow(
    rt: Runtime,
    spec: TransactionSpec,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Flow[Any]:
    """A transaction that is part of an enclosing step: retried, never recorded."""
    app_db = application_database(rt)
    attempt = 0
    while True:
        try:
            value, _ = yield CallUser(
                _attempt, (rt, app_db, spec, func, args, kwargs, None, None), {}
            )
        except Exception as exc:
            if not app_db.retriable(exc):
                raise
            yield from _wait_to_retry(rt, spec, attempt, exc, None)
            attempt += 1
            continue
        return value
