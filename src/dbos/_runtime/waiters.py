"""In-process wake-ups: a waiter registers interest in a key and is woken when it changes.

Waits are setup (register), then a check in storage, then a native wait on the event, so a
wake-up that lands between the check and the wait is never lost, and no thread waits inside
the database.
"""

from __future__ import annotations

import threading


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[threading.Event]] = {}

    def register(self, key: str, event: threading.Event | None = None) -> threading.Event:
        """Wake ``event`` (a new one unless given) whenever ``key`` is notified."""
        event = event or threading.Event()
        with self._lock:
            self._events.setdefault(key, []).append(event)
        return event

    def unregister(self, key: str, event: threading.Event) -> None:
        with self._lock:
            events = self._events.get(key)
            if events is not None:
                try:
                    events.remove(event)
                except ValueError:
                    pass
                if not events:
                    del self._events[key]

    def notify(self, key: str) -> None:
        with self._lock:
            events = self._events.get(key)
            if not events:
                return
            events = list(events)
        for event in events:
            event.set()

    def notify_all(self) -> None:
        with self._lock:
            events = [e for group in self._events.values() for e in group]
        for event in events:
            event.set()
