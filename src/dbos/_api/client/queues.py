"""DBOSClient's queues registered in the database: register, retrieve, delete, list.

The same registration code as DBOS.register_queue, acting for the client's application
(or, without one, for every application). A client runs no application version, so it
cannot register "update_if_latest_version"; its default is "always_update". The Queue
objects it returns can be reconfigured but not enqueued on (use DBOSClient.enqueue).
"""

from __future__ import annotations

from functools import partial

from dbos._api.client.connection import ClientConnection
from dbos._api.queue import Limiter, Queue
from dbos._api.queues import OnConflict, limits_of
from dbos._core.queue_rules import QueueLimits
from dbos._error import DBOSException
from dbos._runtime.queue_registration import (
    delete_queue,
    register_queue,
    registered_queues,
    registered_settings,
)


class ClientQueues(ClientConnection):
    """Queues registered in the system database."""

    def _register(
        self, name: str, limits: QueueLimits, on_conflict: str, application_name: str | None
    ) -> partial[None]:
        if on_conflict == "update_if_latest_version":
            raise DBOSException(
                "DBOSClient.register_queue cannot use on_conflict='update_if_latest_version': "
                "a client runs no application version; use 'always_update' or 'never_update'"
            )
        owner = application_name or self._application_name
        return partial(register_queue, self._runtime(), name, limits, on_conflict, app_name=owner)

    def register_queue(
        self,
        name: str,
        *,
        global_concurrency: int | None = None,
        partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None,
        partition_limiter: Limiter | None = None,
        limiter: Limiter | None = None,
        worker_concurrency: int | None = None,
        polling_interval_sec: float = 1.0,
        on_conflict: OnConflict = "always_update",
        application_name: str | None = None,
        concurrency: int | None = None,
        priority_enabled: bool = False,
        partition_queue: bool = False,
    ) -> Queue:
        """Register a queue in the system database for DBOS processes to serve.

        It belongs to ``application_name`` (default: the client's; without either it is
        unclaimed, served by every application). If the name is registered already,
        ``on_conflict`` says whether these settings replace the stored ones:
        "always_update" (the default) or "never_update". A name another application owns
        raises DBOSException; bad limits raise ValueError.
        """
        limits = limits_of(name, locals())
        self._register(name, limits, on_conflict, application_name)()
        return Queue._handle(name, limits, registered=True, client=self._runtime())

    async def register_queue_async(
        self,
        name: str,
        *,
        global_concurrency: int | None = None,
        partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None,
        partition_limiter: Limiter | None = None,
        limiter: Limiter | None = None,
        worker_concurrency: int | None = None,
        polling_interval_sec: float = 1.0,
        on_conflict: OnConflict = "always_update",
        application_name: str | None = None,
        concurrency: int | None = None,
        priority_enabled: bool = False,
        partition_queue: bool = False,
    ) -> Queue:
        """The async twin of register_queue."""
        limits = limits_of(name, locals())
        await self._call_async(self._register(name, limits, on_conflict, application_name))
        return Queue._handle(name, limits, registered=True, client=self._runtime())

    def _found(self, name: str, limits: QueueLimits | None) -> Queue | None:
        if limits is None:
            return None
        return Queue._handle(name, limits, registered=True, client=self._runtime())

    def retrieve_queue(self, name: str) -> Queue | None:
        """The registered queue called ``name`` (None if there is none the client sees)."""
        return self._found(name, registered_settings(self._runtime(), name))

    async def retrieve_queue_async(self, name: str) -> Queue | None:
        """The async twin of retrieve_queue."""
        return self._found(name, await self._call_async(registered_settings, self._runtime(), name))

    def delete_queue(self, name: str) -> None:
        """Unregister a queue; its ENQUEUED workflows wait until it is registered again."""
        delete_queue(self._runtime(), name)

    async def delete_queue_async(self, name: str) -> None:
        """The async twin of delete_queue."""
        await self._call_async(delete_queue, self._runtime(), name)

    def _queues(self, names: list[str]) -> list[Queue]:
        rt = self._runtime()
        return [Queue._handle(n, QueueLimits(), registered=True, client=rt) for n in names]

    def list_queues(self, *, application_name: str | None = None) -> list[Queue]:
        """The registered queues of an application and the unclaimed ones, by name.

        ``application_name`` defaults to the client's; a client without one sees every queue.
        """
        return self._queues(registered_queues(self._runtime(), application_name))

    async def list_queues_async(self, *, application_name: str | None = None) -> list[Queue]:
        """The async twin of list_queues."""
        names = await self._call_async(registered_queues, self._runtime(), application_name)
        return self._queues(names)
