"""WorkflowExecution: the state of one run of one workflow (function IDs, replay cache)."""

from __future__ import annotations

from dbos._core.serialization import Serializer
from dbos._storage.records import StepRow


class WorkflowExecution:
    """One run of a workflow body in this process.

    ``recorded`` holds what earlier runs checkpointed, loaded once when the run starts, so
    replaying a step needs no read; a fresh workflow starts with nothing recorded.
    """

    __slots__ = ("function_id", "name", "recorded", "serializer", "workflow_id")

    def __init__(
        self,
        workflow_id: str,
        name: str,
        serializer: Serializer,
        recorded: dict[int, StepRow] | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.name = name
        self.serializer = serializer
        self.recorded: dict[int, StepRow] = recorded or {}
        self.function_id = 0

    def next_function_id(self) -> int:
        """Every durable operation takes the next ID before it runs; the first is 1."""
        self.function_id += 1
        return self.function_id
