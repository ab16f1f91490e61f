"""Durable operations other than steps: sleep, status reads and wait_first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from dbos._core.serialization import DBOSPortableJSONSerializer
from dbos._core.status import ACTIVE
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.effects import CallUser, Flow, Offload, Sleep, Wait
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.introspection import WorkflowStatus, status_from_row
from dbos._runtime.registry import StepSpec
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import (
    begin_operation,
    cancelled_error,
    checkpoint_write,
    record,
    replay,
    step_flow,
)
from dbos._runtime.waiters import Signal

T = TypeVar("T")
SLEEP = "DBOS.sleep"
GET_STATUS = "DBOS.getStatus"
WAIT_FIRST = "DBOS.waitFirst"
# Wake times are stored as portable JSON so that any SDK can read a sleeping workflow's row.
_PORTABLE = DBOSPortableJSONSerializer()


def sleep_flow(rt: Runtime, seconds: float) -> Flow[None]:
    """Durable sleep: the wake time is recorded first, so a replay sleeps only what remains."""
    if seconds <= 0:
        return
    execution = context.current_execution()
    if execution is None:
        if context.current_step() is not None:
            raise AssertionError("DBOS.sleep() must not be called from within a step")
        raise DBOSException("sleep() must be called from within a workflow")
    function_id = execution.next_function_id()
    wake_at = yield from wake_time(rt, execution, function_id, seconds)
    yield Sleep(wake_at - rt.clock.now())


def wake_time(rt: Runtime, ex: WorkflowExecution, function_id: int, seconds: float) -> Flow[float]:
    """``now + seconds`` recorded as a DBOS.sleep row, or the time an earlier run recorded.

    Sleeps and the timeouts of recv and get_event use it, so a recovered workflow keeps its
    original deadline.
    """
    recorded = begin_operation(rt, ex, function_id)
    if recorded is not None:
        return float(replay(rt, ex, recorded, SLEEP))
    now = rt.clock.now()
    wake_at = now + seconds
    write = checkpoint_write(
        rt,
        ex,
        function_id,
        SLEEP,
        int(now * 1000),
        output=_PORTABLE.serialize(wake_at),
        completed_ms=int(wake_at * 1000),
        serialization=_PORTABLE.name(),
    )
    yield from record(rt, ex, write)
    return wake_at


def wait_for(
    rt: Runtime,
    signal: Signal,
    check: Callable[[], T | None],
    deadline: float | None,
    recheck_seconds: float,
    workflow_id: str | None,
) -> Flow[T | None]:
    """Wait until ``check()`` finds something (returned) or ``deadline`` passes (None).

    The caller registered ``signal`` under every key whose change could satisfy the check
    *before* calling this, so a wake-up landing between a check and the wait is not lost.
    The database is re-checked every ``recheck_seconds`` as a safety net. A cancel of
    ``workflow_id`` made in this process, or a shutdown, ends the wait.
    """
    while True:
        found = yield Offload(check, ())
        if found is not None:
            return found  # type: ignore[no-any-return]
        now = rt.clock.now()
        if deadline is not None and now >= deadline:
            return None
        if workflow_id is not None and workflow_id in rt.cancelled:
            raise cancelled_error(workflow_id)
        if rt.stopping.is_set():
            raise DBOSException("DBOS was shut down while waiting")
        timeout = recheck_seconds if deadline is None else min(recheck_seconds, deadline - now)
        yield Wait(signal, timeout)
        signal.clear()


def read_status(rt: Runtime, workflow_id: str) -> WorkflowStatus | None:
    row = rt.db.workflows.get(workflow_id)
    return None if row is None else status_from_row(row, rt.codec)


def status_flow(rt: Runtime, workflow_id: str) -> Flow[WorkflowStatus | None]:
    """A workflow's status; inside a workflow, a checkpointed DBOS.getStatus step."""
    execution = context.current_execution()
    if execution is None:
        found: WorkflowStatus | None = yield Offload(read_status, (rt, workflow_id))
        return found
    spec = StepSpec(GET_STATUS)
    status: WorkflowStatus | None = yield from step_flow(
        rt, execution, spec, read_status, (rt, workflow_id), {}, io=True
    )
    return status


def _first_done(rt: Runtime, workflow_ids: list[str]) -> str | None:
    for workflow_id in workflow_ids:
        status = rt.db.workflows.get_status(workflow_id)
        if status is not None and status not in ACTIVE:
            return workflow_id
    return None


def wait_first_flow(rt: Runtime, workflow_ids: list[str], polling_interval_sec: float) -> Flow[str]:
    """The first of ``workflow_ids`` to finish; inside a workflow the choice is recorded."""
    if not workflow_ids:
        raise ValueError("wait_first requires at least one handle")
    if len(set(workflow_ids)) != len(workflow_ids):
        raise ValueError("wait_first received duplicate workflow IDs")
    execution = context.current_execution()
    function_id = 0
    if execution is not None:
        function_id = execution.next_function_id()
        recorded = begin_operation(rt, execution, function_id)
        if recorded is not None:
            chosen: str = replay(rt, execution, recorded, WAIT_FIRST)
            return chosen
    started = rt.clock.now_ms()
    event = Signal()
    for workflow_id in workflow_ids:
        rt.waiters.register(workflow_id, event)
    try:
        while True:
            done = yield Offload(_first_done, (rt, workflow_ids))
            if done is not None:
                break
            if rt.stopping.is_set():
                raise DBOSException("DBOS was shut down while waiting for workflows")
            yield Wait(event, polling_interval_sec)
            event.clear()
    finally:
        for workflow_id in workflow_ids:
            rt.waiters.unregister(workflow_id, event)
    if execution is not None:
        output = rt.codec.encode_value(done, rt.codec.configured)
        write = checkpoint_write(rt, execution, function_id, WAIT_FIRST, started, output=output)
        yield from record(rt, execution, write)
    return str(done)


ASYNCIO_WAIT = "DBOS.asyncio_wait"


def asyncio_wait_flow(
    rt: Runtime, futures: list[Any], timeout: float | None, return_when: str
) -> Flow[tuple[set[Any], set[Any]]]:
    """A durable asyncio.wait, which records the finished futures by index.

    A replay returns the same split (awaiting the recorded-done ones) whatever the timing.
    """
    execution = context.current_execution()
    assert execution is not None
    function_id = execution.next_function_id()
    recorded = begin_operation(rt, execution, function_id)
    if recorded is not None:
        indices: list[int] = replay(rt, execution, recorded, ASYNCIO_WAIT)
        done = {futures[i] for i in indices}
        if done:
            yield CallUser(asyncio.wait, (done,), {})
        return done, set(futures) - done
    started = rt.clock.now_ms()
    done, pending = yield CallUser(
        asyncio.wait, (futures,), {"timeout": timeout, "return_when": return_when}
    )
    finished = [i for i, future in enumerate(futures) if future in done]
    output = rt.codec.encode_value(finished, rt.codec.configured)
    write = checkpoint_write(rt, execution, function_id, ASYNCIO_WAIT, started, output=output)
    yield from record(rt, execution, write)
    return done, pending
