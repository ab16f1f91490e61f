"""In-process wake-ups: a waiter registers interest in a key and is woken when it changes.

Waits are setup (register), then a check in storage, then a native wait on the signal, so a
wake-up that lands between the check and the wait is never lost, and no thread waits inside
the database. A Signal serves both worlds: threads block on it, coroutines await it without
holding a thread, and either kind of waiter is woken from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Signal:
    __slots__ = ("_event", "_lock", "_loops")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def set(self) -> None:
        self._event.set()
        with self._lock:
            waiting, self._loops = self._loops, []
        for loop, future in waiting:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:
                pass  # that loop has closed; nobody is left to wake

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> bool:
        return self._event.wait(timeout)

    async def wait_async(self, timeout: float | None) -> bool:
        if self._event.is_set():
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            self._loops.append(entry)
        if self._event.is_set():  # set between the first check and the registration
            return True
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                if entry in self._loops:
                    self._loops.remove(entry)


# What waiters wait on, by kind. A workflow's own ID is the key for its completion (and for a
# cancel, which wakes whatever the workflow itself is waiting in). Postgres notifications
# carry "<workflow id>::<topic or key>", which becomes a key by adding the kind's prefix.
MESSAGE_PREFIX = "recv:"
EVENT_PREFIX = "event:"
STREAM_PREFIX = "stream:"


def message_key(workflow_id: str, topic: str) -> str:
    return f"{MESSAGE_PREFIX}{workflow_id}::{topic}"


def event_key(workflow_id: str, key: str) -> str:
    return f"{EVENT_PREFIX}{workflow_id}::{key}"


def stream_key(workflow_id: str, key: str) -> str:
    return f"{STREAM_PREFIX}{workflow_id}::{key}"


KINDS = (MESSAGE_PREFIX, EVENT_PREFIX, STREAM_PREFIX)


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signals: dict[str, list[Signal]] = {}
        # Set whenever a waiter registers, so a poller can sleep while nobody waits.
        self.busy = threading.Event()
        # Called with a kind's prefix when its first waiter registers, before that waiter
        # checks storage: a notifier that hears other processes' writes of a kind only on
        # request (Postgres LISTEN) starts hearing them then. Returns once it does.
        self.first_of_kind: Callable[[str], None] | None = None
        self._kinds_heard: set[str] = set()

    def __len__(self) -> int:
        """How many keys have a waiter (pollers only poll while someone waits)."""
        return len(self._signals)

    def register_exclusive(self, key: str, signal: Signal) -> bool:
        """Register ``signal`` as the only waiter on ``key``; False if one is already there."""
        with self._lock:
            if self._signals.get(key):
                return False
            self._signals[key] = [signal]
        self.busy.set()
        self._hear_kind(key)
        return True

    def register(self, key: str, signal: Signal | None = None) -> Signal:
        """Set ``signal`` (a new one unless given) whenever ``key`` is notified."""
        signal = signal or Signal()
        with self._lock:
            self._signals.setdefault(key, []).append(signal)
        self.busy.set()
        self._hear_kind(key)
        return signal

    def _hear_kind(self, key: str) -> None:
        hook = self.first_of_kind
        if hook is None:
            return
        for kind in KINDS:
            if key.startswith(kind):
                if kind not in self._kinds_heard:  # racing first waiters both ask: harmless
                    hook(kind)
                    self._kinds_heard.add(kind)
                return

    def kinds_waiting(self) -> set[str]:
        """The kinds (prefixes) that have a waiter now."""
        with self._lock:
            keys = list(self._signals)
        return {kind for kind in KINDS for key in keys if key.startswith(kind)}

    def forget_kinds_heard(self) -> None:
        """The notifier stopped hearing anything (or was replaced): ask again next time."""
        self._kinds_heard.clear()

    def unregister(self, key: str, signal: Signal) -> None:
        with self._lock:
            signals = self._signals.get(key)
            if signals is not None:
                try:
                    signals.remove(signal)
                except ValueError:
                    pass
                if not signals:
                    del self._signals[key]

    def notify(self, key: str) -> None:
        with self._lock:
            signals = self._signals.get(key)
            if not signals:
                return
            signals = list(signals)
        for signal in signals:
            signal.set()

    def notify_prefix(self, prefix: str) -> None:
        with self._lock:
            signals = [
                s for k, group in self._signals.items() if k.startswith(prefix) for s in group
            ]
        for signal in signals:
            signal.set()

    def notify_all(self) -> None:
        with self._lock:
            signals = [s for group in self._signals.values() for s in group]
        for signal in signals:
            signal.set()
