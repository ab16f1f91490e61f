"""Messages and events: DBOS.send / send_bulk / recv and set_event / get_event, sync and async."""

from __future__ import annotations

from typing import Any

from dbos._api.arguments import check_workflow_id
from dbos._api.state import refuse_in_event_loop, require_runtime
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._runtime.effects import Flow, run_async, run_sync
from dbos._runtime.events import get_all_events_flow, get_event_flow, set_event_flow
from dbos._runtime.messaging import SEND, SEND_BULK, SendMessage, recv_flow, send_flow
from dbos._runtime.runtime import Runtime

DEFAULT_FORMAT = WorkflowSerializationFormat.DEFAULT


def _send(
    rt: Runtime,
    destination_id: str,
    message: Any,
    topic: str | None,
    idempotency_key: str | None,
    serialization_type: WorkflowSerializationFormat | None,
    send_to_forks: bool,
) -> Flow[None]:
    batch = [SendMessage(destination_id, message, topic, idempotency_key)]
    return send_flow(rt, batch, serialization_type, send_to_forks, SEND)


class MessagesAPI:
    @classmethod
    def send(
        cls,
        destination_id: str,
        message: Any,
        topic: str | None = None,
        *,
        idempotency_key: str | None = None,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """Send ``message`` to a workflow, on ``topic``.

        From a workflow the send happens exactly once; elsewhere, pass ``idempotency_key``
        to make repeated calls deliver one message. ``send_to_forks`` also delivers to every
        workflow forked from the destination.
        """
        refuse_in_event_loop("send")
        rt = require_runtime("send")
        args = (destination_id, message, topic, idempotency_key, serialization_type)
        run_sync(_send(rt, *args, send_to_forks))

    @classmethod
    async def send_async(
        cls,
        destination_id: str,
        message: Any,
        topic: str | None = None,
        *,
        idempotency_key: str | None = None,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """The async twin of send."""
        rt = require_runtime("send_async")
        args = (destination_id, message, topic, idempotency_key, serialization_type)
        await run_async(_send(rt, *args, send_to_forks))

    @classmethod
    def send_bulk(
        cls,
        messages: list[SendMessage],
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """Send several messages in one transaction (one step inside a workflow)."""
        refuse_in_event_loop("send_bulk")
        rt = require_runtime("send_bulk")
        run_sync(send_flow(rt, list(messages), serialization_type, send_to_forks, SEND_BULK))

    @classmethod
    async def send_bulk_async(
        cls,
        messages: list[SendMessage],
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """The async twin of send_bulk."""
        rt = require_runtime("send_bulk_async")
        flow = send_flow(rt, list(messages), serialization_type, send_to_forks, SEND_BULK)
        await run_async(flow)

    @classmethod
    def recv(cls, topic: str | None = None, timeout_seconds: float = 60) -> Any:
        """The oldest unread message on ``topic`` sent to this workflow; None on timeout.

        Only inside a workflow. The timeout is durable: after recovery the workflow waits
        only for what remained of it.
        """
        refuse_in_event_loop("recv")
        return run_sync(recv_flow(require_runtime("recv"), topic, timeout_seconds))

    @classmethod
    async def recv_async(cls, topic: str | None = None, timeout_seconds: float = 60) -> Any:
        """The async twin of recv; the wait holds no thread."""
        return await run_async(recv_flow(require_runtime("recv_async"), topic, timeout_seconds))

    @classmethod
    def set_event(
        cls,
        key: str,
        value: Any,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
    ) -> None:
        """Publish ``value`` under ``key`` for this workflow; the latest value wins."""
        refuse_in_event_loop("set_event")
        run_sync(set_event_flow(require_runtime("set_event"), key, value, serialization_type))

    @classmethod
    async def set_event_async(
        cls,
        key: str,
        value: Any,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
    ) -> None:
        """The async twin of set_event."""
        rt = require_runtime("set_event_async")
        await run_async(set_event_flow(rt, key, value, serialization_type))

    @classmethod
    def get_event(cls, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """Wait for ``key`` of a workflow and return its value; None on timeout."""
        refuse_in_event_loop("get_event")
        rt = require_runtime("get_event")
        return run_sync(get_event_flow(rt, check_workflow_id(workflow_id), key, timeout_seconds))

    @classmethod
    async def get_event_async(cls, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """The async twin of get_event; the wait holds no thread."""
        rt = require_runtime("get_event_async")
        return await run_async(
            get_event_flow(rt, check_workflow_id(workflow_id), key, timeout_seconds)
        )

    @classmethod
    def get_all_events(cls, workflow_id: str) -> dict[str, Any]:
        """The current value of every event key of a workflow."""
        refuse_in_event_loop("get_all_events")
        rt = require_runtime("get_all_events")
        return run_sync(get_all_events_flow(rt, check_workflow_id(workflow_id)))

    @classmethod
    async def get_all_events_async(cls, workflow_id: str) -> dict[str, Any]:
        """The async twin of get_all_events."""
        rt = require_runtime("get_all_events_async")
        return await run_async(get_all_events_flow(rt, check_workflow_id(workflow_id)))
