"""Workflow flows: start a workflow (root or child), run its body, and own its outcome."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from dbos._core.queue_rules import QueueLimits, enqueue_violation
from dbos._core.serialization import Serializer
from dbos._core.status import DELAYED, ENQUEUED, ERROR, PENDING, SUCCESS
from dbos._error import (
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSQueueDeduplicatedError,
    DBOSUnexpectedStepError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
    DBOSWorkflowIDInUseError,
)
from dbos._runtime import context
from dbos._runtime.context import DBOSContext
from dbos._runtime.effects import CallUser, Flow, Offload
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.ids import random_id
from dbos._runtime.outcomes import resolve, wait_outcome
from dbos._runtime.registry import WorkflowInfo
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import begin_operation, checkpoint_write, record, replay
from dbos._runtime.targets import Target, assumed_role, split_target
from dbos._storage.backend import DuplicateKey
from dbos._storage.records import InsertOutcome, StepRow, WorkflowInsert

logger = logging.getLogger("dbos")
GET_RESULT = "DBOS.getResult"
DIRECT_WAIT_POLLING_SEC = 1.0


@dataclass(frozen=True)
class RunTicket:
    """What one run of a workflow body needs besides its function and arguments."""

    workflow_id: str
    serializer: Serializer
    owner: str  # the token its insert or claim stamped; its outcome write presents it
    recorded: dict[int, StepRow] | None = None  # what earlier runs checkpointed
    deadline_ms: int | None = None
    authenticated_user: str | None = None
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None


@dataclass(frozen=True)
class Started:
    """Where a start landed: the workflow's ID and whether this caller must run its body."""

    workflow_id: str
    run_here: bool
    ticket: RunTicket
    result_function_id: int | None = None  # reserved for a direct call's DBOS.getResult


def new_workflow_id() -> str:
    return random_id()


def refuse_inside_step() -> None:
    if context.current_step() is not None and context.enclosing_execution() is not None:
        raise AssertionError("Steps must not start, call or enqueue workflows")


def check_identity(workflow_id: str, name: str, target: Target, found: InsertOutcome) -> None:
    """Reusing an ID for a different function (or instance) is a caller bug, not a replay."""
    if found.name != name:
        raise DBOSConflictingWorkflowError(
            workflow_id,
            f"Workflow already exists with a different function name: {found.name}, "
            f"but the provided function name is: {name}",
        )
    if (found.class_name, found.config_name) != (target.class_name, target.config_name):
        raise DBOSConflictingWorkflowError(
            workflow_id,
            f"Workflow already exists with a different class name or config name: "
            f"{found.class_name}/{found.config_name}, but the provided ones are: "
            f"{target.class_name}/{target.config_name}",
        )


def replay_child(parent: WorkflowExecution, recorded: StepRow, name: str, rt: Runtime) -> str:
    """The child a parent's earlier run recorded at this function ID (or its error)."""
    if recorded.function_name != name:
        raise DBOSUnexpectedStepError(
            parent.workflow_id, recorded.function_id, name, recorded.function_name
        )
    if recorded.error is not None:
        raise rt.codec.decode_error(recorded.error, recorded.serialization)
    assert recorded.child_workflow_id is not None
    return recorded.child_workflow_id


def choose_workflow_id(
    parent: WorkflowExecution | None, function_id: int
) -> tuple[str, str | None]:
    """The SetWorkflowID value (consumed here), else ``<parent>-<fid>``, else a fresh UUID."""
    explicit_id, reuse_policy = context.take_workflow_id()
    if explicit_id is not None:
        return explicit_id, reuse_policy
    if parent is not None:
        return f"{parent.workflow_id}-{function_id}", None
    return new_workflow_id(), None


def _new_row(
    rt: Runtime,
    info: WorkflowInfo,
    workflow_id: str,
    inputs: str,
    serializer: Serializer,
    status: str,
    queue_name: str | None,
    parent: WorkflowExecution | None,
    target: Target,
    role: str | None,
    timeouts: tuple[int | None, int | None],
    created_at: int,
) -> WorkflowInsert:
    ctx = context.current()
    roles = None if ctx is None or ctx.authenticated_roles is None else ctx.authenticated_roles
    attributes = None if ctx is None or ctx.attributes is None else ctx.attributes
    return WorkflowInsert(
        workflow_id=workflow_id,
        status=status,
        name=info.name,
        class_name=target.class_name,
        config_name=target.config_name,
        inputs=inputs,
        serialization=serializer.name(),
        executor_id=rt.executor_id if status == PENDING else None,
        application_version=rt.app_version,
        application_name=rt.app_name,
        application_id=rt.app_id,
        created_at=created_at,
        owner_xid=new_workflow_id(),
        recovery_attempts=1 if status == PENDING else 0,
        queue_name=queue_name,
        authenticated_user=None if ctx is None else ctx.authenticated_user,
        assumed_role=role,
        authenticated_roles=None if roles is None else json.dumps(roles),
        attributes=None if attributes is None else json.dumps(attributes),
        parent_workflow_id=parent.workflow_id if parent is not None else None,
        workflow_timeout_ms=timeouts[0],
        workflow_deadline_epoch_ms=timeouts[1],
    )


def timeout_and_deadline(
    parent: WorkflowExecution | None, status: str, created_at: int
) -> tuple[int | None, int | None]:
    """The row's timeout and absolute deadline, for a row created at ``created_at``.

    A SetWorkflowTimeout around the start wins (None clears an inherited deadline); else a
    child inherits its parent's absolute deadline. An enqueued workflow's own timeout only
    becomes a deadline when it is dequeued.
    """
    ctx = context.current()
    if ctx is not None and ctx.timeout_set:
        if ctx.workflow_timeout_sec is None:
            return None, None
        timeout_ms = int(ctx.workflow_timeout_sec * 1000)
        return timeout_ms, None if status != PENDING else created_at + timeout_ms
    if parent is not None and parent.deadline_ms is not None:
        return None, parent.deadline_ms
    return None, None


def _with_enqueue_settings(
    row: WorkflowInsert, queue_name: str | None, queue_limits: QueueLimits | None
) -> WorkflowInsert:
    """Apply SetEnqueueOptions; options that need a queue are refused without one.

    ``queue_limits``: the queue's settings when it is declared in this process, so that a
    partition key missing on a partitioned queue (or given on another) is refused here.
    """
    ctx = context.current()
    settings = None if ctx is None else ctx.enqueue
    if queue_name is not None:
        key = None if settings is None else settings.queue_partition_key
        dedup = None if settings is None else settings.deduplication_id
        violation = enqueue_violation(queue_name, queue_limits, key, dedup)
        if violation is not None:
            raise DBOSException(violation)
    if settings is None:
        return row
    if queue_name is None:
        if settings.queue_only:
            raise DBOSException(
                f"{', '.join(settings.queue_only)} set on a workflow that is not being enqueued"
            )
        check_duplication_policy(settings.duplication_policy, None, None)
        if settings.app_version is None:
            return row
        return replace(row, application_version=settings.app_version)
    check_duplication_policy(settings.duplication_policy, queue_name, settings.deduplication_id)
    delayed = settings.delay_until_epoch_ms is not None
    return replace(
        row,
        status=DELAYED if delayed else row.status,
        delay_until_epoch_ms=settings.delay_until_epoch_ms,
        deduplication_id=settings.deduplication_id,
        priority=settings.priority or 0,
        queue_partition_key=settings.queue_partition_key,
        application_version=settings.app_version or row.application_version,
    )


def check_duplication_policy(
    policy: str | None, queue_name: str | None, deduplication_id: str | None
) -> None:
    """Policy "return-existing" only applies to an enqueue with a deduplication ID."""
    if policy == "return-existing" and (queue_name is None or deduplication_id is None):
        raise DBOSException(
            "duplication_policy='return-existing' needs a queue and a deduplication_id"
        )


def _duplication_policy() -> str | None:
    ctx = context.current()
    return None if ctx is None or ctx.enqueue is None else ctx.enqueue.duplication_policy


def insert_flow(
    rt: Runtime,
    row: WorkflowInsert,
    name: str,
    parent: WorkflowExecution | None,
    function_id: int,
    policy: str | None,
) -> Flow[InsertOutcome | str]:
    """Insert the row, or find what holds its deduplication ID.

    With "return-existing" a taken ID gives the holder's workflow ID (retrying the insert
    if the holder let go of it meanwhile); otherwise the enqueue is refused, durably
    inside a parent, so a replay raises the same error instead of enqueueing.
    """
    # Within a burst of enqueues onto one queue, only the first notifies other processes at
    # once; a notice for the rest follows (see QueueNotices).
    quiet = row.status == ENQUEUED and rt.queue_notices.quiet(row.queue_name or "")
    while True:
        try:
            found: InsertOutcome = yield Offload(rt.db.workflows.insert, (row, quiet))
            return found
        except DuplicateKey:
            if row.deduplication_id is None or row.queue_name is None:
                raise
        if policy != "return-existing":
            break
        holder = yield Offload(
            rt.db.workflows.deduplication_holder, (row.queue_name, row.deduplication_id)
        )
        if holder is not None:
            return str(holder)
    error = DBOSQueueDeduplicatedError(row.workflow_id, row.queue_name, row.deduplication_id)
    if parent is not None:  # a replay of the parent re-raises it instead of enqueueing
        write = checkpoint_write(
            rt,
            parent,
            function_id,
            name,
            row.created_at,
            error=rt.codec.encode_error(error, rt.codec.configured),
            child_workflow_id=row.workflow_id,
        )
        yield from record(rt, parent, write)
    raise error


def record_child(
    rt: Runtime,
    parent: WorkflowExecution | None,
    function_id: int,
    name: str,
    started_ms: int,
    child_id: str,
) -> Flow[None]:
    """Inside a parent, checkpoint which workflow its start or enqueue stands for."""
    if parent is not None:
        write = checkpoint_write(
            rt, parent, function_id, name, started_ms, child_workflow_id=child_id
        )
        yield from record(rt, parent, write)


def begin_workflow(
    rt: Runtime,
    info: WorkflowInfo,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    status: str = PENDING,
    queue_name: str | None = None,
    queue_limits: QueueLimits | None = None,
    direct_call: bool = False,
) -> Flow[Started]:
    """Insert the workflow's row (or find it), and inside a parent record it as a child.

    Inputs are serialised before anything is written, so an argument that cannot be stored
    fails the call with nothing half-written. A direct call inside a parent reserves its
    DBOS.getResult ID together with the child's, before anything can await: concurrent
    calls (asyncio.gather) then number their operations the same on every run.
    """
    refuse_inside_step()
    serializer = rt.codec.serializer_for(info.serialization_type)
    parent = context.current_execution()
    function_id = parent.next_function_id() if parent is not None else 0
    result_id = parent.next_function_id() if parent is not None and direct_call else None
    # Consumed even when the child is replayed, so a later child cannot take this ID.
    workflow_id, reuse_policy = choose_workflow_id(parent, function_id)
    if parent is not None:
        recorded = begin_operation(rt, parent, function_id)
        if recorded is not None:
            child_id = replay_child(parent, recorded, info.name, rt)
            return Started(child_id, False, RunTicket(child_id, serializer, ""), result_id)
    target = split_target(info, args)
    role = assumed_role(info, context.current())  # refused before anything is written
    inputs = rt.codec.encode_args(target.stored_args, kwargs, serializer)
    # One clock reading for both, so the deadline is exactly the timeout after creation.
    created_at = rt.clock.now_ms()
    timeouts = timeout_and_deadline(parent, status, created_at)
    row = _new_row(
        rt, info, workflow_id, inputs, serializer, status, queue_name, parent, target, role,
        timeouts, created_at,
    )  # fmt: skip
    row = _with_enqueue_settings(row, queue_name, queue_limits)
    found = yield from insert_flow(rt, row, info.name, parent, function_id, _duplication_policy())
    if isinstance(found, str):  # "return-existing": the holder stands in for this workflow
        yield from record_child(rt, parent, function_id, info.name, row.created_at, found)
        return Started(found, False, RunTicket(found, serializer, ""), result_id)
    if not found.created:
        _check_existing(workflow_id, info, target, found, reuse_policy, queue_name)
    yield from record_child(rt, parent, function_id, info.name, row.created_at, workflow_id)
    if status == ENQUEUED:
        rt.wake_queues(queue_name)
    ticket = RunTicket(
        workflow_id,
        serializer,
        row.owner_xid,
        deadline_ms=timeouts[1],
        authenticated_user=row.authenticated_user,
        authenticated_roles=json.loads(row.authenticated_roles)
        if row.authenticated_roles
        else None,
        assumed_role=row.assumed_role,
    )
    return Started(workflow_id, found.created and status == PENDING, ticket, result_id)


def _check_existing(
    workflow_id: str,
    info: WorkflowInfo,
    target: Target,
    found: InsertOutcome,
    reuse_policy: str | None,
    queue_name: str | None,
) -> None:
    """The ID exists already: the same workflow (a re-invocation), or a caller error."""
    check_identity(workflow_id, info.name, target, found)
    if reuse_policy == "reject":
        raise DBOSWorkflowIDInUseError(workflow_id, found.status, found.name)
    if found.queue_name != queue_name and queue_name is not None:
        logger.warning(
            "Workflow %s already exists on queue %s; not moving it to %s",
            workflow_id, found.queue_name, queue_name,
        )  # fmt: skip


def execute_flow(
    rt: Runtime,
    info: WorkflowInfo,
    ticket: RunTicket,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Flow[Any]:
    """Run the body of a workflow this process owns and record its outcome.

    The caller must have activated ``workflow_id`` in ``rt``. The outcome is written only
    while the row is PENDING; if something else decided it first (a cancel, a resume, a
    dead-letter, another execution), that recorded outcome is what this returns.
    """
    workflow_id = ticket.workflow_id
    if ticket.deadline_ms is not None:
        rt.deadlines.watch(workflow_id, ticket.deadline_ms)
    recorded = ticket.recorded
    try:
        while True:
            execution = WorkflowExecution(
                rt, workflow_id, info.name, ticket.serializer, recorded, ticket.deadline_ms
            )
            ctx = DBOSContext(
                execution=execution,
                authenticated_user=ticket.authenticated_user,
                authenticated_roles=ticket.authenticated_roles,
                assumed_role=ticket.assumed_role,
            )
            token = context.set_current(ctx)
            try:
                written = yield from _run_and_record(
                    rt, info, workflow_id, args, kwargs, ticket.serializer, ticket.owner
                )
            finally:
                context.reset(token)
            if written is not _REPLAY:
                break
            # Another run recorded what this one was about to: run the body again as a
            # replay of everything recorded so far, and go on from there.
            reloaded = yield Offload(rt.db.steps.load, (workflow_id,))
            if len(reloaded) <= len(recorded or {}):
                written = _LOST  # nothing new to replay: no progress to be had
                break
            recorded = reloaded
    finally:
        # Released before any wait below: if the row went back on a queue, this process
        # must be free to claim and run it again.
        rt.deactivate(workflow_id)
    if written is _LOST:
        return (yield from recorded_outcome(rt, workflow_id))
    return written


class _Lost:
    """This run no longer owns the workflow's outcome."""


class _Replay:
    """Another run recorded an operation first; this run owns the row, so it carries on."""


_LOST = _Lost()
_REPLAY = _Replay()


def _run_and_record(
    rt: Runtime,
    info: WorkflowInfo,
    workflow_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    serializer: Serializer,
    owner: str,
) -> Flow[Any]:
    """The body's result once recorded as the outcome; _LOST if another actor decided it."""
    try:
        value = yield CallUser(info.func, args, kwargs)
    except DBOSWorkflowCancelledError:
        return _LOST
    except DBOSWorkflowConflictIDError:
        # Another run of this workflow recorded an operation first: it was running when
        # this one claimed the row (a re-claim or a resume). The run that owns the row is
        # the one whose outcome counts; if that is this one, it must go on (adopting what
        # the other recorded), or nobody would finish the workflow.
        owns = yield Offload(rt.db.workflows.owns, (workflow_id, owner))
        return _REPLAY if owns else _LOST
    except Exception as exc:
        error: str | None = rt.codec.encode_error(exc, serializer)
        written = yield Offload(
            rt.db.workflows.record_outcome,
            (workflow_id, ERROR, None, error, rt.clock.now_ms(), owner),
        )
        if written:
            raise
        return _LOST
    try:
        output = rt.codec.encode_value(value, serializer)
    except Exception as exc:  # an unstorable result fails the workflow, durably
        error = rt.codec.encode_error(exc, serializer)
        status, output = ERROR, None
    else:
        status, error = SUCCESS, None
    written = yield Offload(
        rt.db.workflows.record_outcome,
        (workflow_id, status, output, error, rt.clock.now_ms(), owner),
    )
    if not written:
        return _LOST
    if status == ERROR:
        raise rt.codec.decode_error(error or "", serializer.name())
    return value


def recorded_outcome(rt: Runtime, workflow_id: str) -> Flow[Any]:
    """The outcome some other actor recorded for a workflow whose run this process lost."""
    current = yield Offload(rt.db.workflows.get_outcome, (workflow_id,))
    if current is None:
        raise DBOSNonExistentWorkflowError("target", workflow_id)
    outcome = yield from wait_outcome(rt, workflow_id, DIRECT_WAIT_POLLING_SEC)
    return resolve(rt, workflow_id, outcome)


def get_result_flow(
    rt: Runtime,
    workflow_id: str,
    polling_interval_sec: float,
    known: Any = None,
    function_id: int | None = None,
) -> Flow[Any]:
    """Await a workflow; inside a workflow, checkpoint what it returned as DBOS.getResult.

    ``known`` is a zero-argument callable that produces the result (or raises) when the
    caller already has it, as a direct child call does, so no wait is needed.
    ``function_id`` is the ID a direct call reserved; otherwise the next one is taken.
    """
    parent = context.current_execution()
    if parent is None:
        outcome = yield from wait_outcome(rt, workflow_id, polling_interval_sec)
        return resolve(rt, workflow_id, outcome)
    if function_id is None:
        function_id = parent.next_function_id()
    recorded = begin_operation(rt, parent, function_id)
    if recorded is not None:
        return replay(rt, parent, recorded, GET_RESULT)
    started = rt.clock.now_ms()
    value: Any = None
    failure: Exception | None = None
    try:
        if known is not None:
            value = known()
        else:
            outcome = yield from wait_outcome(rt, workflow_id, polling_interval_sec)
            value = resolve(rt, workflow_id, outcome)
    except Exception as exc:
        failure = exc
    codec = rt.codec
    write = checkpoint_write(
        rt,
        parent,
        function_id,
        GET_RESULT,
        started,
        output=None if failure is not None else codec.encode_value(value, codec.configured),
        error=None if failure is None else codec.encode_error(failure, codec.configured),
        child_workflow_id=workflow_id,
    )
    yield from record(rt, parent, write)
    if failure is not None:
        raise failure
    return value


def call_flow(
    rt: Runtime, info: WorkflowInfo, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Flow[Any]:
    """A direct call: start, run the body in this thread, return its result.

    An ID that exists already (or runs elsewhere in this process) is awaited, not rerun.
    """
    in_parent = context.current_execution() is not None
    started = yield from begin_workflow(rt, info, args, kwargs, direct_call=True)
    workflow_id = started.workflow_id
    result_id = started.result_function_id
    if not (started.run_here and rt.try_activate(workflow_id)):
        return (
            yield from get_result_flow(
                rt, workflow_id, DIRECT_WAIT_POLLING_SEC, function_id=result_id
            )
        )
    body = execute_flow(rt, info, started.ticket, args, kwargs)
    if not in_parent:
        return (yield from body)
    value: Any = None
    failure: Exception | None = None
    try:
        value = yield from body
    except Exception as exc:
        failure = exc

    def known() -> Any:
        if failure is not None:
            raise failure
        return value

    return (yield from get_result_flow(rt, workflow_id, DIRECT_WAIT_POLLING_SEC, known, result_id))
