"""The Postgres listener: every notification arrives, in batches, and a lost connection heals.

Postgres only: SQLite has no notifications (its notifier polls, tested with the waiters).
"""

from __future__ import annotations

import time
import uuid

import psycopg
from tests.conftest import postgres_url, require_postgres

from dbos._storage.postgres_backend import PostgresListener


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
