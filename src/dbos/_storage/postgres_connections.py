"""Connections for the Postgres backend: psycopg_pool, with a free list in front of it.

Checking a connection out of psycopg_pool and back in costs about 20 microseconds of Python
per statement (its locks, state checks and statistics): a tenth of a one-row commit, paid by
every checkpoint. Connections this backend has finished with, idle and healthy, wait on a
free list for the next statement instead, which costs a list pop and append. The pool still
creates every connection, bounds how many there are, and takes back each one that failed or
was left in a transaction, to check, reset or discard it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool

T = TypeVar("T")

# Every so many uses a connection goes back through the pool anyway, so that the pool's own
# upkeep (max_lifetime, for one) still reaches connections that never sit idle in it.
_USES_PER_POOL_VISIT = 1000


class PooledConnections:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        # list.append and list.pop are atomic under the GIL: no lock of our own.
        self._idle: list[psycopg.Connection[Any]] = []
        self._uses = 0
        self._closed = False

    def run(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``fn`` on a connection of its own, which it must leave idle (not in a transaction)."""
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._pool.getconn()
        try:
            result = fn(conn)
        except BaseException:
            self._pool.putconn(conn)
            raise
        self._uses += 1  # a lost increment under a race only delays a visit
        if (
            self._uses % _USES_PER_POOL_VISIT
            and conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
            and not self._closed
        ):
            self._idle.append(conn)
        else:
            self._pool.putconn(conn)
        return result

    def close(self) -> None:
        """Hand every idle connection back, so the pool can close them."""
        self._closed = True
        while self._idle:
            self._pool.putconn(self._idle.pop())
