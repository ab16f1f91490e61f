"""Workflow flows: start a workflow (root or child), run its body, and own its outcome."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from dbos._core.serialization import Serializer
from dbos._core.status import ENQUEUED, ERROR, PENDING, SUCCESS
from dbos._error import (
    DBOSConflictingWorkflowError,
    DBOSNonExistentWorkflowError,
    DBOSUnexpectedStepError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
    DBOSWorkflowIDInUseError,
)
from dbos._runtime import context
from dbos._runtime.context import DBOSContext
from dbos._runtime.effects import CallUser, Flow, Offload, run_async, run_sync
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.outcomes import resolve, wait_outcome
from dbos._runtime.registry import WorkflowInfo
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import begin_operation, checkpoint_write, record, replay
from dbos._storage.records import InsertOutcome, StepRow, WorkflowInsert

logger = logging.getLogger("dbos")
GET_RESULT = "DBOS.getResult"
DIRECT_WAIT_POLLING_SEC = 1.0


@dataclass(frozen=True)
class Started:
    """Where a start landed: the workflow's ID and whether this caller must run its body."""

    workflow_id: str
    run_here: bool
    serializer: Serializer
    owner: str = ""  # the insert's token, when this caller created the row


def new_workflow_id() -> str:
    return str(uuid.uuid4())


def _refuse_inside_step() -> None:
    if context.current_step() is not None and context.enclosing_execution() is not None:
        raise AssertionError("Steps must not start, call or enqueue workflows")


def _check_identity(workflow_id: str, info: WorkflowInfo, found: InsertOutcome) -> None:
    """Reusing an ID for a different function is a caller bug, not a replay."""
    if found.name != info.name:
        raise DBOSConflictingWorkflowError(
            workflow_id,
            f"Workflow already exists with a different function name: {found.name}, "
            f"but the provided function name is: {info.name}",
        )


def _replay_child(
    parent: WorkflowExecution, recorded: StepRow, info: WorkflowInfo, rt: Runtime
) -> str:
    if recorded.function_name != info.name:
        raise DBOSUnexpectedStepError(
            parent.workflow_id, recorded.function_id, info.name, recorded.function_name
        )
    if recorded.error is not None:
        raise rt.codec.decode_error(recorded.error, recorded.serialization)
    assert recorded.child_workflow_id is not None
    return recorded.child_workflow_id


def _choose_workflow_id(
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
) -> WorkflowInsert:
    ctx = context.current()
    roles = None if ctx is None or ctx.authenticated_roles is None else ctx.authenticated_roles
    attributes = None if ctx is None or ctx.attributes is None else ctx.attributes
    return WorkflowInsert(
        workflow_id=workflow_id,
        status=status,
        name=info.name,
        class_name=None,
        config_name=None,
        inputs=inputs,
        serialization=serializer.name(),
        executor_id=rt.executor_id if status == PENDING else None,
        application_version=rt.app_version,
        application_name=rt.app_name,
        application_id=rt.app_id,
        created_at=rt.clock.now_ms(),
        owner_xid=new_workflow_id(),
        recovery_attempts=1 if status == PENDING else 0,
        queue_name=queue_name,
        authenticated_user=None if ctx is None else ctx.authenticated_user,
        assumed_role=None if ctx is None else ctx.assumed_role,
        authenticated_roles=None if roles is None else json.dumps(roles),
        attributes=None if attributes is None else json.dumps(attributes),
        parent_workflow_id=parent.workflow_id if parent is not None else None,
    )


def begin_workflow(
    rt: Runtime,
    info: WorkflowInfo,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    status: str = PENDING,
    queue_name: str | None = None,
) -> Flow[Started]:
    """Insert the workflow's row (or find it), and inside a parent record it as a child.

    Inputs are serialised before anything is written, so an argument that cannot be stored
    fails the call with nothing half-written.
    """
    _refuse_inside_step()
    serializer = rt.codec.serializer_for(info.serialization_type)
    parent = context.current_execution()
    function_id = parent.next_function_id() if parent is not None else 0
    # Consumed even when the child is replayed, so a later child cannot take this ID.
    workflow_id, reuse_policy = _choose_workflow_id(parent, function_id)
    if parent is not None:
        recorded = begin_operation(rt, parent, function_id)
        if recorded is not None:
            return Started(_replay_child(parent, recorded, info, rt), False, serializer)
    inputs = rt.codec.encode_args(args, kwargs, serializer)
    row = _new_row(rt, info, workflow_id, inputs, serializer, status, queue_name, parent)
    found = yield Offload(rt.db.workflows.insert, (row,))
    if not found.created:
        _check_identity(workflow_id, info, found)
        if reuse_policy == "reject":
            raise DBOSWorkflowIDInUseError(workflow_id, found.status, found.name)
        if found.queue_name != queue_name and queue_name is not None:
            logger.warning(
                "Workflow %s already exists on queue %s; not moving it to %s",
                workflow_id, found.queue_name, queue_name,
            )  # fmt: skip
    if parent is not None:
        write = checkpoint_write(
            rt, parent, function_id, info.name, row.created_at, child_workflow_id=workflow_id
        )
        yield from record(rt, parent, write)
    if status == ENQUEUED:
        rt.wake_queues()
    return Started(workflow_id, found.created and status == PENDING, serializer, row.owner_xid)


def execute_flow(
    rt: Runtime,
    info: WorkflowInfo,
    workflow_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    serializer: Serializer,
    owner: str,
    recorded: dict[int, StepRow] | None = None,
) -> Flow[Any]:
    """Run the body of a workflow this process owns and record its outcome.

    The caller must have activated ``workflow_id`` in ``rt``. The outcome is written only
    while the row is PENDING; if something else decided it first (a cancel, a resume, a
    dead-letter, another execution), that recorded outcome is what this returns.
    """
    execution = WorkflowExecution(workflow_id, info.name, serializer, recorded)
    token = context.set_current(DBOSContext(execution=execution))
    try:
        written = yield from _run_and_record(rt, info, workflow_id, args, kwargs, serializer, owner)
    finally:
        context.reset(token)
        # Released before any wait below: if the row went back on a queue, this process
        # must be free to claim and run it again.
        rt.deactivate(workflow_id)
    if written is _LOST:
        return (yield from recorded_outcome(rt, workflow_id))
    return written


class _Lost:
    """This run no longer owns the workflow's outcome."""


_LOST = _Lost()


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
    except (DBOSWorkflowCancelledError, DBOSWorkflowConflictIDError):
        return _LOST
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
    rt: Runtime, workflow_id: str, polling_interval_sec: float, known: Any = None
) -> Flow[Any]:
    """Await a workflow; inside a workflow, checkpoint what it returned as DBOS.getResult.

    ``known`` is a zero-argument callable that produces the result (or raises) when the
    caller already has it, as a direct child call does, so no wait is needed.
    """
    parent = context.current_execution()
    if parent is None:
        outcome = yield from wait_outcome(rt, workflow_id, polling_interval_sec)
        return resolve(rt, workflow_id, outcome)
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
    started = yield from begin_workflow(rt, info, args, kwargs)
    workflow_id = started.workflow_id
    if not (started.run_here and rt.try_activate(workflow_id)):
        return (yield from get_result_flow(rt, workflow_id, DIRECT_WAIT_POLLING_SEC))
    body = execute_flow(rt, info, workflow_id, args, kwargs, started.serializer, started.owner)
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

    return (yield from get_result_flow(rt, workflow_id, DIRECT_WAIT_POLLING_SEC, known))


def run_in_background(
    rt: Runtime,
    info: WorkflowInfo,
    workflow_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    serializer: Serializer,
    owner: str,
    recorded: dict[int, StepRow] | None = None,
    *,
    on_running_loop: bool = False,
) -> None:
    """Run an activated workflow where nobody awaits it, in a fresh context of its own.

    Sync workflows go to the executor's threads. Async ones become tasks: on the caller's
    loop with ``on_running_loop`` (start_workflow_async), else on the runtime's loop.
    """
    flow = execute_flow(rt, info, workflow_id, args, kwargs, serializer, owner, recorded)
    if info.is_async:
        if on_running_loop:
            task = contextvars.Context().run(
                asyncio.ensure_future, _finish_async(flow, workflow_id)
            )
            if rt.loop_runner is not None:
                rt.loop_runner.track(task)
            return
        if rt.loop_runner is None:
            rt.deactivate(workflow_id)
            raise RuntimeError("DBOS has no event loop for async workflows; is it launched?")
        rt.loop_runner.submit(lambda: _finish_async(flow, workflow_id))
        return

    def run() -> None:
        try:
            run_sync(flow)
        except Exception:
            pass  # recorded in the database; whoever awaits the workflow sees it
        except BaseException:
            logger.exception("Workflow %s stopped abnormally", workflow_id)

    try:
        rt.pool.submit(contextvars.Context().run, run)
    except RuntimeError:
        rt.deactivate(workflow_id)  # the executor is shut down; recovery will run it
        raise


async def _finish_async(flow: Flow[Any], workflow_id: str) -> None:
    try:
        await run_async(flow)
    except Exception:
        pass  # recorded in the database; whoever awaits the workflow sees it
    except asyncio.CancelledError:
        logger.info("Workflow %s was interrupted by shutdown; recovery resumes it", workflow_id)
        raise


def start_flow(
    rt: Runtime,
    info: WorkflowInfo,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    on_running_loop: bool = False,
) -> Flow[str]:
    """``DBOS.start_workflow``: insert the row now, run the body in the background."""
    started = yield from begin_workflow(rt, info, args, kwargs)
    if started.run_here and rt.try_activate(started.workflow_id):
        run_in_background(
            rt,
            info,
            started.workflow_id,
            args,
            kwargs,
            started.serializer,
            started.owner,
            on_running_loop=on_running_loop,
        )
    return started.workflow_id
