"""Queues on the DBOS facade: enqueue by name, register and find queues, listen_queues.

Also the enqueue options: SetEnqueueOptions and EnqueueOptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal, TypedDict

from dbos._api.arguments import check_workflow_id
from dbos._api.context_managers import _ContextOption
from dbos._api.decorators import registered_workflow
from dbos._api.queue import Limiter, Queue
from dbos._api.state import launched_runtime, refuse_in_event_loop, require_runtime, state
from dbos._core.queue_rules import QueueLimits, check_priority, validate_limits
from dbos._error import DBOSException
from dbos._runtime.background import enqueue_flow
from dbos._runtime.context import EnqueueSettings
from dbos._runtime.effects import run_async, run_sync
from dbos._runtime.enqueue_by_name import enqueue_by_name_flow
from dbos._runtime.handles import (
    RuntimeHandle,
    RuntimeHandleAsync,
    WorkflowHandle,
    WorkflowHandleAsync,
)
from dbos._runtime.managed_calls import SET_WORKFLOW_DELAY, managed_flow
from dbos._runtime.queue_registration import (
    as_flow,
    delete_queue,
    register_queue,
    registered_queues,
    registered_settings,
)
from dbos._runtime.registry import global_registry
from dbos._runtime.runtime import Runtime

DuplicationPolicy = Literal["reject", "return-existing"]
OnConflict = Literal["update_if_latest_version", "always_update", "never_update"]


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
    workflow_id_reuse_policy: Literal["return-existing", "reject"]


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
        rt = launched_runtime("set_workflow_delay")
        func = partial(
            rt.management.set_delay,
            delay_seconds=delay_seconds,
            delay_until_epoch_ms=delay_until_epoch_ms,
        )
        run_sync(managed_flow(rt, SET_WORKFLOW_DELAY, func, check_workflow_id(workflow_id)))

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

    @classmethod
    def enqueue_workflow_with_options(
        cls, options: EnqueueOptions, *args: Any, **kwargs: Any
    ) -> WorkflowHandle[Any]:
        """Enqueue by workflow name, building the row from ``options`` as a client would.

        The workflow need not be registered in this process. Ambient SetWorkflowID,
        SetEnqueueOptions, SetWorkflowTimeout and attributes fill in unset options.
        """
        refuse_in_event_loop("enqueue_workflow_with_options")
        rt = launched_runtime("enqueue_workflow_with_options")
        return RuntimeHandle(rt, run_sync(enqueue_by_name_flow(rt, options, args, kwargs)))

    @classmethod
    async def enqueue_workflow_with_options_async(
        cls, options: EnqueueOptions, *args: Any, **kwargs: Any
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of enqueue_workflow_with_options."""
        rt = launched_runtime("enqueue_workflow_with_options_async")
        workflow_id = await run_async(enqueue_by_name_flow(rt, options, args, kwargs))
        return RuntimeHandleAsync(rt, workflow_id)

    @classmethod
    def register_queue(
        cls,
        name: str,
        *,
        worker_concurrency: int | None = None,
        global_concurrency: int | None = None,
        partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None,
        partition_limiter: Limiter | None = None,
        limiter: Limiter | None = None,
        polling_interval_sec: float = 1.0,
        on_conflict: OnConflict = "update_if_latest_version",
        concurrency: int | None = None,
        priority_enabled: bool = False,
        partition_queue: bool = False,
    ) -> Queue:
        """Register a queue in the system database; every process of the app serves it.

        If the name is registered already, ``on_conflict`` says whether these settings
        replace the stored ones: "update_if_latest_version" (only when this process runs
        the latest application version), "always_update" or "never_update".
        """
        refuse_in_event_loop("register_queue")
        limits = limits_of(name, locals())
        rt = launched_runtime("register_queue")
        register_queue(rt, name, limits, on_conflict, app_name=rt.app_name)
        return Queue._handle(name, limits, registered=True)

    @classmethod
    async def register_queue_async(
        cls,
        name: str,
        *,
        worker_concurrency: int | None = None,
        global_concurrency: int | None = None,
        partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None,
        partition_limiter: Limiter | None = None,
        limiter: Limiter | None = None,
        polling_interval_sec: float = 1.0,
        on_conflict: OnConflict = "update_if_latest_version",
        concurrency: int | None = None,
        priority_enabled: bool = False,
        partition_queue: bool = False,
    ) -> Queue:
        """The async twin of register_queue."""
        limits = limits_of(name, locals())
        rt = launched_runtime("register_queue_async")
        await run_async(
            as_flow(register_queue, rt, name, limits, on_conflict, app_name=rt.app_name)
        )
        return Queue._handle(name, limits, registered=True)

    @classmethod
    def retrieve_queue(cls, name: str) -> Queue | None:
        """The queue called ``name``: declared here, or registered by this application."""
        refuse_in_event_loop("retrieve_queue")
        rt = launched_runtime("retrieve_queue")
        return _found(rt, name, registered_settings(rt, name))

    @classmethod
    async def retrieve_queue_async(cls, name: str) -> Queue | None:
        """The async twin of retrieve_queue."""
        rt = launched_runtime("retrieve_queue_async")
        return _found(rt, name, await run_async(as_flow(registered_settings, rt, name)))

    @classmethod
    def delete_queue(cls, name: str) -> None:
        """Unregister a queue; its ENQUEUED workflows wait until it is registered again."""
        refuse_in_event_loop("delete_queue")
        delete_queue(launched_runtime("delete_queue"), name)

    @classmethod
    async def delete_queue_async(cls, name: str) -> None:
        """The async twin of delete_queue."""
        rt = launched_runtime("delete_queue_async")
        await run_async(as_flow(delete_queue, rt, name))

    @classmethod
    def list_queues(cls, *, application_name: str | None = None) -> list[Queue]:
        """The queues registered in the database by this (or the named) application."""
        refuse_in_event_loop("list_queues")
        rt = launched_runtime("list_queues")
        return _registered(registered_queues(rt, application_name))

    @classmethod
    async def list_queues_async(cls, *, application_name: str | None = None) -> list[Queue]:
        """The async twin of list_queues."""
        rt = launched_runtime("list_queues_async")
        return _registered(await run_async(as_flow(registered_queues, rt, application_name)))

    @classmethod
    def listen_queues(cls, queues: Sequence[Queue | str]) -> None:
        """Dequeue only from these queues in this process (and from DBOS's internal queue).

        Call it once, before launch. Workflows on other queues wait for a process that
        listens to them.
        """
        if state.runtime is not None:
            raise DBOSException("DBOS.listen_queues must be called before DBOS.launch()")
        if isinstance(queues, str):
            raise DBOSException("DBOS.listen_queues takes a list of queues or queue names")
        names = []
        for queue in queues:
            name = queue.name if isinstance(queue, Queue) else queue
            if not isinstance(name, str) or not name:
                raise DBOSException(f"DBOS.listen_queues: {queue!r} is not a queue or its name")
            names.append(name)
        global_registry().listen(frozenset(names))


def limits_of(name: str, arguments: dict[str, Any]) -> QueueLimits:
    """Validated settings from register_queue's arguments (its ``locals()`` on entry).

    Shared by DBOS.register_queue and DBOSClient.register_queue.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("A queue needs a non-empty name")
    not_limits = ("cls", "self", "name", "on_conflict", "application_name")
    return validate_limits(**{k: v for k, v in arguments.items() if k not in not_limits})


def _found(rt: Runtime, name: str, registered: QueueLimits | None) -> Queue | None:
    declared = rt.registry.queues.get(name)
    if declared is not None:  # what this process runs the queue with
        return Queue._handle(name, declared, registered=False)
    return None if registered is None else Queue._handle(name, registered, registered=True)


def _registered(names: list[str]) -> list[Queue]:
    return [Queue._handle(name, QueueLimits(), registered=True) for name in names]


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
