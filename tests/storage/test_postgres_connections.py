"""The free list in front of psycopg_pool: reuse healthy idle connections, return the rest.

Postgres only (it is the Postgres backend's connection handling).
"""

from __future__ import annotations

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
