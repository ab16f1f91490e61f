"""QueueCatalog: the queues this process dequeues from, and the settings each is held to.

They are the internal queue, the queues declared in this process, and the queues registered
in the database by any process of this application (or unclaimed), narrowed by
DBOS.listen_queues. Database queues are re-read at most once a second, so a queue
registered, changed or deleted elsewhere is picked up without a restart; a change made in
this process is seen at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dbos._core.queue_rules import QueueLimits
from dbos._core.status import INTERNAL_QUEUE
from dbos._runtime.registry import Registry
from dbos._storage.queue_settings import QueueSettingsStore

logger = logging.getLogger("dbos")
REFRESH_SEC = 1.0


class QueueCatalog:
    def __init__(
        self,
        store: QueueSettingsStore,
        registry: Registry,
        app_name: str | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._registry = registry
        self._app_name = app_name
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._registered: dict[str, QueueLimits] = {}
        self._read_at: float | None = None
        self._warned: set[str] = set()

    def invalidate(self) -> None:
        """Re-read the database queues at the next look (this process changed one)."""
        with self._lock:
            self._read_at = None

    def served(self) -> list[tuple[str, QueueLimits]]:
        """(name, settings) of every queue to dequeue from, the internal queue first."""
        registered = self._registered_queues()
        declared = self._registry.queues
        listens_to = self._registry.listens_to
        served = [(INTERNAL_QUEUE, declared.get(INTERNAL_QUEUE, QueueLimits()))]
        served += [(n, q) for n, q in declared.items() if n != INTERNAL_QUEUE and listens_to(n)]
        for name, limits in registered.items():
            if name in declared:
                self._warn_shadowed(name)
            elif name != INTERNAL_QUEUE and listens_to(name):
                served.append((name, limits))
        return served

    def _registered_queues(self) -> dict[str, QueueLimits]:
        now = self._monotonic()
        with self._lock:
            fresh = self._read_at is not None and now - self._read_at < REFRESH_SEC
            if fresh:
                return self._registered
        # Read outside the lock: a slow database must not hold up invalidate().
        registered = {r.name: r.limits for r in self._store.list(self._app_name)}
        with self._lock:
            self._registered, self._read_at = registered, now
        return registered

    def _warn_shadowed(self, name: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "Queue %s is declared in this process and registered in the database; "
                "this process uses its declared settings",
                name,
            )
