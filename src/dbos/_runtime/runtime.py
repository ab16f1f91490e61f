"""Runtime: what a launched DBOS process runs workflows with (storage, registry, executor)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from dbos._core.serialization import PayloadCodec
from dbos._core.settings import Settings
from dbos._runtime.clock import Clock, SystemClock
from dbos._runtime.deadlines import DeadlineWatcher
from dbos._runtime.event_loop import LoopRunner
from dbos._runtime.management import ManagementService
from dbos._runtime.queue_catalog import QueueCatalog
from dbos._runtime.queue_notices import QueueNotices
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
# Async flows run a storage call on the loop itself when such calls typically take less than
# this and nothing else is in flight (see StorageThreads): a local commit on either backend.
# Measured on a 2-core VM (benchmark D, async twin over sync): 0.5 ms left most Postgres
# round trips on the threads (1.5-1.8x); 1 ms gives 0.99-1.04x, and E and F (1,000-2,000
# concurrent async workflows) do not slow down; 2 ms made E and F 20-30% slower.
INLINE_STORAGE_BELOW_SECONDS = 0.001


class QueueWaker(Protocol):
    def __call__(self, queue_name: str | None = None, slot_freed: bool = False) -> None:
        """``queue_name`` has new work (or, ``slot_freed``, a free slot); None: every queue."""


def _no_wakeup(queue_name: str | None = None, slot_freed: bool = False) -> None:
    return None


def _no_scheduler() -> None:
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
        # Where each running workflow was claimed from: (queue, partition key or None).
        self._queue_of: dict[str, tuple[str, str | None]] = {}
        self._running: dict[str, int] = {}
        self._running_partitions: dict[tuple[str, str | None], int] = {}
        # Workflows cancelled by this process: their next durable operation stops them.
        self.cancelled: set[str] = set()
        # The queues this process dequeues from (declared, registered in the database).
        self.queue_catalog = QueueCatalog(db.queue_settings, registry, self.app_name)
        # Which enqueues notify other processes at once (where the database can notify).
        self.queue_notices = QueueNotices(enabled=bool(db.dialect.announce_queue))
        # Set by the queue runner so that an enqueue or recovery here starts work at once.
        self.wake_queues: QueueWaker = _no_wakeup
        # Set by the scheduler so that a schedule created or changed here is picked up at once.
        self.schedules_changed: Callable[[], None] = _no_scheduler
        self.stopping = threading.Event()
        # How often a waiter (recv, get_event, read_stream) re-reads the database when nothing
        # woke it: the polling interval, unless a notifier makes polling only a safety net.
        self.wait_recheck_seconds = settings.notification_listener_polling_interval_sec
        # The application database of @DBOS.transaction, when one is configured (set at launch).
        self.app_db: ApplicationDatabase | None = None
        self.deadlines = DeadlineWatcher(self.clock.now_ms, self.cancel)
        self.storage_threads = StorageThreads(inline_below_seconds=INLINE_STORAGE_BELOW_SECONDS)
        # Set at launch: where async workflows run when nobody awaits them.
        self.loop_runner: LoopRunner | None = None

    def try_activate(
        self, workflow_id: str, queue_name: str | None = None, partition_key: str | None = None
    ) -> bool:
        """Claim the right to run ``workflow_id`` in this process; False if it already runs.

        ``queue_name`` (and ``partition_key``): where it was claimed from, whose worker
        concurrency it counts against until it finishes here.
        """
        with self._active_lock:
            if workflow_id in self._active:
                return False
            self._active.add(workflow_id)
            if queue_name is not None:
                slot = (queue_name, partition_key)
                self._queue_of[workflow_id] = slot
                self._running[queue_name] = self._running.get(queue_name, 0) + 1
                if partition_key is not None:
                    self._running_partitions[slot] = self._running_partitions.get(slot, 0) + 1
            return True

    def running_from(self, queue_name: str) -> int:
        """Workflows claimed from ``queue_name`` that are running in this process."""
        with self._active_lock:
            return self._running.get(queue_name, 0)

    def running_by_partition(self, queue_name: str) -> dict[str, int]:
        """How many of each partition of ``queue_name`` run in this process."""
        with self._active_lock:
            return {
                key: count
                for (name, key), count in self._running_partitions.items()
                if name == queue_name and key is not None
            }

    def deactivate(self, workflow_id: str) -> None:
        with self._active_lock:
            self._active.discard(workflow_id)
            self.cancelled.discard(workflow_id)
            slot = self._queue_of.pop(workflow_id, None)
            queue_name = None if slot is None else slot[0]
            if slot is not None:
                self._running[slot[0]] -= 1
                if slot[1] is not None:
                    left = self._running_partitions[slot] - 1
                    if left:
                        self._running_partitions[slot] = left
                    else:  # partitions come and go: do not keep one entry per key forever
                        del self._running_partitions[slot]
        if queue_name is not None:
            self.wake_queues(queue_name, slot_freed=True)
        self.deadlines.forget(workflow_id)
        self.waiters.notify(workflow_id)

    @cached_property
    def management(self) -> ManagementService:
        """Listing and managing workflows, acting for this application.

        Built on first use, after launch has set the application database.
        """
        return ManagementService(
            self.db,
            self.codec,
            app_name=self.app_name,
            now_ms=self.clock.now_ms,
            app_db=lambda: self.app_db,
            on_stopped=self.stop_runs,
            # Looked up at each call: the queue runner replaces wake_queues at launch.
            on_enqueued=lambda: self.wake_queues(),  # noqa: PLW0108
        )

    def cancel(self, workflow_id: str) -> None:
        """Cancel a workflow; a run of it in this process stops at its next durable step.

        Runs elsewhere notice at their next checkpoint write, which returns the status.
        """
        self.management.cancel([workflow_id])

    def stop_runs(self, workflow_ids: list[str]) -> None:
        """Workflows were cancelled or deleted: runs here stop at their next durable step.

        Waiters are woken, so that those awaiting an outcome see the cancellation.
        """
        with self._active_lock:
            self.cancelled.update(w for w in workflow_ids if w in self._active)
        for workflow_id in workflow_ids:
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
