"""StorageThreads: the one thread helper through which async code reaches storage.

Storage is written once, synchronously; an async flow hands each short storage call to
these threads. A SimpleQueue feeding a few long-lived threads, which resolve the loop's
future directly, costs about a third less per call than asyncio.to_thread (no executor
bookkeeping, no context copy, no concurrent.futures chaining), and it keeps DBOS's calls
out of the loop's default executor, where users' own to_thread work could delay them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

# Enough for concurrent Postgres round trips from many async workflows; SQLite writes queue
# behind one writer lock anyway.
DEFAULT_THREADS = 8
_STOP = object()


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class StorageThreads:
    def __init__(self, size: int = DEFAULT_THREADS) -> None:
        self._size = size
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def call(self, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``func(*args)`` on a storage thread; await the returned future."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((loop, future, func, args))
        return future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"dbos-storage-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            loop, future, func, args = item
            try:
                result, error = func(*args), None
            except BaseException as exc:  # handed back to the awaiting coroutine
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_resolve, future, result, error)
            except RuntimeError:
                pass  # the loop has closed; nobody is waiting any more

    def stop(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)
