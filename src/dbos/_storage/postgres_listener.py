"""PostgresListener: the one connection per process that LISTENs for other processes' writes.

The queue channel is listened on from the start. The channels of messages, events and
stream values are listened on only once something in this process waits for one of them
(``add_channel``): every process would otherwise receive, and its server backend deliver,
a notice for every such write made anywhere, though most processes never wait for any.
Measured on Postgres: a set_event with a listener receiving its notices cost ~100 us more
wall time (and ~60 us more CPU in the writing process) than one without.

Listening on one of those channels also registers this connection's backend in the
``listeners`` table (migration 9), in the same transaction: writes notify a channel only
while somebody is registered on it, since each NOTIFY wakes every listening backend.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import pq

from dbos._storage import socket_wait
from dbos._storage.dialect import ON_DEMAND_CHANNELS

logger = logging.getLogger("dbos")


# How long a registration waits for the listeners table's lock. The writes it waits for are
# single statements; anything holding the table longer (a person's open transaction that
# read it, say) must not stall every notifying write behind the lock's queue.
_REGISTRATION_LOCK_TIMEOUT = "200ms"
_LOCK_NOT_AVAILABLE = "55P03"


def registration(registry: str, channel: str, *, locked: bool = True) -> bytes:
    """LISTEN on ``channel`` and register for it in ``registry``, as one transaction.

    The ACCESS EXCLUSIVE lock waits for every write that has read the registry without
    finding this backend (those writes did not notify) to commit, and holds back the writes
    that would read it next until this backend is registered: so a waiter that checks the
    database after this commits sees every write it will not hear about. Rows of backends
    that no longer exist go too. Unlocked (when the lock is not to be had in time), a write
    racing the registration may go unannounced; its waiter finds it on its next re-read.
    """
    lock = (
        f"SET LOCAL lock_timeout = '{_REGISTRATION_LOCK_TIMEOUT}'; "
        f"LOCK TABLE {registry} IN ACCESS EXCLUSIVE MODE; "
        if locked
        else ""
    )
    return (
        f"BEGIN; {lock}"
        f"DELETE FROM {registry} WHERE backend_pid NOT IN (SELECT pid FROM pg_stat_activity); "
        f"INSERT INTO {registry} (channel, backend_pid) VALUES ('{channel}', pg_backend_pid()) "
        f'ON CONFLICT DO NOTHING; LISTEN "{channel}"; COMMIT'
    ).encode()


class PostgresListener:
    """One dedicated autocommit connection, outside the pool; driven by one thread's waits.

    A lost connection is reopened on the next wait, listening again on every channel asked
    for so far; notifications sent meanwhile are lost, which the waiters' safety-net
    re-reads cover.
    """

    def __init__(
        self, conninfo: str, channels: Sequence[str], *, registry: str | None = None
    ) -> None:
        """``registry``: the listeners table to register in (None: listen only)."""
        self._conninfo = conninfo
        self._registry = registry
        # The backend registered last, to unregister; rows of earlier connections' backends
        # are left to the stale-row cleanup (their process IDs may belong to others by now).
        self._registered_pid: int | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = False
        self._waiting = False  # a thread is inside wait() and owns the connection
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wanted: list[str] = list(channels)
        self._listening: set[str] = set()
        # add_channel writes a byte here to interrupt the thread waiting in select().
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        # Closed only when the listener is garbage: close() may run while another thread is
        # still in select() on them, and a closed descriptor's number can be reused at once.
        weakref.finalize(self, _close_all, (self._wake_read, self._wake_write))

    def add_channel(self, channel: str, timeout_sec: float) -> bool:
        """Listen on ``channel`` too; True once the connection listens on it.

        Waits up to ``timeout_sec`` for the waiting thread to issue the LISTEN (a round
        trip); False if it did not (the database unreachable, say).
        """
        with self._lock:
            if channel in self._listening:
                return True
            if channel not in self._wanted:
                self._wanted.append(channel)
        try:
            os.write(self._wake_write, b"!")
        except OSError:
            return False  # closed
        with self._changed:
            return (
                self._changed.wait_for(
                    lambda: channel in self._listening or self._closed, timeout_sec
                )
                and not self._closed
            )

    def wait(self, timeout_sec: float) -> list[tuple[str, str]]:
        """Every notification that has arrived, waiting up to ``timeout_sec`` for the first.

        Reads libpq directly: psycopg's ``notifies()`` generator costs about 100 us of
        Python per notification. Nothing else runs on this connection after its LISTENs,
        so nothing else consumes its input.
        """
        with self._lock:
            if self._closed:
                return []
            self._waiting = True  # close() leaves the connection to this thread from now on
        try:
            return self._wait(timeout_sec)
        finally:
            with self._lock:
                self._waiting = False
                closed = self._closed
            if closed:
                self._forget_connection()

    def _wait(self, timeout_sec: float) -> list[tuple[str, str]]:
        try:
            pgconn = self._connected()
            self._listen_wanted(pgconn)
            got = _drain(pgconn)
            if not got:
                ready, _ = socket_wait.wait([pgconn.socket, self._wake_read], (), timeout_sec)
                if self._wake_read in ready:
                    self._take_wake_bytes()
                    self._listen_wanted(pgconn)
                if pgconn.socket in ready:
                    pgconn.consume_input()
                    got = _drain(pgconn)
                    if not got and pgconn.status != pq.ConnStatus.OK:
                        raise psycopg.OperationalError("the listener's connection was lost")
        except (psycopg.Error, OSError, ValueError) as exc:  # ValueError: socket closed
            if not self._closed:
                logger.warning("Notification listener lost its connection (%s); reconnecting", exc)
                time.sleep(min(timeout_sec, 1.0))
            self._forget_connection()
            return []
        return got

    def _connected(self) -> pq.abc.PGconn:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
            if self._closed:  # closed while we were connecting: nobody would close it
                conn.close()
                raise psycopg.OperationalError("the listener was closed")
            self._conn = conn
        return self._conn.pgconn

    def _listen_wanted(self, pgconn: pq.abc.PGconn) -> None:
        """LISTEN on every channel asked for and not yet listened on, then tell the askers.

        Through libpq, so notifications arriving meanwhile stay queued for ``_drain``.
        """
        with self._lock:
            missing = [c for c in self._wanted if c not in self._listening]
        if not missing:
            return
        for channel in missing:
            if self._registry is not None and channel in ON_DEMAND_CHANNELS:
                result = self._register(pgconn, self._registry, channel)
            else:
                result = pgconn.exec_(f'LISTEN "{channel}"'.encode())
            if result.status != pq.ExecStatus.COMMAND_OK:
                # The caller drops this connection, and with it any transaction left open.
                message = (result.error_message or b"").decode(errors="replace")
                raise psycopg.OperationalError(f"LISTEN {channel} failed: {message}")
        with self._changed:
            self._listening.update(missing)
            self._changed.notify_all()

    def _register(self, pgconn: pq.abc.PGconn, registry: str, channel: str) -> pq.abc.PGresult:
        self._registered_pid = pgconn.backend_pid
        result = pgconn.exec_(registration(registry, channel))
        if result.error_field(pq.DiagnosticField.SQLSTATE) != _LOCK_NOT_AVAILABLE.encode():
            return result
        logger.debug("The listeners table is busy; registering for %s without its lock", channel)
        pgconn.exec_(b"ROLLBACK")
        return pgconn.exec_(registration(registry, channel, locked=False))

    def _take_wake_bytes(self) -> None:
        try:
            while os.read(self._wake_read, 64):
                pass
        except BlockingIOError:
            pass

    def _forget_connection(self) -> None:
        conn, self._conn = self._conn, None
        with self._lock:
            self._listening.clear()  # a new connection listens on nothing yet
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def close(self) -> None:
        """Stop listening.

        A thread inside ``wait`` closes the connection itself on its way out: a libpq
        connection must not be closed under a thread that is using it.
        """
        with self._changed:
            self._closed = True
            waiting = self._waiting
            self._changed.notify_all()
        try:
            os.write(self._wake_write, b"!")  # out of select() now, not at its timeout
        except OSError:
            pass
        if not waiting:
            self._forget_connection()
        self._unregister()

    def _unregister(self) -> None:
        """Remove this listener's registrations, so writes stop notifying for it at once.

        On a connection of its own (the listening one may be in another thread's select).
        Best effort: a row left behind only costs notifications until the next registration
        deletes it.
        """
        pid, self._registered_pid = self._registered_pid, None
        if pid is None or self._registry is None:
            return
        try:
            with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"DELETE FROM {self._registry} WHERE backend_pid = %s", (pid,))
        except psycopg.Error as exc:
            logger.debug("Could not unregister the notification listener: %s", exc)


def _drain(pgconn: pq.abc.PGconn) -> list[tuple[str, str]]:
    got = []
    while (notice := pgconn.notifies()) is not None:
        got.append((notice.relname.decode(), notice.extra.decode()))
    return got


def _close_all(fds: tuple[int, ...]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
