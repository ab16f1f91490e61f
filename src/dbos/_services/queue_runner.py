"""QueueRunnerService: claims ENQUEUED workflows off this process's queues and runs them."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from dbos._core.queue_rules import QueueLimits, claim_budget, split_limits
from dbos._runtime.dispatch import dispatch
from dbos._runtime.ids import random_token
from dbos._runtime.runtime import Runtime
from dbos._storage.queues import PartitionBudget, SharedBudget

logger = logging.getLogger("dbos")
# How many workflows one claim may take; a full batch is followed by another claim at once.
CLAIM_BATCH = 100
# Passes woken back to back start at least this far apart (an idle runner starts at once).
MIN_PASS_SPACING_SEC = 0.005


def _partition_budget(rt: Runtime, queue_name: str, limits: QueueLimits) -> PartitionBudget | None:
    per_partition = split_limits(limits)[1]
    if per_partition is None:
        return None
    running = rt.running_by_partition(queue_name) if per_partition.worker_concurrency else {}
    return PartitionBudget(per_partition, running)


def _capped(limits: QueueLimits) -> bool:
    """Whether a finished workflow can let another of the queue start."""
    return limits.partition_queue or any(
        limit is not None
        for limit in (
            limits.worker_concurrency,
            limits.global_concurrency,
            limits.partition_concurrency,
            limits.partition_worker_concurrency,
        )
    )


def _shared_budget(limits: QueueLimits) -> SharedBudget | None:
    limiter = limits.limiter
    if limits.global_concurrency is None and limiter is None:
        return None
    return SharedBudget(
        global_concurrency=limits.global_concurrency,
        rate_limit=None if limiter is None else int(limiter["limit"]),
        rate_period_ms=0 if limiter is None else int(float(limiter["period"]) * 1000),
    )


class QueueRunnerService:
    """One thread, woken by local enqueues and recoveries, and polling for remote work.

    A wake-up only marks a queue as having new work and sets an event: the enqueuer's
    thread never does the runner's work. The runner's next pass claims from the queues
    marked since the last one (all of them when a poll is due), so a burst of enqueues is
    claimed in a few batches rather than one claim per enqueue: passes woken back to back
    are spaced at least MIN_PASS_SPACING_SEC apart. A wake-up for a queue this process does
    not serve is dropped. Delayed workflows are promoted, and the latest version is read,
    at most once per poll interval.
    """

    def __init__(
        self,
        rt: Runtime,
        queues: Callable[[], list[tuple[str, QueueLimits]]],
        *,
        polling_interval_sec: float = 1.0,
    ) -> None:
        self._rt = rt
        self._queues = queues
        self._interval = polling_interval_sec
        self._poll_interval = polling_interval_sec
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Queues with new work since the last pass; _everything marks them all.
        self._marked: set[str] = set()
        self._everything = True
        self._marks_lock = threading.Lock()
        self._served: frozenset[str] = frozenset()
        self._capped: frozenset[str] = frozenset()  # served queues with a concurrency limit
        self._last_pass = 0.0
        self._next_housekeeping = 0.0
        self._take_unversioned = True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dbos-queue-runner", daemon=True)
        self._thread.start()

    def wake(self, queue_name: str | None = None, slot_freed: bool = False) -> None:
        """Ask for a pass: ``queue_name`` has new work, or None for every queue.

        ``slot_freed``: one of the queue's workflows finished here, which matters only to a
        queue whose concurrency is limited.
        """
        if slot_freed and queue_name not in self._capped:
            return
        if queue_name is not None and not (
            queue_name in self._served or queue_name in self._rt.registry.queues
        ):
            return  # nothing here serves it; a process that does will find it
        with self._marks_lock:  # a mark never lands in a set a pass has already read
            if queue_name is None:
                self._everything = True
            else:
                self._marked.add(queue_name)
        if not self._wake.is_set():
            self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                more = self._pass()
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("Queue runner iteration failed; retrying")
                more = False
            if more:
                continue
            # Jitter keeps many processes from polling the database in lockstep.
            if not self._wake.wait(self._poll_interval * random.uniform(0.95, 1.05)):
                with self._marks_lock:  # a poll: look for work other processes enqueued
                    self._everything = True
                continue
            self._wake.clear()
            # Coalesce: a pass right after another waits a moment, so that what is enqueued
            # meanwhile is claimed together.
            gap = self._last_pass + MIN_PASS_SPACING_SEC - time.monotonic()
            if gap > 0:
                self._stop.wait(gap)

    def run_once(self) -> bool:
        """One full pass over every served queue; True if some queue may have more."""
        with self._marks_lock:
            self._everything = True
        self._next_housekeeping = 0.0
        return self._pass()

    def _pass(self) -> bool:
        now = time.monotonic()
        self._last_pass = now
        with self._marks_lock:
            everything, self._everything = self._everything, False
            marked, self._marked = self._marked, set()
        if everything or now >= self._next_housekeeping:
            self._housekeeping(now)
            everything = True
        served = self._queues()
        self._served = frozenset(name for name, _ in served)
        self._capped = frozenset(name for name, limits in served if _capped(limits))
        # The next poll comes as soon as the most eagerly polled queue asks for it.
        self._poll_interval = min([self._interval] + [q.polling_interval_sec for _, q in served])
        more = False
        for queue_name, configured in served:
            if self._stop.is_set():
                return False
            wanted = everything or queue_name in marked
            if wanted and self._claim_and_dispatch(queue_name, configured):
                with self._marks_lock:
                    self._marked.add(queue_name)  # a full batch: there may be more at once
                more = True
        return more

    def _housekeeping(self, now: float) -> None:
        """Promote due delayed workflows and re-read the latest version, once per poll."""
        rt = self._rt
        self._next_housekeeping = now + self._poll_interval
        rt.db.queues.promote_delayed(rt.app_name, rt.clock.now_ms())
        # Rows enqueued without a version go to executors on the latest version only.
        versions = rt.db.versions.list(rt.app_name)
        self._take_unversioned = not versions or versions[0].version_name == rt.app_version

    def _claim_and_dispatch(self, queue_name: str, configured: QueueLimits) -> bool:
        """Claim one batch from a queue and start it; True if the batch was full."""
        rt = self._rt
        limits = split_limits(configured)[0]
        budget = claim_budget(limits, CLAIM_BATCH, rt.running_from(queue_name), None)
        if budget == 0:
            return False  # this process runs as many as the queue lets it; a finish wakes us
        claimed = rt.db.queues.claim(
            queue_name,
            executor_id=rt.executor_id,
            app_version=rt.app_version,
            app_name=rt.app_name,
            limit=budget,
            now_ms=rt.clock.now_ms(),
            owner=random_token(),
            budget=_shared_budget(limits),
            take_unversioned=self._take_unversioned,
            partitions=_partition_budget(rt, queue_name, configured),
        )
        for workflow in claimed:
            try:
                dispatch(rt, workflow)
            except Exception:
                logger.exception("Could not dispatch workflow %s", workflow.workflow_id)
        return len(claimed) == budget == CLAIM_BATCH
