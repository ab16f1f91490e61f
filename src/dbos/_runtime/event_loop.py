"""LoopRunner: the event loop that runs async workflows nobody is awaiting.

Recovered, dequeued and sync-started async workflows need a loop. If DBOS was launched from
inside a running loop, that loop is adopted; otherwise a loop runs on a thread of its own.
Tasks are held strongly here, so garbage collection cannot end a workflow mid-flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger("dbos")


class LoopRunner:
    def __init__(self, adopted: asyncio.AbstractEventLoop | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if adopted is not None:
            self.loop = adopted
            return
        self._start_own_loop()

    def _start_own_loop(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self.loop.run_forever, name="dbos-event-loop", daemon=True
            )
            self._thread.start()

    def submit(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run the coroutine ``make()`` builds as a task on the loop, from any thread.

        The task starts with an empty context: a workflow sets up its own. Once an adopted
        loop has stopped (its asyncio.run returned), work moves to a loop of our own.
        """
        stopped = self.loop.is_closed() or not self.loop.is_running()
        if self._thread is None and stopped and not self._in_loop_thread():
            self._start_own_loop()

        def create() -> None:
            task = contextvars.Context().run(self.loop.create_task, make())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        if self._in_loop_thread():
            create()
        else:
            self.loop.call_soon_threadsafe(create)

    def track(self, task: asyncio.Task[Any]) -> None:
        """Hold a strong reference to a task created elsewhere until it finishes."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def stop(self) -> None:
        """Cancel what still runs; stop and close the loop if it is ours."""
        if self.loop.is_closed():
            return

        def cancel_all() -> None:
            for task in list(self._tasks):
                task.cancel()

        try:
            if self._in_loop_thread():
                cancel_all()
            else:
                self.loop.call_soon_threadsafe(cancel_all)
        except RuntimeError:
            return  # the adopted loop is already closed
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self.loop.close()
