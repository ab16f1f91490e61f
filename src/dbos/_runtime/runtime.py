"""Runtime: what a launched DBOS process runs workflows with (storage, registry, executor)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from dbos._core.serialization import PayloadCodec
from dbos._core.settings import Settings
from dbos._runtime.clock import Clock, SystemClock
from dbos._runtime.deadlines import DeadlineWatcher
from dbos._runtime.event_loop import LoopRunner
from dbos._runtime.registry import Registry
from dbos._runtime.storage_threads import StorageThreads
from dbos._runtime.waiters import Waiters
from dbos._storage.system_database import SystemDatabase

if TYPE_CHECKING:
    from dbos._storage.app_database import ApplicationDatabase

logger = logging.getLogger("dbos")

# ThreadPoolExecutor needs a bound; this one is never reached in practice and threads are
# only created as work arrives, which is what "unbounded" means for users.
_UNBOUNDED_THREADS = 4096


def _no_wakeup() -> None:
    return None


class Runtime:
    def __init__(
        self,
        settings: Settings,
        db: SystemDatabase,
        registry: Registry,
        *,
        app_version: str,
        executor_id: str,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.registry = registry
        self.app_name = settings.app_name
        self.app_version = app_version
        self.executor_id = executor_id
        self.app_id = os.environ.get("DBOS__APPID") or None
        self.codec = PayloadCodec(settings.serializer)
        self.serializer_name = settings.serializer.name()
        self.clock: Clock = clock or SystemClock()
        self.waiters = Waiters()
        self.pool = ThreadPoolExecutor(
            max_workers=settings.max_executor_threads or _UNBOUNDED_THREADS,
            thread_name_prefix="dbos-executor-",
        )
        self._active: set[str] = set()
        self._active_lock = threading.Lock()
        self._queue_of: dict[str, str] = {}
        self._running: dict[str, int] = {}
        # Workflows cancelled by this process: their next durable operation stops them.
        self.cancelled: set[str] = set()
        # Set by the queue runner so that an enqueue or recovery here starts work at once.
        self.wake_queues: Callable[[], None] = _no_wakeup
        self.stopping = threading.Event()
        # The application database of @DBOS.transaction, when one is configured (set at launch).
        self.app_db: ApplicationDatabase | None = None
        self.deadlines = DeadlineWatcher(self.clock.now_ms, self.cancel)
        self.storage_threads = StorageThreads()
        # Set at launch: where async workflows run when nobody awaits them.
        self.loop_runner: LoopRunner | None = None

    def try_activate(self, workflow_id: str, queue_name: str | None = None) -> bool:
        """Claim the right to run ``workflow_id`` in this process; False if it already runs.

        ``queue_name``: the queue it was claimed from, whose worker concurrency it counts
        against until it finishes here.
        """
        with self._active_lock:
            if workflow_id in self._active:
                return False
            self._active.add(workflow_id)
            if queue_name is not None:
                self._queue_of[workflow_id] = queue_name
                self._running[queue_name] = self._running.get(queue_name, 0) + 1
            return True

    def running_from(self, queue_name: str) -> int:
        """Workflows claimed from ``queue_name`` that are running in this process."""
        with self._active_lock:
            return self._running.get(queue_name, 0)

    def deactivate(self, workflow_id: str) -> None:
        with self._active_lock:
            self._active.discard(workflow_id)
            self.cancelled.discard(workflow_id)
            queue_name = self._queue_of.pop(workflow_id, None)
            if queue_name is not None:
                self._running[queue_name] -= 1
        if queue_name is not None:
            self.wake_queues()  # a slot on that queue is free again
        self.deadlines.forget(workflow_id)
        self.waiters.notify(workflow_id)

    def cancel(self, workflow_id: str) -> None:
        """Cancel a workflow; a run of it in this process stops at its next durable step.

        Runs elsewhere notice at their next checkpoint write, which returns the status.
        """
        self.db.workflows.cancel(workflow_id, self.clock.now_ms())
        with self._active_lock:
            if workflow_id in self._active:
                self.cancelled.add(workflow_id)
        self.waiters.notify(workflow_id)

    def active_count(self) -> int:
        with self._active_lock:
            return len(self._active)

    def shutdown(self) -> None:
        self.stopping.set()
        self.deadlines.stop()
        self.storage_threads.stop()
        self.waiters.notify_all()
        if self.loop_runner is not None:
            self.loop_runner.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
