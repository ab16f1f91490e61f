"""DeadlineWatcher: cancels running workflows whose deadline has passed.

One thread and a heap for the whole process, however many workflows have deadlines. A
deadline fires a cancel (the same as DBOS.cancel_workflow); the workflow stops at its next
durable operation, and whoever awaits it gets DBOSAwaitedWorkflowCancelledError.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("dbos")


class DeadlineWatcher:
    def __init__(self, now_ms: Callable[[], int], on_deadline: Callable[[str], None]) -> None:
        self._now_ms = now_ms
        self._on_deadline = on_deadline
        self._heap: list[tuple[int, str]] = []
        self._live: dict[str, int] = {}  # workflow ID -> its scheduled deadline
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def watch(self, workflow_id: str, deadline_ms: int) -> None:
        with self._cond:
            self._live[workflow_id] = deadline_ms
            heapq.heappush(self._heap, (deadline_ms, workflow_id))
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="dbos-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def forget(self, workflow_id: str) -> None:
        """The workflow finished (here); its deadline no longer matters."""
        with self._cond:
            self._live.pop(workflow_id, None)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(5)

    def _due(self) -> list[str]:
        """Pop what is due; otherwise wait until the earliest deadline (or a change)."""
        now = self._now_ms()
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            deadline, workflow_id = heapq.heappop(self._heap)
            if self._live.get(workflow_id) == deadline:  # not forgotten or rescheduled
                del self._live[workflow_id]
                due.append(workflow_id)
        if not due:
            timeout = (self._heap[0][0] - now) / 1000 if self._heap else None
            self._cond.wait(timeout)
        return due

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                due = self._due()
            for workflow_id in due:
                try:
                    self._on_deadline(workflow_id)
                except Exception:
                    logger.exception("Could not cancel workflow %s at its deadline", workflow_id)
