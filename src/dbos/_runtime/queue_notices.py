"""QueueNotices: which enqueues notify other processes at once, and which notices are owed.

A thread-safe wrapper over the core NoticeThrottle, for the enqueuing threads and the queue
announcer service. On a database without notifications every enqueue is simply "loud".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dbos._core.notice_throttle import NoticeThrottle


class QueueNotices:
    def __init__(self, enabled: bool, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self._monotonic = monotonic
        self._throttle = NoticeThrottle()
        self._lock = threading.Lock()
        self._owed = threading.Event()

    def quiet(self, queue_name: str) -> bool:
        """Whether an enqueue onto ``queue_name`` should leave its notice to later."""
        if not self.enabled:
            return False
        with self._lock:
            already_owed = self._throttle.owes(queue_name)
            loud = self._throttle.announce_now(queue_name, self._monotonic())
        # Only a newly owed notice wakes the announcer; it then sleeps until the notice is
        # due. Waking it on every quiet enqueue of a burst cost ~80 us of CPU per enqueue.
        if not loud and not already_owed:
            self._owed.set()
        return not loud

    def wait(self, timeout: float) -> None:
        """Until a notice may be owed, or ``timeout`` seconds."""
        self._owed.wait(timeout)
        self._owed.clear()

    def seconds_until_due(self) -> float | None:
        with self._lock:
            due = self._throttle.next_due()
        return None if due is None else max(0.0, due - self._monotonic())

    def take_due(self) -> list[str]:
        with self._lock:
            return self._throttle.take_due(self._monotonic())

    def take_all(self) -> list[str]:
        with self._lock:
            return self._throttle.take_all()

    def wake(self) -> None:
        self._owed.set()
