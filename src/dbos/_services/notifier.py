"""NotifierService: other processes' writes in, in-process wake-ups out (one per process).

On Postgres one dedicated connection LISTENs: a trigger announces enqueues (waking the queue
runner), and the statements that write messages, events and stream values announce those
(waking the recv, get_event and read_stream waiters on that key), so a waiter here wakes
within milliseconds of another process's commit.
The channel of a kind (messages, events, streams) is listened on from the moment the first
waiter of that kind registers, before it checks storage; a process that never waits for
events never receives the notices of every event written anywhere.

SQLite has no notifications. Writes made in this process wake their waiters directly; writes
from other processes on the same file are noticed by polling ``PRAGMA data_version``, which
costs microseconds and moves only when another process commits. It is polled every 10 ms,
and only while something in this process waits.
"""

from __future__ import annotations

import logging
import threading

from dbos._runtime.runtime import Runtime
from dbos._runtime.waiters import EVENT_PREFIX, MESSAGE_PREFIX, STREAM_PREFIX
from dbos._storage.backend import Listener
from dbos._storage.dialect import EVENTS_CHANNEL, MESSAGES_CHANNEL, QUEUE_CHANNEL, STREAMS_CHANNEL

logger = logging.getLogger("dbos")
# Channel -> the waiter-key prefix its payloads ("<workflow id>::<topic or key>") belong to.
KEYED_CHANNELS = {
    MESSAGES_CHANNEL: MESSAGE_PREFIX,
    EVENTS_CHANNEL: EVENT_PREFIX,
    STREAMS_CHANNEL: STREAM_PREFIX,
}
CHANNEL_OF_KIND = {prefix: channel for channel, prefix in KEYED_CHANNELS.items()}
# How long the first waiter of a kind waits for the listener to LISTEN (one round trip).
ADD_CHANNEL_TIMEOUT_SEC = 2.0
POLL_SECONDS = 0.01
COALESCE_SECONDS = 0.001


class NotifierService:
    def __init__(self, rt: Runtime, *, listen: bool) -> None:
        self._rt = rt
        backend = rt.db.backend
        # The keyed channels are listened on when this process first waits on their kind.
        self._listener: Listener | None = backend.listen([QUEUE_CHANNEL]) if listen else None
        self._polls = self._listener is None and backend.external_commits() is not None
        self._poll_seconds = min(
            POLL_SECONDS, rt.settings.notification_listener_polling_interval_sec
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        """Whether other processes' writes wake this process's waiters."""
        return self._listener is not None or self._polls

    def start(self) -> None:
        if not self.active or self._thread is not None:
            return
        if self._listener is not None:
            self._rt.waiters.first_of_kind = self._hear_kind
        target = self._listen if self._listener is not None else self._poll
        self._thread = threading.Thread(target=target, name="dbos-notifier", daemon=True)
        self._thread.start()
        if self._listener is not None:
            # Workflows recovered at launch may already wait (they start before this
            # service): their kinds are listened on now, and they re-check as usual.
            for kind in self._rt.waiters.kinds_waiting():
                self._hear_kind(kind)

    def _listen(self) -> None:
        listener = self._listener
        assert listener is not None
        try:
            while not self._stop.is_set():
                try:
                    notifications = listener.wait(1.0)
                except Exception:
                    logger.exception("Notification listener failed; retrying")
                    continue
                self._dispatch(notifications)
                if notifications and COALESCE_SECONDS:
                    # A busy database sends a stream of notices (every event and stream
                    # value of every process). Resting briefly after a batch lets the next
                    # batch gather, instead of one thread wake-up per commit.
                    self._stop.wait(COALESCE_SECONDS)
        finally:
            listener.close()  # whatever connection the last wait opened

    def _hear_kind(self, prefix: str) -> None:
        listener = self._listener
        channel = CHANNEL_OF_KIND[prefix]
        if listener is not None and not listener.add_channel(channel, ADD_CHANNEL_TIMEOUT_SEC):
            # Not listening yet (the database unreachable?): this waiter still re-reads on
            # its safety-net interval, and the listener catches up when it reconnects.
            logger.warning("Could not listen on %s in time", channel)

    def _dispatch(self, notifications: list[tuple[str, str]]) -> None:
        waiters = self._rt.waiters
        for channel, payload in notifications:
            if channel == QUEUE_CHANNEL:
                self._rt.wake_queues(payload or None)  # the payload names the queue
                continue
            prefix = KEYED_CHANNELS.get(channel)
            if prefix is None:
                continue
            if payload:
                waiters.notify(prefix + payload)
            else:  # a key too long for a payload: wake every waiter of that kind
                waiters.notify_prefix(prefix)

    def _poll(self) -> None:
        rt = self._rt
        waiters = rt.waiters
        seen: int | None = None
        while not self._stop.is_set():
            if not len(waiters):
                waiters.busy.clear()
                if not len(waiters):
                    waiters.busy.wait(1.0)
                seen = None
                continue
            try:
                version = rt.db.backend.external_commits()
            except Exception:
                if self._stop.is_set():
                    return  # the database was closed under us at shutdown
                logger.exception("Polling for other processes' writes failed; retrying")
                self._stop.wait(1.0)
                continue
            # Each waiter re-checks its own key. After an idle spell the first reading has
            # nothing to compare with: a commit may have landed after a new waiter's first
            # check, so those waiters look once more.
            if version != seen:
                waiters.notify_all()
            seen = version
            self._stop.wait(self._poll_seconds)

    def stop(self, timeout: float = 1.0) -> None:
        """Stop listening or polling.

        A thread stuck reconnecting is a daemon that owns nothing else, so shutdown waits
        for it only briefly.
        """
        self._stop.set()
        self._rt.waiters.first_of_kind = None
        self._rt.waiters.forget_kinds_heard()
        self._rt.waiters.busy.set()
        if self._listener is not None:
            self._listener.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
