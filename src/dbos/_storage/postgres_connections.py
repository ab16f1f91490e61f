"""Connections for the Postgres backend: psycopg_pool, with a free list in front of it.

Checking a connection out of psycopg_pool and back in costs about 20 microseconds of Python
per statement (its locks, state checks and statistics): a tenth of a one-row commit, paid by
every checkpoint. Connections this backend has finished with, idle and healthy, wait on a
free list for the next statement instead. The pool still creates every connection and takes
back each one that failed or was left in a transaction, to check, reset or discard it.

Connections on the free list are checked out as far as the pool knows, so the pool cannot
lend them to a thread that waits for one: this class counts the connections it holds and,
once it holds the pool's maximum, makes such a thread wait for the free list instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolTimeout

T = TypeVar("T")

# Every so many uses a connection goes back through the pool anyway, so that the pool's own
# upkeep (max_lifetime, for one) still reaches connections that never sit idle in it.
_USES_PER_POOL_VISIT = 1000


class PooledConnections:
    def __init__(self, pool: ConnectionPool[Any], timeout_sec: float = 30.0) -> None:
        self._pool = pool
        self._timeout = timeout_sec
        self._idle: list[psycopg.Connection[Any]] = []
        self._held = 0  # taken from the pool and not given back: in use or on the free list
        self._returned = threading.Condition(threading.Lock())
        self._uses = 0
        self._closed = False

    def run(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``fn`` on a connection of its own, which it must leave idle (not in a transaction)."""
        conn = self._take()
        try:
            result = fn(conn)
        except BaseException:
            self._give_back(conn)
            raise
        self._uses += 1  # a lost increment under a race only delays a visit
        if (
            self._uses % _USES_PER_POOL_VISIT
            and conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        ):
            with self._returned:
                if not self._closed:  # under the lock: close() may be emptying the list
                    self._idle.append(conn)
                    self._returned.notify()
                    return result
        self._give_back(conn)
        return result

    def _take(self) -> psycopg.Connection[Any]:
        with self._returned:
            if self._idle:
                return self._idle.pop()
            deadline = None
            while self._held >= self._pool.max_size and not self._idle:
                deadline = deadline or time.monotonic() + self._timeout
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolTimeout(f"couldn't get a connection after {self._timeout} sec")
                self._returned.wait(left)
            if self._idle:
                return self._idle.pop()
            self._held += 1
        try:
            conn: psycopg.Connection[Any] = self._pool.getconn(timeout=self._timeout)
        except BaseException:
            with self._returned:
                self._held -= 1
                self._returned.notify()
            raise
        return conn

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        """To the pool, which checks, resets or discards it."""
        self._pool.putconn(conn)
        with self._returned:
            self._held -= 1
            self._returned.notify()

    def close(self) -> None:
        """Hand every idle connection back, so the pool can close them."""
        with self._returned:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            self._give_back(conn)
