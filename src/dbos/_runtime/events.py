"""Events: key/value pairs a workflow publishes (set_event) and anyone reads (get_event)."""

from __future__ import annotations

from typing import Any

from dbos._core.serialization import WorkflowSerializationFormat
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.effects import Flow, Offload
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.operations import wait_for, wake_time
from dbos._runtime.registry import StepSpec
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import (
    begin_operation,
    checkpoint_write,
    record,
    replay,
    settle,
    step_flow,
)
from dbos._runtime.waiters import Signal, event_key

SET_EVENT = "DBOS.setEvent"
GET_EVENT = "DBOS.getEvent"
GET_EVENTS = "DBOS.get_events"


def check_key(key: object, what: str = "key") -> str:
    if not isinstance(key, str):
        raise TypeError(f"{what} must be a string, got {type(key).__name__}")
    return key


def check_timeout(timeout_seconds: object) -> float:
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)):
        raise TypeError(f"timeout_seconds must be a number, got {timeout_seconds!r}")
    return float(timeout_seconds)


def writer_position(api_name: str) -> tuple[WorkflowExecution, int | None]:
    """The workflow a publishing call acts for, and the function ID it records under.

    From a workflow the function ID is None (the call takes the next one, checkpointed);
    from a step it is the step's own, and nothing is checkpointed.
    """
    execution = context.enclosing_execution()
    if execution is None:
        raise DBOSException(f"{api_name}() must be called from within a workflow or step")
    step = context.current_step()
    return execution, None if step is None else step.step_id


def set_event_flow(
    rt: Runtime, key: str, value: Any, fmt: WorkflowSerializationFormat | None
) -> Flow[None]:
    """Publish ``value`` under ``key``; the latest value wins.

    Each value is also kept in the history that a fork rebuilds events from.
    """
    check_key(key)
    execution, step_function_id = writer_position("set_event")
    serializer = rt.codec.serializer_for(fmt)
    workflow_id = execution.workflow_id
    if step_function_id is not None:
        payload = rt.codec.encode_value(value, serializer)
        args = (workflow_id, key, payload, serializer.name(), step_function_id)
        yield Offload(rt.db.events.set, args)
    else:
        function_id = execution.next_function_id()
        if begin_operation(rt, execution, function_id) is not None:
            return  # published by an earlier run
        started = rt.clock.now_ms()
        payload = rt.codec.encode_value(value, serializer)
        write = checkpoint_write(rt, execution, function_id, SET_EVENT, started)
        recording = (write, key, payload, serializer.name())
        result = yield Offload(rt.db.events.record, recording)
        yield from settle(rt, execution, write, result)
    rt.waiters.notify(event_key(workflow_id, key))


def get_event_flow(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Flow[Any]:
    """Wait for ``key`` of ``workflow_id`` and return its current value; None on timeout.

    Inside a workflow the value read is checkpointed (DBOS.getEvent) and the timeout takes a
    second function ID, recorded only if the call has to wait.
    """
    check_key(key)
    timeout = check_timeout(timeout_seconds)
    execution = context.current_execution()
    function_id = timeout_id = 0
    if execution is not None:
        function_id = execution.next_function_id()
        timeout_id = execution.next_function_id()
        recorded = begin_operation(rt, execution, function_id)
        if recorded is not None:
            return replay(rt, execution, recorded, GET_EVENT)
    started = rt.clock.now_ms()
    found = yield Offload(rt.db.events.get, (workflow_id, key))
    if found is None and timeout > 0:
        found = yield from _wait_for_event(rt, execution, timeout_id, workflow_id, key, timeout)
    if execution is None:
        return None if found is None else rt.codec.decode_value(*found)
    if found is None:
        output, serialization = rt.codec.encode_value(None, rt.codec.configured), None
    else:
        output, serialization = found
    write = checkpoint_write(
        rt, execution, function_id, GET_EVENT, started, output=output, serialization=serialization
    )
    yield from record(rt, execution, write)
    return None if found is None else rt.codec.decode_value(*found)


def _wait_for_event(
    rt: Runtime,
    execution: WorkflowExecution | None,
    timeout_id: int,
    workflow_id: str,
    key: str,
    timeout: float,
) -> Flow[tuple[str, str | None] | None]:
    signal = Signal()
    keys = [event_key(workflow_id, key)]
    if execution is not None:
        keys.append(execution.workflow_id)  # a cancel of the waiting workflow wakes it
    for k in keys:
        rt.waiters.register(k, signal)
    try:
        if execution is None:
            deadline = rt.clock.now() + timeout
        else:
            deadline = yield from wake_time(rt, execution, timeout_id, timeout)
        found: tuple[str, str | None] | None = yield from wait_for(
            rt,
            signal,
            lambda: rt.db.events.get(workflow_id, key),
            deadline,
            rt.wait_recheck_seconds,
            None if execution is None else execution.workflow_id,
        )
        return found
    finally:
        for k in keys:
            rt.waiters.unregister(k, signal)


def _read_all(rt: Runtime, workflow_id: str) -> dict[str, Any]:
    return {
        key: rt.codec.decode_value(value, serialization)
        for key, value, serialization in rt.db.events.get_all(workflow_id)
    }


def get_all_events_flow(rt: Runtime, workflow_id: str) -> Flow[dict[str, Any]]:
    """The current value of every key; inside a workflow, a checkpointed DBOS.get_events."""
    execution = context.current_execution()
    if execution is None:
        events: dict[str, Any] = yield Offload(_read_all, (rt, workflow_id))
        return events
    spec = StepSpec(GET_EVENTS)
    recorded: dict[str, Any] = yield from step_flow(
        rt, execution, spec, _read_all, (rt, workflow_id), {}, io=True
    )
    return recorded
