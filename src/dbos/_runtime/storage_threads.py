"""StorageThreads: the one thread helper through which async code reaches storage.

Storage is written once, synchronously; an async flow hands each short storage call to
these threads, or runs it in place when that is cheaper (below).

A handoff costs two thread switches and a loop wake-up, about 70 microseconds on a small
VM, which is as much as a whole SQLite checkpoint without its fsync. So a call that
typically finishes within ``inline_below_seconds``, made while no other storage call is in
flight, runs on the loop: nothing could have overlapped it anyway, and the async twin of a
workflow then costs what the sync one does (benchmark D, async over sync: 1.41x -> 1.10x on
SQLite, 1.5-1.8x -> 0.99-1.04x on Postgres). Calls
are timed as they run, so a slow disk, a remote Postgres or a contended writer lock moves a
call back to the threads on its own; concurrent work (many workflows at once) keeps its
overlap because any call in flight sends the next ones to the threads too. This bends house
rule 6 ("through one thread helper") on purpose: the helper decides, per call.
 A SimpleQueue feeding a few long-lived threads, which resolve the loop's
future directly, costs about a third less per call than asyncio.to_thread (no executor
bookkeeping, no context copy, no concurrent.futures chaining), and it keeps DBOS's calls
out of the loop's default executor, where users' own to_thread work could delay them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
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


def _kind(func: Callable[..., Any]) -> Any:
    """What identifies a storage call across calls: its code.

    A bound method is a new object at every attribute access, and a waiter's check is a new
    closure per wait; keyed by the object, every closure would be a stranger (never inlined)
    and a new entry kept forever.
    """
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    return func if code is None else code


class StorageThreads:
    def __init__(self, size: int = DEFAULT_THREADS, inline_below_seconds: float = 0.0) -> None:
        self._size = size
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._inline_below = inline_below_seconds
        self._in_flight = 0  # calls handed to the threads and not yet finished
        # Recent duration of each storage function, smoothed: what a call will likely cost.
        # Keyed by code (see _kind), so one entry per function however it is passed.
        self._typical: dict[Any, float] = {}

    def call(self, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``func(*args)``; await the returned future.

        A call that typically takes less than ``inline_below_seconds`` runs right here on
        the loop when no other storage call is in flight: a thread handoff would cost about
        as much as the call, and with nothing else in flight nothing could have overlapped
        it. Everything else, and anything slow or contended, goes to the threads.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        typical = self._typical.get(_kind(func))
        if typical is not None and typical < self._inline_below and not self._in_flight:
            self._run_inline(future, func, args)
            return future
        if not self._threads:
            self._start()
        with self._lock:
            self._in_flight += 1
        self._queue.put((loop, future, func, args))
        return future

    def _run_inline(self, future: asyncio.Future[Any], func: Callable[..., Any], args: Any) -> None:
        started = time.perf_counter()
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # handed to the awaiting coroutine, as from a thread
            future.set_exception(exc)
        self._observe(func, time.perf_counter() - started)

    def _observe(self, func: Callable[..., Any], seconds: float) -> None:
        kind = _kind(func)
        previous = self._typical.get(kind)
        self._typical[kind] = seconds if previous is None else previous * 0.8 + seconds * 0.2

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
            started = time.perf_counter()
            try:
                result, error = func(*args), None
            except BaseException as exc:  # handed back to the awaiting coroutine
                result, error = None, exc
            self._observe(func, time.perf_counter() - started)
            with self._lock:
                self._in_flight -= 1
            try:
                loop.call_soon_threadsafe(_resolve, future, result, error)
            except RuntimeError:
                pass  # the loop has closed; nobody is waiting any more

    def stop(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)
