"""Group commit on SQLite: writes queued behind the writer lock share one transaction.

These drive GroupCommitter on a plain table, so a group can be formed on purpose: the test
holds the writer lock while the writers queue, then lets go.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dbos._storage.backend import DuplicateKey, Statement
from dbos._storage.sqlite_backend import SQLiteBackend, _integrity_error, _retry_locked
from dbos._storage.sqlite_group_commit import GroupCommitter

INSERT = "INSERT INTO t (id, v) VALUES (?, ?) RETURNING id"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(
        tmp_path / "g.sqlite", isolation_level=None, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield connection
    connection.close()


class Traced:
    """A committer on ``conn`` whose transaction-control statements are recorded."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.lock = threading.Lock()
        self.committer = GroupCommitter(conn, self.lock, _retry_locked, _integrity_error)
        self.control: list[str] = []
        conn.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        if statement in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):  # not the savepoints
            self.control.append(statement)

    def queued(self) -> int:
        return len(self.committer._queued)


def _in_group(traced: Traced, writes: list[list[Statement]]) -> list[Any]:
    """Run ``writes`` from one thread each, all queued before any runs; their outcomes."""
    outcomes: list[Any] = [None] * len(writes)

    def write(i: int) -> None:
        try:
            outcomes[i] = traced.committer.run(writes[i])
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writes))]
    with traced.lock:
        for thread in threads:
            thread.start()
        _until(lambda: traced.queued() == len(writes))
    for thread in threads:
        thread.join(10)
    return outcomes


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.001)


def test_a_lone_write_is_one_autocommit_statement(conn: sqlite3.Connection) -> None:
    traced = Traced(conn)
    assert traced.committer.run([(INSERT, (1, "a"))]) == [(1,)]
    assert traced.control == []  # no BEGIN/COMMIT around it
    with pytest.raises(DuplicateKey):
        traced.committer.run([(INSERT, (1, "again"))])


def test_a_lone_write_of_several_statements_needs_no_savepoint(
    conn: sqlite3.Connection,
) -> None:
    traced = Traced(conn)
    savepoints: list[str] = []
    conn.set_trace_callback(
        lambda s: (traced._trace(s), savepoints.append(s) if "dbos_write" in s else None)
    )
    assert traced.committer.run([(INSERT, (1, "a")), (INSERT, (2, "b"))]) == [(1,)]
    assert traced.control == ["BEGIN IMMEDIATE", "COMMIT"]
    assert savepoints == []
    with pytest.raises(DuplicateKey):  # the second fails: the first is rolled back with it
        traced.committer.run([(INSERT, (3, "c")), (INSERT, (1, "again"))])
    assert traced.control[-1] == "ROLLBACK"
    assert conn.execute("SELECT id FROM t ORDER BY id").fetchall() == [(1,), (2,)]


def test_queued_writes_commit_in_one_transaction(conn: sqlite3.Connection) -> None:
    traced = Traced(conn)
    outcomes = _in_group(traced, [[(INSERT, (i, "v"))] for i in range(10)])
    assert sorted(outcomes) == [[(i,)] for i in range(10)]  # each got its own rows back
    assert traced.control == ["BEGIN IMMEDIATE", "COMMIT"]
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (10,)


def test_a_failing_write_is_rolled_back_alone_and_gets_its_own_error(
    conn: sqlite3.Connection,
) -> None:
    conn.execute("INSERT INTO t (id, v) VALUES (100, 'taken')")
    traced = Traced(conn)
    # The failing write is a batch whose first statement would succeed: it goes as a whole.
    failing: list[Statement] = [(INSERT, (50, "first half")), (INSERT, (100, "dup"))]
    writes = [[(INSERT, (1, "a"))], failing, [(INSERT, (2, "b"))]]
    outcomes = _in_group(traced, writes)
    assert outcomes[0] == [(1,)] and outcomes[2] == [(2,)]
    assert isinstance(outcomes[1], DuplicateKey)
    assert traced.control == ["BEGIN IMMEDIATE", "COMMIT"]
    ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")]
    assert ids == [1, 2, 100]  # nothing of the failed batch, all of the others


def test_an_invalid_statement_fails_its_own_write_only(conn: sqlite3.Connection) -> None:
    traced = Traced(conn)
    writes = [[(INSERT, (1, "a"))], [("NOT SQL", ())], [(INSERT, (2, "b"))]]
    outcomes = _in_group(traced, writes)
    assert outcomes[0] == [(1,)] and outcomes[2] == [(2,)]
    assert isinstance(outcomes[1], sqlite3.OperationalError)


def test_a_group_that_cannot_begin_fails_every_write_in_it(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    traced = Traced(conn)
    traced.committer = GroupCommitter(conn, traced.lock, lambda op: op(), _integrity_error)
    conn.execute("PRAGMA busy_timeout=0")
    other = sqlite3.connect(tmp_path / "g.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the file's write lock
    try:
        outcomes = _in_group(traced, [[(INSERT, (i, "v"))] for i in range(3)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(isinstance(o, sqlite3.OperationalError) for o in outcomes)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert not conn.in_transaction
    assert traced.committer.run([(INSERT, (7, "later"))]) == [(7,)]  # and it recovers


def test_the_backend_folds_concurrent_writes_together(tmp_path: Path) -> None:
    backend = SQLiteBackend(f"sqlite:///{tmp_path / 'b.sqlite'}")
    try:
        backend.write_one("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        writers = 8

        def write(first: int) -> None:
            for i in range(first, 400, writers):
                backend.write_one(INSERT, (i, "v"))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert backend.read_one("SELECT count(*) FROM t") == (400,)
    finally:
        backend.close()
