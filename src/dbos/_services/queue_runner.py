"""QueueRunnerService: claims ENQUEUED workflows off this process's queues and runs them."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable

from dbos._core.queue_rules import QueueLimits, claim_budget
from dbos._runtime.dispatch import dispatch
from dbos._runtime.runtime import Runtime
from dbos._storage.queues import SharedBudget

logger = logging.getLogger("dbos")
# How many workflows one claim may take; a full batch is followed by another claim at once.
CLAIM_BATCH = 100


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

    Enqueues and recoveries in this process wake it at once; otherwise it polls, so that work
    enqueued by other processes is found too.
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
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dbos-queue-runner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
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
                more = self.run_once()
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("Queue runner iteration failed; retrying")
                more = False
            if not more:
                # Jitter keeps many processes from polling the database in lockstep.
                interval = min(
                    [self._interval] + [q.polling_interval_sec for _, q in self._queues()]
                )
                self._wake.wait(interval * random.uniform(0.95, 1.05))
                self._wake.clear()

    def run_once(self) -> bool:
        """Claim and dispatch one batch per queue; True if some queue may have more."""
        rt = self._rt
        more = False
        rt.db.queues.promote_delayed(rt.app_name, rt.clock.now_ms())
        # Rows enqueued without a version go to executors on the latest version only.
        versions = rt.db.versions.list(rt.app_name)
        take_unversioned = not versions or versions[0].version_name == rt.app_version
        for queue_name, limits in self._queues():
            if self._stop.is_set():
                return False
            budget = claim_budget(limits, CLAIM_BATCH, rt.running_from(queue_name), None)
            if budget == 0:
                continue  # this process runs as many as the queue lets it; a finish wakes us
            claimed = rt.db.queues.claim(
                queue_name,
                executor_id=rt.executor_id,
                app_version=rt.app_version,
                app_name=rt.app_name,
                limit=budget,
                now_ms=rt.clock.now_ms(),
                owner=uuid.uuid4().hex,
                budget=_shared_budget(limits),
                take_unversioned=take_unversioned,
            )
            for workflow in claimed:
                try:
                    dispatch(rt, workflow)
                except Exception:
                    logger.exception("Could not dispatch workflow %s", workflow.workflow_id)
            more = more or len(claimed) == budget == CLAIM_BATCH
        return more
