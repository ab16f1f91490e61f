"""Queue: a named queue to enqueue workflows on, and its flow-control settings.

A queue is declared in this process or registered in the database; a registered queue's
settings can be changed while it runs. A registered queue reached through a DBOSClient is
bound to that client's database: it can be reconfigured, but not enqueued on, since the
client has none of the workflows' code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from dbos._api.decorators import registered_workflow
from dbos._api.state import launched_runtime, refuse_in_event_loop, require_runtime
from dbos._core.queue_rules import QueueLimits, validate_limits
from dbos._error import DBOSException
from dbos._runtime.background import enqueue_flow
from dbos._runtime.effects import run_async, run_sync
from dbos._runtime.handles import (
    RuntimeHandle,
    RuntimeHandleAsync,
    WorkflowHandle,
    WorkflowHandleAsync,
)
from dbos._runtime.queue_registration import as_flow, change_settings, current_settings
from dbos._runtime.registry import global_registry
from dbos._runtime.runtime import Runtime

logger = logging.getLogger("dbos")
Limiter = dict[str, Any]


class Queue:
    """A queue that workflows are enqueued on and dequeued from with flow control.

    Declared queues (``Queue(...)``) are known to this process; every process declaring the
    same name serves it. Queues made by ``DBOS.register_queue`` live in the database: every
    process of the application serves them, and their settings can be changed while they
    run. Global concurrency counts across all processes; worker concurrency per process.
    """

    def __init__(
        self,
        name: str,
        concurrency: int | None = None,
        limiter: Limiter | None = None,
        *,
        worker_concurrency: int | None = None,
        global_concurrency: int | None = None,
        partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None,
        partition_limiter: Limiter | None = None,
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
        if client_system_database is not None:
            raise DBOSException("queues bound to a DBOSClient: not supported by this release yet")
        self.name = name
        self._limits = limits
        # A database-backed Queue is a handle on the registered row: it declares nothing
        # here, and its settings are read from (and written to) the database.
        self._registered = database_backed_queue
        self._client_runtime: Runtime | None = None
        if not database_backed_queue:
            global_registry().register_queue(name, limits)

    @classmethod
    def _handle(
        cls, name: str, limits: QueueLimits, *, registered: bool, client: Runtime | None = None
    ) -> Queue:
        """A Queue object for a queue that exists already, declaring nothing.

        ``client``: the runtime of the DBOSClient the queue was reached through.
        """
        queue = cls.__new__(cls)
        queue.name, queue._limits, queue._registered = name, limits, registered
        queue._client_runtime = client
        return queue

    def _runtime(self, api_name: str) -> Runtime:
        """Where this queue's settings live: its client's database, else launched DBOS's."""
        return self._client_runtime or launched_runtime(api_name)

    def _refuse_client_enqueue(self) -> None:
        if self._client_runtime is not None:
            raise DBOSException(
                f"Queue {self.name} was retrieved through a DBOSClient, which cannot run "
                "workflows. Use DBOSClient.enqueue instead"
            )

    def __repr__(self) -> str:
        kind = "registered" if self._registered else "declared"
        return f"Queue({self.name!r}, {kind})"

    # ------------------------------------------------------------------ enqueueing

    def enqueue(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue ``func(*args, **kwargs)``; nothing runs in the caller."""
        refuse_in_event_loop("enqueue")
        self._refuse_client_enqueue()
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        flow = enqueue_flow(rt, info, self.name, args, kwargs, self._checked_limits)
        return RuntimeHandle(rt, run_sync(flow))

    async def enqueue_async(
        self, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> WorkflowHandleAsync[Any]:
        """The async twin of enqueue."""
        self._refuse_client_enqueue()
        info, args = registered_workflow(func, args)
        rt = require_runtime(info.name)
        flow = enqueue_flow(rt, info, self.name, args, kwargs, self._checked_limits)
        return RuntimeHandleAsync(rt, await run_async(flow))

    @property
    def _checked_limits(self) -> QueueLimits | None:
        # A registered queue's settings may change before its workflows are dequeued, so
        # its partition keys are not checked against them at enqueue (spec 4.2).
        return None if self._registered else self._limits

    # ------------------------------------------------------------------ settings

    def _settings(self) -> QueueLimits:
        if not self._registered:
            return self._limits
        if asyncio._get_running_loop() is not None:
            logger.warning(
                "Reading a setting of queue %s blocks the running event loop; "
                "use its get_*_async methods in async code",
                self.name,
            )
        return current_settings(self._runtime("Queue settings"), self.name)

    async def _settings_async(self) -> QueueLimits:
        if not self._registered:
            return self._limits
        rt = self._runtime("Queue settings")
        limits: QueueLimits = await run_async(as_flow(current_settings, rt, self.name))
        return limits

    def _check_settable(self) -> None:
        if not self._registered:
            raise DBOSException(
                f"Cannot change queue {self.name}: dynamic configuration is only supported "
                "for queues registered via DBOS.register_queue"
            )

    def _set(self, setter: str, alias: bool = False, **changes: Any) -> None:
        self._check_settable()
        refuse_in_event_loop(setter)
        change_settings(self._runtime(setter), self.name, changes, alias=alias)

    async def _set_async(self, setter: str, alias: bool = False, **changes: Any) -> None:
        self._check_settable()
        rt = self._runtime(setter)
        await run_async(as_flow(change_settings, rt, self.name, changes, alias))

    @property
    def global_concurrency(self) -> int | None:
        """At most this many workflows of the queue run at once, across all processes."""
        return self._settings().global_concurrency

    async def get_global_concurrency_async(self) -> int | None:
        """The async twin of global_concurrency."""
        return (await self._settings_async()).global_concurrency

    def set_global_concurrency(self, value: int | None) -> None:
        """Change the global concurrency of a registered queue."""
        self._set("set_global_concurrency", global_concurrency=value)

    async def set_global_concurrency_async(self, value: int | None) -> None:
        """The async twin of set_global_concurrency."""
        await self._set_async("set_global_concurrency", global_concurrency=value)

    @property
    def concurrency(self) -> int | None:
        """Deprecated alias of global_concurrency (per partition on a partition_queue)."""
        return self._settings().global_concurrency

    async def get_concurrency_async(self) -> int | None:
        """The async twin of concurrency."""
        return (await self._settings_async()).global_concurrency

    def set_concurrency(self, value: int | None) -> None:
        """Deprecated alias of set_global_concurrency."""
        self._set("set_concurrency", alias=True, global_concurrency=value)

    async def set_concurrency_async(self, value: int | None) -> None:
        """The async twin of set_concurrency."""
        await self._set_async("set_concurrency", alias=True, global_concurrency=value)

    @property
    def worker_concurrency(self) -> int | None:
        """At most this many workflows of the queue run at once in one process."""
        return self._settings().worker_concurrency

    async def get_worker_concurrency_async(self) -> int | None:
        """The async twin of worker_concurrency."""
        return (await self._settings_async()).worker_concurrency

    def set_worker_concurrency(self, value: int | None) -> None:
        """Change the worker concurrency of a registered queue."""
        self._set("set_worker_concurrency", worker_concurrency=value)

    async def set_worker_concurrency_async(self, value: int | None) -> None:
        """The async twin of set_worker_concurrency."""
        await self._set_async("set_worker_concurrency", worker_concurrency=value)

    @property
    def limiter(self) -> Limiter | None:
        """At most ``limit`` workflows start in any ``period`` seconds."""
        return self._settings().limiter

    async def get_limiter_async(self) -> Limiter | None:
        """The async twin of limiter."""
        return (await self._settings_async()).limiter

    def set_limiter(self, value: Limiter | None) -> None:
        """Change the rate limiter of a registered queue."""
        self._set("set_limiter", limiter=value)

    async def set_limiter_async(self, value: Limiter | None) -> None:
        """The async twin of set_limiter."""
        await self._set_async("set_limiter", limiter=value)

    @property
    def partition_concurrency(self) -> int | None:
        """At most this many workflows of one partition run at once, across all processes."""
        return self._settings().partition_concurrency

    async def get_partition_concurrency_async(self) -> int | None:
        """The async twin of partition_concurrency."""
        return (await self._settings_async()).partition_concurrency

    def set_partition_concurrency(self, value: int | None) -> None:
        """Change the partition concurrency of a registered queue."""
        self._set("set_partition_concurrency", partition_concurrency=value)

    async def set_partition_concurrency_async(self, value: int | None) -> None:
        """The async twin of set_partition_concurrency."""
        await self._set_async("set_partition_concurrency", partition_concurrency=value)

    @property
    def partition_worker_concurrency(self) -> int | None:
        """At most this many workflows of one partition run at once in one process."""
        return self._settings().partition_worker_concurrency

    async def get_partition_worker_concurrency_async(self) -> int | None:
        """The async twin of partition_worker_concurrency."""
        return (await self._settings_async()).partition_worker_concurrency

    def set_partition_worker_concurrency(self, value: int | None) -> None:
        """Change the partition worker concurrency of a registered queue."""
        self._set("set_partition_worker_concurrency", partition_worker_concurrency=value)

    async def set_partition_worker_concurrency_async(self, value: int | None) -> None:
        """The async twin of set_partition_worker_concurrency."""
        await self._set_async(
            "set_partition_worker_concurrency", partition_worker_concurrency=value
        )

    @property
    def partition_limiter(self) -> Limiter | None:
        """The rate limiter applied to each partition."""
        return self._settings().partition_limiter

    async def get_partition_limiter_async(self) -> Limiter | None:
        """The async twin of partition_limiter."""
        return (await self._settings_async()).partition_limiter

    def set_partition_limiter(self, value: Limiter | None) -> None:
        """Change the partition rate limiter of a registered queue."""
        self._set("set_partition_limiter", partition_limiter=value)

    async def set_partition_limiter_async(self, value: Limiter | None) -> None:
        """The async twin of set_partition_limiter."""
        await self._set_async("set_partition_limiter", partition_limiter=value)

    @property
    def polling_interval_sec(self) -> float:
        """How often the queue is polled for work enqueued by other processes."""
        return self._settings().polling_interval_sec

    async def get_polling_interval_sec_async(self) -> float:
        """The async twin of polling_interval_sec."""
        return (await self._settings_async()).polling_interval_sec

    def set_polling_interval_sec(self, value: float) -> None:
        """Change how often a registered queue is polled."""
        self._set("set_polling_interval_sec", polling_interval_sec=value)

    async def set_polling_interval_sec_async(self, value: float) -> None:
        """The async twin of set_polling_interval_sec."""
        await self._set_async("set_polling_interval_sec", polling_interval_sec=value)

    @property
    def priority_enabled(self) -> bool:
        """Deprecated: priority is always honoured."""
        return self._settings().priority_enabled

    async def get_priority_enabled_async(self) -> bool:
        """The async twin of priority_enabled."""
        return (await self._settings_async()).priority_enabled

    def set_priority_enabled(self, value: bool) -> None:
        """Deprecated: priority is always honoured."""
        self._set("set_priority_enabled", priority_enabled=value)

    async def set_priority_enabled_async(self, value: bool) -> None:
        """The async twin of set_priority_enabled."""
        await self._set_async("set_priority_enabled", priority_enabled=value)

    @property
    def partition_queue(self) -> bool:
        """Deprecated legacy mode: concurrency, worker concurrency and limiter per partition."""
        return self._settings().partition_queue

    async def get_partition_queue_async(self) -> bool:
        """The async twin of partition_queue."""
        return (await self._settings_async()).partition_queue

    def set_partition_queue(self, value: bool) -> None:
        """Turn the deprecated legacy partition mode on or off for a registered queue."""
        self._set("set_partition_queue", partition_queue=value)

    async def set_partition_queue_async(self, value: bool) -> None:
        """The async twin of set_partition_queue."""
        await self._set_async("set_partition_queue", partition_queue=value)
