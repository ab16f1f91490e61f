"""WorkflowExecution: the state of one run of one workflow (function IDs, replay cache)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbos._core.serialization import Serializer
from dbos._runtime.stream_cursors import StreamCursor
from dbos._storage.records import StepRow

if TYPE_CHECKING:
    from dbos._runtime.runtime import Runtime


class WorkflowExecution:
    """One run of a workflow body in this process.

    ``recorded`` holds what earlier runs checkpointed, loaded once when the run starts, so
    replaying a step needs no read; a fresh workflow starts with nothing recorded.
    """

    __slots__ = (
        "deadline_ms",
        "function_id",
        "name",
        "open_stream_read",
        "recorded",
        "runtime",
        "serializer",
        "stream_cursors",
        "workflow_id",
    )

    def __init__(
        self,
        runtime: Runtime,
        workflow_id: str,
        name: str,
        serializer: Serializer,
        recorded: dict[int, StepRow] | None = None,
        deadline_ms: int | None = None,
    ) -> None:
        # The runtime this run belongs to. Everything the run does goes through it, never
        # through "the current DBOS": after a destroy and relaunch, a run still unwinding in
        # a thread must not write into the new runtime's database.
        self.runtime = runtime
        self.workflow_id = workflow_id
        self.name = name
        self.serializer = serializer
        self.recorded: dict[int, StepRow] = recorded or {}
        self.function_id = 0
        # Children started, called or enqueued from this run inherit this absolute deadline.
        self.deadline_ms = deadline_ms
        # The checkpointed stream read in progress, if any (only one may be open at a time).
        self.open_stream_read: object | None = None
        # The next offset of each stream this run writes, where it knows it (stream_cursors).
        self.stream_cursors: dict[str, StreamCursor] = {}

    def next_function_id(self) -> int:
        """Every durable operation takes the next ID before it runs; the first is 1."""
        self.function_id += 1
        return self.function_id
