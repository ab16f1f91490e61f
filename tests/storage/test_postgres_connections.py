"""The free list in front of psycopg_pool: reuse healthy idle connections, return the rest.

Postgres only (it is the Postgres backend's connection handling).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from tests.conftest import postgres_url, require_postgres

from dbos._storage import postgres_connections
from dbos._storage.postgres_connections import PooledConnections


@pytest.fixture
def pool() -> Iterator[ConnectionPool[Any]]:
    require_postgres()
    opened: ConnectionPool[Any] = ConnectionPool(
        postgres_url(), min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
    )
    opened.open(wait=True, timeout=30)
    yield opened
    opened.close(timeout=5)


def backend_pid(conn: psycopg.Connection[Any]) -> int:
    return conn.pgconn.backend_pid


def test_an_idle_connection_is_used_again_without_the_pool(pool: ConnectionPool[Any]) -> None:
    connections = PooledConnections(pool)
    first = connections.run(backend_pid)
    assert pool.get_stats()["requests_num"] == 1
    assert [connections.run(backend_pid) for _ in range(5)] == [first] * 5
    assert pool.get_stats()["requests_num"] == 1  # the free list served them all


def test_a_connection_left_in_a_transaction_goes_back_to_the_pool(
    pool: ConnectionPool[Any],
) -> None:
    connections = PooledConnections(pool)
    connections.run(lambda conn: conn.execute("BEGIN"))
    connections.run(backend_pid)
    assert pool.get_stats()["requests_num"] == 2  # not reused from the free list


def test_a_failure_returns_the_connection_to_the_pool(pool: ConnectionPool[Any]) -> None:
    connections = PooledConnections(pool)

    def fail(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT 1/0")

    with pytest.raises(psycopg.errors.DivisionByZero):
        connections.run(fail)
    connections.run(backend_pid)
    assert pool.get_stats()["requests_num"] == 2


def test_every_so_often_a_connection_visits_the_pool(
    pool: ConnectionPool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_connections, "_USES_PER_POOL_VISIT", 3)
    connections = PooledConnections(pool)
    for _ in range(7):
        connections.run(backend_pid)
    assert pool.get_stats()["requests_num"] == 3  # uses 1, 4 and 7 came from the pool


def test_closing_hands_idle_connections_back(pool: ConnectionPool[Any]) -> None:
    connections = PooledConnections(pool)
    connections.run(backend_pid)
    connections.close()
    assert pool.get_stats()["pool_available"] >= 1
    connections.run(backend_pid)  # still usable; the connection goes straight back
    assert pool.get_stats()["requests_num"] == 2


def test_a_thread_waits_for_the_free_list_when_every_connection_is_held(
    pool: ConnectionPool[Any],
) -> None:
    """The pool cannot lend what sits on the free list: a third thread, with both of the
    pool's connections taken, gets the first one that comes back to the list."""
    connections = PooledConnections(pool, timeout_sec=20)
    release = threading.Event()
    holding = threading.Barrier(3)
    outcomes: list[Any] = []

    def hold(conn: psycopg.Connection[Any]) -> int:
        holding.wait(10)
        release.wait(10)
        return backend_pid(conn)

    holders = [threading.Thread(target=lambda: connections.run(hold)) for _ in range(2)]
    for thread in holders:
        thread.start()
    holding.wait(10)  # both of the pool's connections are in use now

    def third() -> None:
        try:
            outcomes.append(connections.run(backend_pid))
        except Exception as exc:
            outcomes.append(exc)

    waiter = threading.Thread(target=third)
    waiter.start()
    deadline = time.monotonic() + 10  # a bounded poll until the third thread waits
    while not connections._returned._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    assert connections._returned._waiters  # type: ignore[attr-defined]
    release.set()
    for thread in [*holders, waiter]:
        thread.join(15)
    assert len(outcomes) == 1 and isinstance(outcomes[0], int)
    assert pool.get_stats()["requests_num"] == 2  # the third took a returned connection
