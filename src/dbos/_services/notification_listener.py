"""NotificationListenerService: database notifications in, in-process wake-ups out.

On Postgres one connection per process LISTENs; an enqueue made by any process wakes this
process's queue runner within milliseconds instead of at its next poll. Where the backend
has no notifications (SQLite) the service does nothing: enqueuers wake their own process,
and other processes are found by polling.
"""

from __future__ import annotations

import logging
import threading

from dbos._runtime.runtime import Runtime

logger = logging.getLogger("dbos")
QUEUE_CHANNEL = "dbos_queue_channel"


class NotificationListenerService:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._listener = rt.db.backend.listen([QUEUE_CHANNEL])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._listener is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="dbos-notification-listener", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        listener = self._listener
        assert listener is not None
        try:
            while not self._stop.is_set():
                try:
                    notifications = listener.wait(1.0)
                except Exception:
                    logger.exception("Notification listener failed; retrying")
                    continue
                if any(channel == QUEUE_CHANNEL for channel, _ in notifications):
                    self._rt.wake_queues()
        finally:
            listener.close()  # whatever connection the last wait opened

    def stop(self, timeout: float = 1.0) -> None:
        """Stop listening.

        A thread stuck reconnecting is a daemon that owns nothing else, so shutdown waits
        for it only briefly.
        """
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
