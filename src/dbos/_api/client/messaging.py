"""DBOSClient's enqueue, handles, messages, events and streams (never checkpointed)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

from dbos._api.arguments import check_workflow_id
from dbos._api.client.connection import (
    ClientConnection,
    outside_workflows,
    outside_workflows_async,
)
from dbos._api.client.handles import ClientHandle, ClientHandleAsync
from dbos._api.queues import EnqueueOptions
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._error import DBOSNonExistentWorkflowError
from dbos._runtime import context, streams
from dbos._runtime.effects import Flow, run_async, run_sync
from dbos._runtime.enqueue_by_name import enqueue_by_name_flow
from dbos._runtime.events import get_event_flow
from dbos._runtime.messaging import SEND, SEND_BULK, SendMessage, send_flow
from dbos._runtime.operations import read_status, wait_first_flow

DEFAULT_FORMAT = WorkflowSerializationFormat.DEFAULT


class ClientMessaging(ClientConnection):
    """Enqueueing, handles, messages, events and streams."""

    # ------------------------------------------------------------------ enqueue

    @outside_workflows
    def enqueue(self, options: EnqueueOptions, *args: Any, **kwargs: Any) -> ClientHandle[Any]:
        """Enqueue a workflow by name; idempotent on ``workflow_id``."""
        rt = self._runtime()
        return ClientHandle(rt, run_sync(enqueue_by_name_flow(rt, options, args, kwargs)))

    @outside_workflows_async
    async def enqueue_async(
        self, options: EnqueueOptions, *args: Any, **kwargs: Any
    ) -> ClientHandleAsync[Any]:
        """The async twin of enqueue."""
        rt = self._runtime()
        workflow_id = await run_async(enqueue_by_name_flow(rt, options, args, kwargs))
        return ClientHandleAsync(rt, workflow_id)

    # ------------------------------------------------------------------ handles

    @outside_workflows
    def retrieve_workflow(self, workflow_id: str) -> ClientHandle[Any]:
        """A handle to an existing workflow (DBOSNonExistentWorkflowError if there is none)."""
        rt = self._runtime()
        if read_status(rt, check_workflow_id(workflow_id)) is None:
            raise DBOSNonExistentWorkflowError("target", workflow_id)
        return ClientHandle(rt, workflow_id)

    @outside_workflows_async
    async def retrieve_workflow_async(self, workflow_id: str) -> ClientHandleAsync[Any]:
        """The async twin of retrieve_workflow."""
        rt = self._runtime()
        check_workflow_id(workflow_id)
        if await rt.storage_threads.call(read_status, rt, workflow_id) is None:
            raise DBOSNonExistentWorkflowError("target", workflow_id)
        return ClientHandleAsync(rt, workflow_id)

    @outside_workflows
    def wait_first(
        self, handles: Sequence[ClientHandle[Any]], *, polling_interval_sec: float = 1.0
    ) -> ClientHandle[Any]:
        """The first of ``handles`` whose workflow has finished."""
        by_id = {h.workflow_id: h for h in handles}
        flow = wait_first_flow(self._runtime(), list(by_id), polling_interval_sec)
        return by_id[run_sync(flow)]

    @outside_workflows_async
    async def wait_first_async(
        self, handles: Sequence[ClientHandleAsync[Any]], *, polling_interval_sec: float = 1.0
    ) -> ClientHandleAsync[Any]:
        """The async twin of wait_first."""
        by_id = {h.workflow_id: h for h in handles}
        flow = wait_first_flow(self._runtime(), list(by_id), polling_interval_sec)
        return by_id[await run_async(flow)]

    # ------------------------------------------------------------------ messages, events

    def _send(
        self,
        messages: list[SendMessage],
        serialization_type: WorkflowSerializationFormat | None,
        send_to_forks: bool,
        step_name: str,
    ) -> Flow[None]:
        return send_flow(self._runtime(), messages, serialization_type, send_to_forks, step_name)

    @outside_workflows
    def send(
        self,
        destination_id: str,
        message: Any,
        topic: str | None = None,
        idempotency_key: str | None = None,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """Send a message to a workflow; an ``idempotency_key`` makes repeats deliver once."""
        batch = [SendMessage(destination_id, message, topic, idempotency_key)]
        run_sync(self._send(batch, serialization_type, send_to_forks, SEND))

    @outside_workflows_async
    async def send_async(
        self,
        destination_id: str,
        message: Any,
        topic: str | None = None,
        idempotency_key: str | None = None,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """The async twin of send."""
        batch = [SendMessage(destination_id, message, topic, idempotency_key)]
        await run_async(self._send(batch, serialization_type, send_to_forks, SEND))

    @outside_workflows
    def send_bulk(
        self,
        messages: list[SendMessage],
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """Send several messages in one transaction."""
        run_sync(self._send(list(messages), serialization_type, send_to_forks, SEND_BULK))

    @outside_workflows_async
    async def send_bulk_async(
        self,
        messages: list[SendMessage],
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """The async twin of send_bulk."""
        await run_async(self._send(list(messages), serialization_type, send_to_forks, SEND_BULK))

    @outside_workflows
    def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """Wait for an event of a workflow and return its value; None on timeout."""
        rt = self._runtime()
        return run_sync(get_event_flow(rt, check_workflow_id(workflow_id), key, timeout_seconds))

    @outside_workflows_async
    async def get_event_async(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """The async twin of get_event."""
        rt = self._runtime()
        flow = get_event_flow(rt, check_workflow_id(workflow_id), key, timeout_seconds)
        return await run_async(flow)

    # ------------------------------------------------------------------ streams

    def read_stream(
        self,
        workflow_id: str,
        key: str,
        *,
        offset: int = 0,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Generator[Any, None, None]:
        """Yield a stream's values as they are written, until it ends (never checkpointed)."""
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        rt = self._runtime()
        values = streams.read_stream(
            rt, check_workflow_id(workflow_id), key, offset, polling_interval_sec, timeout_seconds
        )
        while True:
            token = context.set_current(None)
            try:
                value = next(values)
            except StopIteration:
                return
            finally:
                context.reset(token)
            yield value

    async def read_stream_async(
        self,
        workflow_id: str,
        key: str,
        *,
        offset: int = 0,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> AsyncGenerator[Any, None]:
        """The async twin of read_stream."""
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        rt = self._runtime()
        values = streams.read_stream_async(
            rt, check_workflow_id(workflow_id), key, offset, polling_interval_sec, timeout_seconds
        )
        while True:
            token = context.set_current(None)
            try:
                value = await values.__anext__()
            except StopAsyncIteration:
                return
            finally:
                context.reset(token)
            yield value

    @outside_workflows
    def read_stream_offset(
        self,
        workflow_id: str,
        key: str,
        offset: int,
        *,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """The value at ``offset`` of a stream, waiting for it to be written."""
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        flow = streams.read_offset_flow(
            self._runtime(), check_workflow_id(workflow_id), key, offset,
            polling_interval_sec, timeout_seconds,
        )  # fmt: skip
        return run_sync(flow)

    @outside_workflows_async
    async def read_stream_offset_async(
        self,
        workflow_id: str,
        key: str,
        offset: int,
        *,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """The async twin of read_stream_offset."""
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        flow = streams.read_offset_flow(
            self._runtime(), check_workflow_id(workflow_id), key, offset,
            polling_interval_sec, timeout_seconds,
        )  # fmt: skip
        return await run_async(flow)
