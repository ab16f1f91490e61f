"""When an enqueue tells other processes about itself: at once, or with the next notice.

Postgres wakes idle queue runners in every process with a notification per enqueue, which
costs the enqueuing commit about as much again as the insert. Within a burst one notice a
window suffices: the first enqueue of a queue in a window is announced with its own insert;
the rest of the window's enqueues stay quiet, and one notice follows when the window
closes. A burst of any length then costs about two notices a window, and an idle runner
elsewhere still hears of every enqueue within one window of it.
"""

from __future__ import annotations

WINDOW_SEC = 0.005


class NoticeThrottle:
    """Pure bookkeeping: callers pass the time and hold any lock."""

    def __init__(self, window_sec: float = WINDOW_SEC) -> None:
        self._window = window_sec
        self._last: dict[str, float] = {}  # queue -> when it was last announced
        self._owed: dict[str, float] = {}  # queue -> when its trailing notice is due

    def announce_now(self, queue_name: str, now: float) -> bool:
        """Whether this enqueue announces itself; if not, a notice is owed for it."""
        last = self._last.get(queue_name)
        if last is None or now - last >= self._window:
            self._last[queue_name] = now
            return True
        self._owed.setdefault(queue_name, last + self._window)
        return False

    def owes(self, queue_name: str) -> bool:
        """Whether a trailing notice for ``queue_name`` is already owed."""
        return queue_name in self._owed

    def next_due(self) -> float | None:
        """When the earliest owed notice is due, or None if none is owed."""
        return min(self._owed.values(), default=None)

    def take_all(self) -> list[str]:
        """Every owed notice, due or not (at shutdown)."""
        owed = list(self._owed)
        self._owed.clear()
        return owed

    def take_due(self, now: float) -> list[str]:
        """The queues whose owed notice is due now; each counts as announced now."""
        due = [name for name, at in self._owed.items() if at <= now]
        for name in due:
            del self._owed[name]
            self._last[name] = now
        # Forget queues quiet for a while, so the table stays as small as the active set.
        stale = [name for name, at in self._last.items() if now - at > 100 * self._window]
        for name in stale:
            if name not in self._owed:
                del self._last[name]
        return due
