"""Streams: ordered values a workflow appends under a key, read as they arrive."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

from dbos._core.serialization import DBOSPortableJSONSerializer, WorkflowSerializationFormat
from dbos._core.status import ACTIVE
from dbos._error import (
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSStreamNondeterminismError,
    DBOSStreamTimeoutError,
)
from dbos._runtime import context
from dbos._runtime.effects import Flow, Offload, Sleep, run_async, run_sync
from dbos._runtime.events import check_key, writer_position
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.operations import wait_for
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import begin_operation, checkpoint_write, record, replay
from dbos._runtime.stream_cursors import StreamCursor
from dbos._runtime.waiters import Signal, stream_key
from dbos._storage.backend import DuplicateKey

WRITE_STREAM = "DBOS.writeStream"
CLOSE_STREAM = "DBOS.closeStream"
READ_STREAM = "DBOS.readStream"
READ_STREAM_OFFSET = "DBOS.readStreamOffset"
CLOSED = "__DBOS_STREAM_CLOSED__"
# The close marker is portable JSON, so readers in any language recognise it.
_PORTABLE = DBOSPortableJSONSerializer()
CLOSED_PAYLOAD = _PORTABLE.serialize(CLOSED)
# Two writers that computed the same next offset collide; the loser tries again.
_OFFSET_RETRIES = 50
_OFFSET_RETRY_SECONDS = 0.01
_END = object()  # the stream has ended: closed, or its writer finished and it is drained


def write_stream_flow(
    rt: Runtime,
    key: str,
    value: Any,
    fmt: WorkflowSerializationFormat | None,
    closing: bool = False,
) -> Flow[None]:
    """Append ``value`` to the stream ``key`` of the calling workflow (once, from a workflow)."""
    check_key(key)
    api_name, step_name = (
        ("close_stream", CLOSE_STREAM) if closing else ("write_stream", WRITE_STREAM)
    )
    execution, step_function_id = writer_position(api_name)
    serializer = _PORTABLE if closing else rt.codec.serializer_for(fmt)
    payload = CLOSED_PAYLOAD if closing else rt.codec.encode_value(value, serializer)
    workflow_id = execution.workflow_id
    function_id = step_function_id
    if function_id is None:
        function_id = execution.next_function_id()
        if begin_operation(rt, execution, function_id) is not None:
            return  # written by an earlier run
    started = rt.clock.now_ms()
    args = (workflow_id, key, payload, serializer.name(), function_id)
    cursor = execution.stream_cursors.get(key)
    if cursor is None:
        cursor = execution.stream_cursors.setdefault(key, StreamCursor())
    offset = cursor.begin()
    try:
        if offset == StreamCursor.LEARN:
            offset = 1 + (yield Offload(rt.db.streams.last_offset, (workflow_id, key)))
        for attempt in range(_OFFSET_RETRIES):
            try:
                if step_function_id is not None:
                    yield Offload(rt.db.streams.write, (*args, offset))
                else:
                    write = checkpoint_write(rt, execution, function_id, step_name, started)
                    statement = rt.db.streams.write_statement(*args, offset)
                    yield from record(rt, execution, write, [statement])
                break
            except DuplicateKey:
                if attempt + 1 == _OFFSET_RETRIES:
                    message = f"Could not append to stream {key}: offsets kept colliding"
                    raise DBOSException(message) from None
                if offset is None:  # the database's own pick collided: let the other settle
                    yield Sleep(_OFFSET_RETRY_SECONDS)
                offset = None  # somebody else wrote there: the database picks from now on
    except BaseException:
        cursor.fail()
        raise
    cursor.end(offset)
    rt.waiters.notify(stream_key(workflow_id, key))


def check_read_options(
    polling_interval_sec: object, timeout_seconds: object, offset: object
) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
    poll = polling_interval_sec
    if poll is not None and not (
        isinstance(poll, (int, float)) and math.isfinite(poll) and poll >= 0.001
    ):
        raise ValueError(f"polling_interval_sec must be a finite number >= 0.001, got {poll!r}")
    timeout = timeout_seconds
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
        raise ValueError(f"timeout_seconds must be a non-negative number, got {timeout!r}")


def _read_at(rt: Runtime, workflow_id: str, key: str, offset: int) -> Any:
    """The stored value at ``offset``, _END if none will come, None if none yet."""
    row = rt.db.streams.read(workflow_id, key, offset)
    if row is None:
        raise DBOSNonExistentWorkflowError("target", workflow_id)
    if row.value is not None:
        return row.value, row.serialization
    # Read in the same statement as the (missing) value: a writer that is no longer active
    # wrote everything before it stopped, so the stream is drained.
    return _END if row.workflow_status not in ACTIVE else None


def _is_end(stored: Any) -> bool:
    return stored is _END or stored == (CLOSED_PAYLOAD, _PORTABLE.name())


def read_value_flow(
    rt: Runtime,
    workflow_id: str,
    key: str,
    offset: int,
    polling_interval_sec: float | None,
    timeout_seconds: float | None,
    step_name: str,
) -> Flow[tuple[bool, Any]]:
    """(True, value) at ``offset`` once it exists; (False, None) if the stream ended first.

    Inside a workflow the outcome (a value, the end, or a timeout) is checkpointed, so a
    replay reads exactly the same sequence.
    """
    execution = context.current_execution()
    function_id = 0
    if execution is not None:
        function_id = execution.next_function_id()
        recorded = begin_operation(rt, execution, function_id)
        if recorded is not None:
            if recorded.error is None and _is_end((recorded.output, recorded.serialization)):
                return False, None
            return True, replay(rt, execution, recorded, step_name)
    started = rt.clock.now_ms()
    poll = polling_interval_sec or rt.settings.notification_listener_polling_interval_sec
    stored = yield from _await_value(rt, execution, workflow_id, key, offset, poll, timeout_seconds)
    if stored is None:
        error = DBOSStreamTimeoutError(workflow_id, key, timeout_seconds)
        if execution is not None:
            encoded = rt.codec.encode_error(error, rt.codec.configured)
            write = checkpoint_write(rt, execution, function_id, step_name, started, error=encoded)
            yield from record(rt, execution, write)
        raise error
    ended = _is_end(stored)
    if execution is not None:
        output, serialization = (CLOSED_PAYLOAD, _PORTABLE.name()) if ended else stored
        write = checkpoint_write(
            rt,
            execution,
            function_id,
            step_name,
            started,
            output=output,
            serialization=serialization,
        )
        yield from record(rt, execution, write)
    return (False, None) if ended else (True, rt.codec.decode_value(*stored))


def _await_value(
    rt: Runtime,
    execution: WorkflowExecution | None,
    workflow_id: str,
    key: str,
    offset: int,
    poll: float,
    timeout_seconds: float | None,
) -> Flow[Any]:
    signal = Signal()
    keys = [stream_key(workflow_id, key)]
    own_id = None if execution is None else execution.workflow_id
    if own_id is not None:
        keys.append(own_id)  # a cancel of the reading workflow wakes it
    for k in keys:
        rt.waiters.register(k, signal)
    try:
        deadline = None if timeout_seconds is None else rt.clock.now() + timeout_seconds
        found = yield from wait_for(
            rt, signal, lambda: _read_at(rt, workflow_id, key, offset), deadline, poll, own_id
        )
        return found
    finally:
        for k in keys:
            rt.waiters.unregister(k, signal)


def read_offset_flow(
    rt: Runtime,
    workflow_id: str,
    key: str,
    offset: int,
    polling_interval_sec: float | None,
    timeout_seconds: float | None,
) -> Flow[Any]:
    """The one value at ``offset``; DBOSStreamTimeoutError if the stream ends before it."""
    more, value = yield from read_value_flow(
        rt, workflow_id, key, offset, polling_interval_sec, timeout_seconds, READ_STREAM_OFFSET
    )
    if not more:
        raise DBOSStreamTimeoutError(workflow_id, key, timeout_seconds)
    return value


class _ReadGuard:
    """At most one checkpointed stream read open in a workflow at a time.

    Two interleaved readers would take function IDs in an order that depends on timing, so a
    replay could not match them up; the second one is refused.
    """

    def __init__(self, workflow_id: str, key: str) -> None:
        self._execution = context.current_execution()
        if self._execution is not None:
            if self._execution.open_stream_read is not None:
                raise DBOSStreamNondeterminismError(workflow_id, key)
            self._execution.open_stream_read = self

    def release(self) -> None:
        if self._execution is not None and self._execution.open_stream_read is self:
            self._execution.open_stream_read = None


def read_stream(
    rt: Runtime,
    workflow_id: str,
    key: str,
    offset: int,
    polling_interval_sec: float | None,
    timeout_seconds: float | None,
) -> Iterator[Any]:
    guard = _ReadGuard(workflow_id, key)
    try:
        while True:
            flow = read_value_flow(
                rt, workflow_id, key, offset, polling_interval_sec, timeout_seconds, READ_STREAM
            )
            more, value = run_sync(flow)
            if not more:
                return
            yield value
            offset += 1
    finally:
        guard.release()


async def read_stream_async(
    rt: Runtime,
    workflow_id: str,
    key: str,
    offset: int,
    polling_interval_sec: float | None,
    timeout_seconds: float | None,
) -> AsyncIterator[Any]:
    guard = _ReadGuard(workflow_id, key)
    try:
        while True:
            flow = read_value_flow(
                rt, workflow_id, key, offset, polling_interval_sec, timeout_seconds, READ_STREAM
            )
            more, value = await run_async(flow)
            if not more:
                return
            yield value
            offset += 1
    finally:
        guard.release()
