"""SQLite backend: one WAL file, a single locked writer connection, per-thread readers."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dbos._storage.backend import (
    Connection,
    DuplicateKey,
    MissingReference,
    Params,
    Row,
    Statement,
)
from dbos._storage.dialect import sqlite_dialect
from dbos._storage.sqlite_group_commit import GroupCommitter

T = TypeVar("T")
BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRY_SECONDS = 60.0


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:///relative`` or ``sqlite:////absolute`` URL names."""
    path = urlsplit(url).path
    # sqlite:///x.db has path "/x.db" (relative); sqlite:////abs/x.db has "//abs/x.db".
    return path[1:] if path.startswith("/") else path


class SQLiteBackend:
    """SQLite backend: all writes go through one connection under a lock.

    SQLite allows one writer at a time, and queuing in-process is cheaper than contending on
    the file lock; writes queued meanwhile commit together (see sqlite_group_commit). Other
    processes on the same file are serialised by SQLite's own lock and the busy timeout.
    """

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.dialect = sqlite_dialect()
        self.path = sqlite_path(url)
        self._synchronous = synchronous
        self._local = threading.local()
        # Closing a sqlite3 connection while another thread runs a statement on it crashes
        # the interpreter, so every connection has a lock that close() takes first (readers'
        # locks are uncontended otherwise). Readers are held weakly: a reader goes with the
        # thread that made it, so thread-per-request servers do not pile up open files.
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._all_lock = threading.Lock()
        self._closed = False
        self._writer = self._connect()
        self._write_lock = threading.Lock()
        self._group = GroupCommitter(
            self._writer, self._write_lock, _retry_locked, _integrity_error
        )
        self._writer.execute("PRAGMA journal_mode=WAL")

    def _connect(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _reader(self) -> _Reader:
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = _Reader(self._connect())
            with self._all_lock:
                if self._closed:
                    reader.conn.close()
                    raise sqlite3.ProgrammingError("the system database has been closed")
                self._readers.add(reader)
            weakref.finalize(reader, reader.conn.close)
            self._local.reader = reader
        return reader

    def read_one(self, query: str, params: Params = ()) -> Row | None:
        reader = self._reader()
        with reader.lock:
            row: Row | None = reader.conn.execute(query, params).fetchone()
        return row

    def read_all(self, query: str, params: Params = ()) -> list[Row]:
        reader = self._reader()
        with reader.lock:
            return reader.conn.execute(query, params).fetchall()

    def read_rows(self, query: str, params: Params = ()) -> list[Row]:
        return self.read_all(query, params)

    def write_one(
        self,
        query: str,
        params: Params = (),
        *,
        rerun: tuple[str, Params] | None = None,
        shareable: bool = False,
    ) -> list[Row]:
        # ``rerun`` is never needed here: a statement that failed on the local file (locked)
        # did not commit, so retrying the statement itself is exact. Every write may share
        # its commit here (shareable or not): SQLite has one writer, which every write
        # waits for anyway.
        return self._group.run(((query, params),))

    def transact(self, fn: Callable[[Connection], T]) -> T:
        with self._write_lock:
            try:
                return _retry_locked(lambda: self._run_transaction(fn))
            except sqlite3.IntegrityError as exc:
                raise _integrity_error(exc) from exc

    def _run_transaction(self, fn: Callable[[Connection], T]) -> T:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def write_batch(self, statements: Sequence[Statement], *, shareable: bool = False) -> list[Row]:
        return self._group.run(statements) if statements else []

    def external_commits(self) -> int:
        """A number that changes whenever another process commits to this file.

        Read on the writer: every write of this process goes through that connection, and a
        connection's ``data_version`` moves only for commits made by *other* connections.
        """
        with self._write_lock:
            row = self._writer.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def listen(self, channels: Sequence[str]) -> None:
        """SQLite has no notifications: writers wake their own process directly."""
        return

    def close(self) -> None:
        """Close every connection, waiting for a statement running on one to finish.

        Later calls (from workflows still running in threads) raise ProgrammingError.
        """
        with self._all_lock:
            self._closed = True
            readers = list(self._readers)
        guarded = [(r.conn, r.lock) for r in readers] + [(self._writer, self._write_lock)]
        for conn, lock in guarded:
            with lock:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass


class _Reader:
    """One thread's read connection and the lock close() takes before closing it."""

    __slots__ = ("__weakref__", "conn", "lock")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()


def _integrity_error(exc: sqlite3.IntegrityError) -> Exception:
    """The backend-neutral form of a constraint failure, where there is one."""
    text = str(exc)
    if "UNIQUE" in text or "PRIMARY KEY" in text:
        return DuplicateKey(text)
    if "FOREIGN KEY" in text:
        return MissingReference(text)
    return exc


def _retry_locked(op: Callable[[], T]) -> T:
    """Retry an operation while another process holds the database lock.

    The busy timeout covers most contention; a lock held past it by another process is
    waited out here rather than failing a workflow ("pause rather than diverge").
    """
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    delay = 0.01
    while True:
        try:
            return op()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def delete_database_files(url: str) -> None:
    path = sqlite_path(url)
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def truncate_all(backend: SQLiteBackend) -> None:
    def run(conn: Any) -> None:
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for (table,) in tables:
            if table != "dbos_migrations":
                conn.execute(f'DELETE FROM "{table}"')

    backend.transact(run)
