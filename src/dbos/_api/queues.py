"""Queues: Queue(...), enqueueing onto one, and SetEnqueueOptions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, TypedDict

from dbos._api.context_managers import _ContextOption
from dbos._api.decorators import registered_workflow
from dbos._api.state import launched_runtime, refuse_in_event_loop, require_runtime
from dbos._core.queue_rules import QueueLimits, check_priority, validate_limits
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.background import enqueue_flow
from dbos._runtime.context import EnqueueSettings
from dbos._runtime.effects import run_async, run_sync
from dbos._runtime.handles import (
    RuntimeHandle,
    RuntimeHandleAsync,
    WorkflowHandle,
    WorkflowHandleAsync,
)
from dbos._runtime.registry import StepSpec, global_registry
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import step_flow

DuplicationPolicy = Literal["reject", "return-existing"]
SET_WORKFLOW_DELAY = "DBOS.setWorkflowDelay"


class EnqueueOptions(TypedDict, total=False):
    """Options for enqueueing a workflow by name (DBOSClient.enqueue and friends)."""

    workflow_name: str
    queue_name: str
    workflow_id: str
    app_version: str
    workflow_timeout: float
    delay_seconds: float
    deduplication_id: str
    duplication_policy: DuplicationPolicy
    priority: int
    max_recovery_attempts: int
    queue_partition_key: str
    authenticated_user: str
    authenticated_roles: list[str]
    serialization_type: Any
    class_name: str
    instance_name: str
    attributes: dict[str, Any]
    application_name: str
    otel_context: dict[str, str]


class Queue:
    """A queue that workflows are enqueued on and dequeued from with flow control.

    Declared queues are known to this process; every process declaring the same name
    serves it. Global concurrency counts across all processes; worker concurrency per process.
    """

    def __init__(
        self,
        name: str,
        concurrency: int | None = None,
        limiter: dict[str, Any] | None = None,
        *,
        worker_concurrency: int | None = None,
        global_concurrency: int | None = None,
        partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None,
        partition_limiter: dict[str, Any] | None = None,
        polling_interval_sec: float = 1.0,
        database_backed_queue: bool = False,
        client_system_database: Any = None,
        application_name: str | None = None,
        priority_enabled: bool = False,
        partition_queue: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("A queue needs a non-empty name")
        limits = validate_limits(
            concurrency=concurrency,
            global_concurrency=global_concurrency,
            worker_concurrency=worker_concurrency,
            limiter=limiter,
            partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency,
            partition_limiter=partition_limiter,
            polling_interval_sec=polling_interval_sec,
            priority_enabled=priority_enabled,
            partition_queue=partition_queue,
        )
        unsupported = [
            what
            for what, used in (
                ("partitioned queues", limits.partitioned),
                ("database-backed queues", database_backed_queue),
            )
            if used
        ]
        if unsupported:
            raise DBOSException(f"{', '.join(unsupported)}: not supported by this release yet")
        self.name = name
        self._limits = limits
        global_registry().register_queue(name, limits)

    @property
    def limits(self) -> QueueLimits:
        return self._limits

    @property
    def concurrency(self) -> int | None:
        """The global concurrency limit (deprecated alias)."""
        return self._limits.global_concurrency

    @property
    def global_concurrency(self) -> int | None:
        """At most this many workflows of the queue run at once, across all processes."""
        return self._limits.global_concurrency

    @property
    def worker_concurrency(self) -> int | None:
        """At most this many workflows of the queue run at once in one process."""
        return self._limits.worker_concurrency

    @property
    def polling_interval_sec(self) -> float:
        """How often the queue is polled for work enqueued by other processes."""
        return self._limits.polling_interval_sec

    def enqueue(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue ``func(*args, **kwargs)``; nothing runs in the caller."""
        refuse_in_event_loop("enqueue")
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        return RuntimeHandle(rt, run_sync(enqueue_flow(rt, info, self.name, args, kwargs)))

    async def enqueue_async(
        self, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of enqueue."""
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        workflow_id = await run_async(enqueue_flow(rt, info, self.name, args, kwargs))
        return RuntimeHandleAsync(rt, workflow_id)


class QueuesAPI:
    @classmethod
    def set_workflow_delay(
        cls,
        workflow_id: str,
        *,
        delay_seconds: float | None = None,
        delay_until_epoch_ms: int | None = None,
    ) -> None:
        """Change when a DELAYED workflow joins its queue (no effect once it has)."""
        refuse_in_event_loop("set_workflow_delay")
        until = _delay_until(delay_seconds, delay_until_epoch_ms)
        rt = launched_runtime("set_workflow_delay")
        execution = context.current_execution()
        if execution is None:
            set_delay(rt, workflow_id, until)
            return
        spec = StepSpec(SET_WORKFLOW_DELAY)
        run_sync(step_flow(rt, execution, spec, set_delay, (rt, workflow_id, until), {}, io=True))

    @classmethod
    def enqueue_workflow(
        cls, queue_name: str, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandle[Any]:
        """Enqueue by queue name; the queue need not be declared in this process."""
        refuse_in_event_loop("enqueue_workflow")
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        return RuntimeHandle(rt, run_sync(enqueue_flow(rt, info, queue_name, args, kwargs)))

    @classmethod
    async def enqueue_workflow_async(
        cls, queue_name: str, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of enqueue_workflow."""
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        workflow_id = await run_async(enqueue_flow(rt, info, queue_name, args, kwargs))
        return RuntimeHandleAsync(rt, workflow_id)


def _delay_until(delay_seconds: float | None, delay_until_epoch_ms: int | None) -> int:
    if (delay_seconds is None) == (delay_until_epoch_ms is None):
        raise DBOSException("Give exactly one of delay_seconds and delay_until_epoch_ms")
    if delay_seconds is not None:
        if not isinstance(delay_seconds, (int, float)) or delay_seconds < 0:
            raise DBOSException("delay_seconds must be a number >= 0")
        return time.time_ns() // 1_000_000 + int(delay_seconds * 1000)
    if not isinstance(delay_until_epoch_ms, int) or delay_until_epoch_ms < 0:
        raise DBOSException("delay_until_epoch_ms must be an integer >= 0")
    return delay_until_epoch_ms


def set_delay(rt: Runtime, workflow_id: str, until_ms: int) -> bool:
    changed = rt.db.queues.set_delay(workflow_id, until_ms, rt.clock.now_ms())
    rt.wake_queues()
    return changed


class SetEnqueueOptions(_ContextOption):
    """Options for the workflows enqueued in the block (deduplication, priority, ...)."""

    _field = "enqueue"

    def __init__(
        self,
        *,
        deduplication_id: str | None = None,
        priority: int | None = None,
        app_version: str | None = None,
        queue_partition_key: str | None = None,
        delay_seconds: float | None = None,
        duplication_policy: DuplicationPolicy | None = None,
    ) -> None:
        super().__init__()
        if priority is not None:
            check_priority(priority)
        if duplication_policy not in (None, "reject", "return-existing"):
            raise DBOSException(f"Invalid duplication_policy {duplication_policy!r}")
        if delay_seconds is not None and (
            not isinstance(delay_seconds, (int, float)) or delay_seconds < 0
        ):
            raise DBOSException("delay_seconds must be a number >= 0")
        # A delay is fixed when the options are made, not when the enqueue happens.
        delay_until = (
            None
            if delay_seconds is None
            else time.time_ns() // 1_000_000 + int(delay_seconds * 1000)
        )
        self._value = EnqueueSettings(
            deduplication_id,
            priority,
            app_version,
            queue_partition_key,
            delay_until,
            duplication_policy,
        )
