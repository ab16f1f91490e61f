"""QueueAnnouncerService: sends the notices that quiet enqueues owe other processes.

See dbos._core.notice_throttle: within a burst, enqueues after the first stay quiet, and
this thread announces their queues once the window closes. Runs only where the database
has notifications (Postgres).
"""

from __future__ import annotations

import logging
import threading

from dbos._runtime.runtime import Runtime

logger = logging.getLogger("dbos")
IDLE_WAIT_SEC = 1.0


class QueueAnnouncerService:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self._rt.queue_notices.enabled:
            return
        self._thread = threading.Thread(target=self._run, name="dbos-queue-announcer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        notices = self._rt.queue_notices
        while not self._stop.is_set():
            due_in = notices.seconds_until_due()
            if due_in is None or due_in > 0:
                notices.wait(IDLE_WAIT_SEC if due_in is None else due_in)
                continue
            try:
                for queue_name in notices.take_due():
                    self._rt.db.queues.announce(queue_name)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("Could not announce enqueued workflows; retrying")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop; notices still owed are sent first, so no enqueue goes unannounced."""
        self._stop.set()
        self._rt.queue_notices.wake()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        try:
            for queue_name in self._rt.queue_notices.take_all():
                self._rt.db.queues.announce(queue_name)
        except Exception:
            logger.exception("Could not announce enqueued workflows at shutdown")
