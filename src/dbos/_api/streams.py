"""Streams: DBOS.write_stream / close_stream / read_stream / read_stream_offset, sync and async."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

from dbos._api.arguments import check_workflow_id
from dbos._api.messages import DEFAULT_FORMAT
from dbos._api.state import refuse_in_event_loop, require_runtime
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._runtime import streams
from dbos._runtime.effects import run_async, run_sync


class StreamsAPI:
    @classmethod
    def write_stream(
        cls,
        key: str,
        value: Any,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
    ) -> None:
        """Append ``value`` (any serializable value, None included) to this workflow's stream."""
        refuse_in_event_loop("write_stream")
        rt = require_runtime("write_stream")
        run_sync(streams.write_stream_flow(rt, key, value, serialization_type))

    @classmethod
    async def write_stream_async(
        cls,
        key: str,
        value: Any,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
    ) -> None:
        """The async twin of write_stream."""
        rt = require_runtime("write_stream_async")
        await run_async(streams.write_stream_flow(rt, key, value, serialization_type))

    @classmethod
    def close_stream(cls, key: str) -> None:
        """Close this workflow's stream ``key``: readers stop after the values before it."""
        refuse_in_event_loop("close_stream")
        rt = require_runtime("close_stream")
        run_sync(streams.write_stream_flow(rt, key, None, None, closing=True))

    @classmethod
    async def close_stream_async(cls, key: str) -> None:
        """The async twin of close_stream."""
        rt = require_runtime("close_stream_async")
        await run_async(streams.write_stream_flow(rt, key, None, None, closing=True))

    @classmethod
    def read_stream(
        cls,
        workflow_id: str,
        key: str,
        *,
        offset: int = 0,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Generator[Any, None, None]:
        """Yield the values of a stream from ``offset`` on, as they are written.

        Ends at the close marker, or once the writer has finished and every value it wrote
        has been read. ``timeout_seconds`` bounds the wait for each value
        (DBOSStreamTimeoutError). Inside a workflow each value read is checkpointed.
        """
        refuse_in_event_loop("read_stream")
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        rt = require_runtime("read_stream")
        yield from streams.read_stream(
            rt, check_workflow_id(workflow_id), key, offset, polling_interval_sec, timeout_seconds
        )

    @classmethod
    async def read_stream_async(
        cls,
        workflow_id: str,
        key: str,
        *,
        offset: int = 0,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> AsyncGenerator[Any, None]:
        """The async twin of read_stream: an async generator whose waits hold no thread."""
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        rt = require_runtime("read_stream_async")
        values = streams.read_stream_async(
            rt, check_workflow_id(workflow_id), key, offset, polling_interval_sec, timeout_seconds
        )
        async for value in values:
            yield value

    @classmethod
    def read_stream_offset(
        cls,
        workflow_id: str,
        key: str,
        offset: int,
        *,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """The value at ``offset`` of a stream, waiting for it to be written.

        Raises DBOSStreamTimeoutError if the stream ends before that offset.
        """
        refuse_in_event_loop("read_stream_offset")
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        rt = require_runtime("read_stream_offset")
        flow = streams.read_offset_flow(
            rt, check_workflow_id(workflow_id), key, offset, polling_interval_sec, timeout_seconds
        )
        return run_sync(flow)

    @classmethod
    async def read_stream_offset_async(
        cls,
        workflow_id: str,
        key: str,
        offset: int,
        *,
        polling_interval_sec: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """The async twin of read_stream_offset."""
        streams.check_read_options(polling_interval_sec, timeout_seconds, offset)
        rt = require_runtime("read_stream_offset_async")
        flow = streams.read_offset_flow(
            rt, check_workflow_id(workflow_id), key, offset, polling_interval_sec, timeout_seconds
        )
        return await run_async(flow)
