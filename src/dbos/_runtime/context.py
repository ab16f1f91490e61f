"""The per-thread / per-task DBOS context: ambient options and the running workflow, if any."""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from dbos._runtime.execution import WorkflowExecution


class StepStatus(NamedTuple):
    """Where a step is in its retries: ``DBOS.step_status`` inside a step."""

    step_id: int
    current_attempt: int | None
    max_attempts: int | None


@dataclass(frozen=True)
class EnqueueSettings:
    """What SetEnqueueOptions asks of the workflows enqueued in its block."""

    deduplication_id: str | None = None
    priority: int | None = None
    app_version: str | None = None
    queue_partition_key: str | None = None
    delay_until_epoch_ms: int | None = None
    duplication_policy: str | None = None

    @property
    def queue_only(self) -> list[str]:
        """The options that make sense only for an enqueued workflow, as given."""
        return [
            name
            for name in ("deduplication_id", "priority", "queue_partition_key")
            if getattr(self, name) is not None
        ] + (["delay_seconds"] if self.delay_until_epoch_ms is not None else [])


@dataclass
class DBOSContext:
    """Mutable on purpose: context managers set a field and restore the old value on exit.

    A context is never shared between two running workflows: each execution gets a fresh one.
    """

    # Ambient options, consumed by the next workflow started in this context.
    next_workflow_id: str | None = None
    # timeout_set tells "SetWorkflowTimeout(None)" (clear an inherited deadline) from no
    # SetWorkflowTimeout at all (inherit the parent's deadline).
    workflow_timeout_sec: float | None = None
    timeout_set: bool = False
    attributes: dict[str, Any] | None = None
    authenticated_user: str | None = None
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None
    # Only the first workflow started in a SetWorkflowID block may take that ID; with
    # "reject", an ID that exists raises DBOSWorkflowIDInUseError instead of returning it.
    id_reuse_policy: str | None = None
    enqueue: EnqueueSettings | None = None
    # Whether a workflow in the current SetWorkflowID block already took its ID.
    workflow_id_taken: bool = False
    # The workflow running in this context (None outside workflows).
    execution: WorkflowExecution | None = None


logger = logging.getLogger("dbos")
_current: contextvars.ContextVar[DBOSContext | None] = contextvars.ContextVar(
    "dbos_context", default=None
)
# Kept apart from DBOSContext so that concurrent steps of one async workflow, each in its own
# task, never see each other's step state.
_step: contextvars.ContextVar[StepStatus | None] = contextvars.ContextVar("dbos_step", default=None)


def current() -> DBOSContext | None:
    return _current.get()


def ensure() -> DBOSContext:
    ctx = _current.get()
    if ctx is None:
        ctx = DBOSContext()
        _current.set(ctx)
    return ctx


def set_current(ctx: DBOSContext | None) -> contextvars.Token[DBOSContext | None]:
    return _current.set(ctx)


def reset(token: contextvars.Token[DBOSContext | None]) -> None:
    _current.reset(token)


def current_execution() -> WorkflowExecution | None:
    """The workflow whose durable operations this code performs; None outside one and in steps."""
    ctx = _current.get()
    if ctx is None or _step.get() is not None:
        return None
    return ctx.execution


def enclosing_execution() -> WorkflowExecution | None:
    """The workflow this code runs in, whether in its body or inside one of its steps."""
    ctx = _current.get()
    return None if ctx is None else ctx.execution


def current_step() -> StepStatus | None:
    return _step.get()


def enter_step(status: StepStatus) -> contextvars.Token[StepStatus | None]:
    return _step.set(status)


def leave_step(token: contextvars.Token[StepStatus | None]) -> None:
    _step.reset(token)


def take_workflow_id() -> tuple[str | None, str | None]:
    """Consume the ``SetWorkflowID`` value and its reuse policy.

    Only the first workflow started in the block gets the ID; later ones get fresh IDs.
    """
    ctx = _current.get()
    if ctx is None:
        return None, None
    if ctx.next_workflow_id is None:
        if ctx.workflow_id_taken:
            logger.warning(
                "Only the first workflow started in a SetWorkflowID block gets its ID; "
                "this one gets a generated ID"
            )
        return None, None
    workflow_id, ctx.next_workflow_id = ctx.next_workflow_id, None
    ctx.workflow_id_taken = True
    return workflow_id, ctx.id_reuse_policy
