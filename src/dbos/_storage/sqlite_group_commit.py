"""Group commit for SQLite: the writes of many threads share one transaction and one fsync.

SQLite has one writer, and with ``synchronous=FULL`` every commit waits for an fsync of the
WAL. Under load (an enqueuer, a queue runner and a pool of workflow threads all writing
checkpoints) threads queue on the writer lock and each pays its own fsync in turn. Here a
thread that takes the lock commits every write queued so far, its own included, in one
transaction; the others find theirs done when they get the lock. Alone, a write runs as it
would without grouping: one statement in autocommit, or several in one transaction.

Each write in a group runs inside its own SAVEPOINT, so a write that fails (a duplicate
key, say) is rolled back alone and its error goes to its own caller; the others commit.
Nobody is answered before the COMMIT has returned, so durability is as before.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from dbos._storage.backend import Row, Statement


class _Write:
    __slots__ = ("done", "error", "rows", "statements")

    def __init__(self, statements: Sequence[Statement]) -> None:
        self.statements = statements
        self.rows: list[Row] = []
        self.error: BaseException | None = None
        self.done = False

    def outcome(self) -> list[Row]:
        if self.error is not None:
            raise self.error
        return self.rows


class GroupCommitter:
    """Runs statement lists on ``conn`` under ``lock``, folding queued ones together.

    ``retry_locked`` re-runs a whole attempt while another process holds the file;
    ``map_error`` turns an IntegrityError into the backend-neutral error its caller gets.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        lock: threading.Lock,
        retry_locked: Callable[[Callable[[], Any]], Any],
        map_error: Callable[[sqlite3.IntegrityError], Exception],
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._retry_locked = retry_locked
        self._map_error = map_error
        self._queue_lock = threading.Lock()
        self._queued: list[_Write] = []

    def run(self, statements: Sequence[Statement]) -> list[Row]:
        """The rows of the first statement, once all of them have committed together."""
        if self._lock.acquire(blocking=False):
            try:  # the writer is free: nobody to group with, so no bookkeeping either
                if not self._queued:
                    return self._alone_now(statements)
            finally:
                self._lock.release()
        write = _Write(statements)
        with self._queue_lock:
            self._queued.append(write)
        with self._lock:
            if not write.done:  # nobody folded it into their group while we waited
                with self._queue_lock:
                    group, self._queued = self._queued, []
                self._commit(group)
        return write.outcome()

    def _alone_now(self, statements: Sequence[Statement]) -> list[Row]:
        """One write on its own: one statement in autocommit, or several in a transaction.

        With nobody to share the transaction, no savepoint is needed: a failure rolls back
        this write alone anyway.
        """
        run = partial(self._alone, statements)
        try:
            try:
                return run()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    raise
            # Another process holds the file: wait it out.
            rows: list[Row] = self._retry_locked(run)
            return rows
        except sqlite3.IntegrityError as exc:
            raise self._map_error(exc) from exc

    def _alone(self, statements: Sequence[Statement]) -> list[Row]:
        conn = self._conn
        if len(statements) == 1:
            query, params = statements[0]
            return conn.execute(query, params).fetchall()
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [conn.execute(q, p).fetchall() for q, p in statements]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results[0]

    def _commit(self, group: list[_Write]) -> None:
        try:
            if len(group) == 1:
                group[0].rows = self._alone_now(group[0].statements)
            else:
                self._retry_locked(lambda: self._together(group))
        except BaseException as exc:  # the group as a whole failed: nothing committed
            for write in group:
                write.rows, write.error = [], exc
        for write in group:
            write.done = True

    def _together(self, group: list[_Write]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for write in group:
                write.rows, write.error = [], None  # a retried attempt starts afresh
                conn.execute("SAVEPOINT dbos_write")
                try:
                    results = [conn.execute(q, p).fetchall() for q, p in write.statements]
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK TO dbos_write")
                    conn.execute("RELEASE dbos_write")
                    if _is_locked(exc):
                        raise  # another process: the whole attempt is retried
                    if isinstance(exc, sqlite3.IntegrityError):
                        write.error = self._map_error(exc)
                    else:
                        write.error = exc
                    continue
                conn.execute("RELEASE dbos_write")
                write.rows = results[0] if results else []
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _is_locked(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
