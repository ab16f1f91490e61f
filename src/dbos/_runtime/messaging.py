"""Messages between workflows: send (exactly once from a workflow) and recv (oldest first)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbos._core.serialization import WorkflowSerializationFormat
from dbos._core.status import CANCELLED
from dbos._error import (
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSWorkflowConflictIDError,
)
from dbos._runtime import context
from dbos._runtime.effects import Flow, Offload
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.ids import random_id
from dbos._runtime.operations import wait_for, wake_time
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import begin_operation, cancelled_error, checkpoint_write, record, replay
from dbos._runtime.waiters import Signal, message_key
from dbos._storage.backend import DuplicateKey, MissingReference
from dbos._storage.messages import MessageStore, MessageWrite, Received
from dbos._storage.records import StepWrite

SEND = "DBOS.send"
SEND_BULK = "DBOS.send_bulk"
RECV = "DBOS.recv"
# Stored in place of a missing topic, so (destination, topic) is always a real key.
NULL_TOPIC = "__null__topic__"


@dataclass
class SendMessage:
    """One message of ``DBOS.send_bulk``."""

    destination_id: str
    message: Any
    topic: str | None = None
    idempotency_key: str | None = None


def topic_name(topic: object) -> str:
    if topic is None:
        return NULL_TOPIC
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a string or None, got {type(topic).__name__}")
    return topic


def _check_message(m: SendMessage) -> None:
    if not isinstance(m.destination_id, str) or not m.destination_id:
        raise TypeError(f"destination_id must be a non-empty string, got {m.destination_id!r}")
    if m.idempotency_key is not None and (
        not isinstance(m.idempotency_key, str) or not m.idempotency_key
    ):
        raise TypeError(f"idempotency_key must be a non-empty string, got {m.idempotency_key!r}")
    topic_name(m.topic)


def check_batch(messages: Sequence[SendMessage]) -> None:
    """Validate a batch before anything is written."""
    for m in messages:
        if not isinstance(m, SendMessage):
            raise TypeError(f"send_bulk takes SendMessage objects, got {type(m).__name__}")
        _check_message(m)
    seen = Counter((m.idempotency_key, m.destination_id) for m in messages if m.idempotency_key)
    duplicates = sorted({key for (key, _), count in seen.items() if count > 1})
    if duplicates:
        raise DBOSException(f"send_bulk received duplicate idempotency keys: {duplicates}")


def _rows(
    rt: Runtime,
    messages: Sequence[SendMessage],
    fmt: WorkflowSerializationFormat | None,
    families: dict[str, list[str]] | None,
) -> list[MessageWrite]:
    serializer = rt.codec.serializer_for(fmt)
    rows = []
    for m in messages:
        payload = rt.codec.encode_value(m.message, serializer)
        topic = topic_name(m.topic)
        recipients = [m.destination_id] if families is None else families[m.destination_id]
        for recipient in recipients:
            if m.idempotency_key is not None:
                message_uuid = f"{m.idempotency_key}::{recipient}"
            else:
                message_uuid = random_id()
            rows.append(MessageWrite(message_uuid, recipient, topic, payload, serializer.name()))
    return rows


def _families(store: MessageStore, messages: Sequence[SendMessage]) -> dict[str, list[str]]:
    """Each destination and every workflow forked from it (an absent one maps to itself)."""
    found: dict[str, list[str]] = {}
    for m in messages:
        if m.destination_id not in found:
            family = store.family_of(m.destination_id)
            found[m.destination_id] = family or [m.destination_id]
    return found


def send_in_transaction(
    rt: Runtime,
    store: MessageStore,
    messages: Sequence[SendMessage],
    fmt: WorkflowSerializationFormat | None,
    send_to_forks: bool,
) -> None:
    """Deliver ``messages`` through ``store``, a caller's open transaction it commits.

    Destinations are checked in that transaction, so a workflow enqueued earlier in it
    counts, and a missing one is refused even where the caller's connection does not
    enforce foreign keys (SQLite's default).
    """
    check_batch(messages)
    if not messages:
        return
    rows = _rows(rt, messages, fmt, _families(store, messages) if send_to_forks else None)
    missing = store.missing([r.destination_id for r in rows])
    if missing:
        raise DBOSNonExistentWorkflowError("`send` destination", missing[0])
    store.send(rows, rt.clock.now_ms())


def send_flow(
    rt: Runtime,
    messages: Sequence[SendMessage],
    fmt: WorkflowSerializationFormat | None,
    send_to_forks: bool,
    step_name: str,
) -> Flow[None]:
    """Deliver ``messages`` in one transaction; inside a workflow, as one checkpointed step.

    A send from a workflow is exactly once without a key because the messages commit with
    the checkpoint; elsewhere each call sends again unless it carries an idempotency key.
    """
    check_batch(messages)
    if not messages:
        return
    execution = context.current_execution()
    function_id = 0
    if execution is not None:
        function_id = execution.next_function_id()
        if begin_operation(rt, execution, function_id) is not None:
            return  # sent by an earlier run
    started = rt.clock.now_ms()
    families = (yield Offload(_families, (rt.db.messages, messages))) if send_to_forks else None
    rows = _rows(rt, messages, fmt, families)
    try:
        if execution is None:
            yield Offload(rt.db.messages.send, (rows, started))
        else:
            statements = rt.db.messages.send_statements(rows, started)
            write = checkpoint_write(rt, execution, function_id, step_name, started)
            yield from record(rt, execution, write, statements)
    except MissingReference:
        missing = yield Offload(rt.db.messages.missing, ([r.destination_id for r in rows],))
        raise DBOSNonExistentWorkflowError(
            "`send` destination", missing[0] if missing else rows[0].destination_id
        ) from None
    for row in rows:
        rt.waiters.notify(message_key(row.destination_id, row.topic))


def recv_flow(rt: Runtime, topic: object, timeout_seconds: float) -> Flow[Any]:
    """The oldest unconsumed message on ``topic``, or None once the timeout passes.

    Two function IDs: the receive and, if it has to wait, a DBOS.sleep row holding its
    deadline, so a recovered workflow waits only for what remains of the timeout.
    """
    execution = context.current_execution()
    if execution is None:
        raise DBOSException("recv() must be called from within a workflow")
    name = topic_name(topic)
    function_id = execution.next_function_id()
    timeout_id = execution.next_function_id()
    recorded = begin_operation(rt, execution, function_id)
    if recorded is not None:
        return replay(rt, execution, recorded, RECV)
    workflow_id = execution.workflow_id
    signal = Signal()
    key = message_key(workflow_id, name)
    if not rt.waiters.register_exclusive(key, signal):
        raise DBOSWorkflowConflictIDError(workflow_id)
    rt.waiters.register(workflow_id, signal)  # a cancel wakes the wait
    try:
        started = rt.clock.now_ms()
        deadline: float | None = None
        while True:
            ready = yield Offload(rt.db.messages.has_unconsumed, (workflow_id, name))
            if not ready:
                if deadline is None:  # only a receive that has to wait records its timeout
                    deadline = yield from wake_time(rt, execution, timeout_id, timeout_seconds)
                ready = yield from wait_for(
                    rt,
                    signal,
                    lambda: True if rt.db.messages.has_unconsumed(workflow_id, name) else None,
                    deadline,
                    rt.wait_recheck_seconds,
                    workflow_id,
                )
            if not ready:
                break
            write = checkpoint_write(rt, execution, function_id, RECV, started)
            found, value = yield from _consume(rt, execution, name, write)
            if found:
                return value
            # Taken meanwhile by a competing run of this workflow: look again.
        output = rt.codec.encode_value(None, rt.codec.configured)
        write = checkpoint_write(rt, execution, function_id, RECV, started, output=output)
        yield from record(rt, execution, write)
        return None
    finally:
        rt.waiters.unregister(key, signal)
        rt.waiters.unregister(workflow_id, signal)


def _consume(
    rt: Runtime, ex: WorkflowExecution, topic: str, write: StepWrite
) -> Flow[tuple[bool, Any]]:
    """Consume and checkpoint the oldest message: (True, message), or (False, None) if none."""
    try:
        got: Received | None = yield Offload(rt.db.messages.consume, (ex.workflow_id, topic, write))
    except DuplicateKey:
        # Either our own commit whose acknowledgement was lost, or another run's checkpoint.
        completed_at = yield Offload(rt.db.steps.completed_at, (ex.workflow_id, write.function_id))
        if completed_at != write.completed_at_epoch_ms:
            raise DBOSWorkflowConflictIDError(ex.workflow_id) from None
        recorded = yield Offload(rt.db.steps.get, (ex.workflow_id, write.function_id))
        return True, replay(rt, ex, recorded, RECV)
    if got is None:
        return False, None
    if got.workflow_status == CANCELLED:
        raise cancelled_error(ex.workflow_id)
    return True, rt.codec.decode_value(got.message, got.serialization)
