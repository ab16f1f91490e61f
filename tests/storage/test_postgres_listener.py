"""The Postgres listener: every notification arrives, in batches, and a lost connection heals.

Postgres only: SQLite has no notifications (its notifier polls, tested with the waiters).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import psycopg
from tests.conftest import postgres_url, require_postgres

from dbos._storage.postgres_listener import PostgresListener


def _collect(listener: PostgresListener, channel: str, expected: int) -> list[str]:
    """Payloads on ``channel`` until ``expected`` arrived, or 10 s passed."""
    got: list[str] = []
    deadline = time.monotonic() + 10
    while len(got) < expected and (left := deadline - time.monotonic()) > 0:
        got += [payload for ch, payload in listener.wait(min(left, 1.0)) if ch == channel]
    return got


def test_notifications_arrive_in_order_and_together() -> None:
    require_postgres()
    channel = "listener_" + uuid.uuid4().hex[:12]
    listener = PostgresListener(postgres_url(), [channel])
    try:
        assert listener.wait(0.01) == []  # connects and listens
        with psycopg.connect(postgres_url(), autocommit=True) as sender:
            with sender.transaction():  # one commit delivers all of them at once
                for i in range(50):
                    sender.execute("SELECT pg_notify(%s, %s)", (channel, f"p{i}"))
        first = listener.wait(5.0)
        assert len(first) == 50  # one wait drains everything that has arrived
        assert [payload for _, payload in first] == [f"p{i}" for i in range(50)]
    finally:
        listener.close()
    assert listener.wait(0.01) == []  # closed: returns at once, never reconnects


def test_a_lost_connection_is_reopened_on_the_next_wait() -> None:
    require_postgres()
    channel = "listener_" + uuid.uuid4().hex[:12]
    listener = PostgresListener(postgres_url(), [channel])
    try:
        listener.wait(0.01)
        with psycopg.connect(postgres_url(), autocommit=True) as admin:
            listening = "SELECT pid FROM pg_stat_activity WHERE query = %s AND pid <> %s"
            statement = f'LISTEN "{channel}"'
            row = admin.execute(listening, (statement, 0)).fetchone()
            assert row is not None
            old_pid = row[0]
            admin.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
            # The wait that finds the connection dead reports nothing and drops it; a
            # later one listens again, on a new connection.
            new_pid = None
            deadline = time.monotonic() + 10
            while new_pid is None and time.monotonic() < deadline:
                assert listener.wait(0.2) == []
                row = admin.execute(listening, (statement, old_pid)).fetchone()
                new_pid = None if row is None else row[0]
            assert new_pid is not None
            admin.execute("SELECT pg_notify(%s, 'after')", (channel,))
            assert _collect(listener, channel, 1) == ["after"]
    finally:
        listener.close()


class Listening:
    """A thread waiting on ``listener`` (as the notifier's does), collecting what it hears."""

    def __init__(self, listener: PostgresListener) -> None:
        self.listener = listener
        self.heard: list[tuple[str, str]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self.listener.wait(0.2)
            with self._changed:
                self.heard += got
                self._changed.notify_all()

    def until(self, condition: Callable[[], bool]) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, 10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


def _notify(channel: str, payload: str) -> None:
    with psycopg.connect(postgres_url(), autocommit=True) as sender:
        sender.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def test_a_channel_added_later_is_heard_from_then_on() -> None:
    require_postgres()
    always, later = ("listener_" + uuid.uuid4().hex[:12] for _ in range(2))
    listening = Listening(PostgresListener(postgres_url(), [always]))
    try:
        assert listening.listener.add_channel(always, 5.0)  # returns once connected
        _notify(later, "before")  # nobody listens on it yet
        _notify(always, "first")
        assert listening.until(lambda: (always, "first") in listening.heard)
        assert listening.listener.add_channel(later, 5.0)
        assert listening.listener.add_channel(later, 5.0)  # again: already listening
        _notify(later, "after")
        assert listening.until(lambda: (later, "after") in listening.heard)
        assert (later, "before") not in listening.heard
    finally:
        listening.stop()


def test_a_reopened_connection_listens_on_the_added_channels_again() -> None:
    require_postgres()
    always, later = ("listener_" + uuid.uuid4().hex[:12] for _ in range(2))
    listening = Listening(PostgresListener(postgres_url(), [always]))
    try:
        assert listening.listener.add_channel(later, 5.0)
        with psycopg.connect(postgres_url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (f'LISTEN "{later}"',),
            )
        # Notices sent while it reconnects are lost (the waiters' safety net covers those);
        # once it listens again, on a new connection, they arrive.
        assert listening.until(lambda: not listening.listener.add_channel(always, 0))
        assert listening.listener.add_channel(always, 5.0)  # reconnected and listening
        _notify(later, "again")
        assert listening.until(lambda: (later, "again") in listening.heard)
    finally:
        listening.stop()


def test_add_channel_on_a_closed_listener_says_no() -> None:
    require_postgres()
    listener = PostgresListener(postgres_url(), ["listener_closed"])
    listener.close()
    assert listener.add_channel("listener_other", 0.1) is False


def test_closing_while_another_thread_waits_leaves_the_connection_to_that_thread() -> None:
    require_postgres()
    channel = "listener_" + uuid.uuid4().hex[:12]
    listener = PostgresListener(postgres_url(), [channel])
    waiting = threading.Event()

    def wait_until_closed() -> None:
        while listener.wait(5.0) == [] and not listener._closed:
            waiting.set()

    thread = threading.Thread(target=wait_until_closed)
    thread.start()
    assert waiting.wait(10)
    listener.close()  # the thread is in select() on the connection, or about to be
    thread.join(10)
    assert not thread.is_alive()  # woken at once, not at its 5 s timeout
    assert listener._conn is None  # and it closed the connection on its way out
