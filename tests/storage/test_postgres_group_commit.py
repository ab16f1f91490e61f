"""Group commit on Postgres: writes queued behind the one in flight share one transaction.

The first tests drive GroupCommitter with stand-ins for the database, so a group can be
formed on purpose; the last ones run it on Postgres, holding the write in flight on an
advisory lock while the others queue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from tests.conftest import postgres_url, require_postgres, write_held_in_flight

from dbos._storage.backend import DuplicateKey, Params, Row
from dbos._storage.postgres_backend import PostgresBackend
from dbos._storage.postgres_group_commit import (
    GroupCommitter,
    GroupInterrupted,
    GroupNotCommitted,
)
from dbos._storage.postgres_wire import NotEncodable, PipelineFailed, PreparedStatements

DEADLINE_SEC = 10.0


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SEC
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


class Fake:
    """Stand-ins for the database: ``alone`` blocks on ``gate`` for the query "block"."""

    def __init__(
        self, fail_together: Exception | None = None, name_the_failed: bool = False
    ) -> None:
        self.gate = threading.Event()
        self.alone_calls: list[str] = []
        self.groups: list[list[str]] = []
        self.fail_together = fail_together
        self.name_the_failed = name_the_failed  # as the server does: "bad" rolls back all

    def alone(self, query: str, params: Params) -> list[Row]:
        self.alone_calls.append(query)
        if query == "block":
            self.gate.wait(DEADLINE_SEC)
        if query.startswith("bad"):
            raise DuplicateKey(query)
        return [(query,)]

    def together(self, statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        self.groups.append([q for q, _ in statements])
        if self.fail_together is not None:
            raise self.fail_together
        if self.name_the_failed:
            bad = [i for i, (q, _) in enumerate(statements) if q.startswith("bad")]
            if bad:
                raise GroupNotCommitted("rolled back", failed=bad[0])
        return [[(q,)] for q, _ in statements]


def _behind_a_blocked_write(committer: GroupCommitter, fake: Fake, queries: list[str]) -> list[Any]:
    """Run "block", queue ``queries`` behind it (one thread each), then let it finish."""
    outcomes: list[Any] = [None] * len(queries)

    def write(i: int) -> None:
        try:
            outcomes[i] = committer.run(queries[i], ())
        except BaseException as exc:  # an Interrupt too, from a leader
            outcomes[i] = exc

    blocker = threading.Thread(target=committer.run, args=("block", ()))
    blocker.start()
    _until(lambda: fake.alone_calls == ["block"])
    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(queries))]
    for thread in threads:
        thread.start()
    _until(lambda: len(committer._queued) == len(queries))
    fake.gate.set()
    for thread in [blocker, *threads]:
        thread.join(DEADLINE_SEC)
    return outcomes


def _in_a_thread(fn: Callable[[], Any]) -> Any:
    """``fn()`` from a thread other than the main one, whose writes always run alone."""
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(fn()))
    thread.start()
    thread.join(DEADLINE_SEC)
    return outcome[0]


def test_a_lone_write_runs_alone_at_once() -> None:
    fake = Fake()
    committer = GroupCommitter(fake.alone, fake.together)
    assert _in_a_thread(lambda: committer.run("one", ())) == [("one",)]
    assert fake.alone_calls == ["one"] and fake.groups == []


def test_writes_queued_behind_the_one_in_flight_go_out_as_one_group() -> None:
    fake = Fake()
    committer = GroupCommitter(fake.alone, fake.together)
    outcomes = _behind_a_blocked_write(committer, fake, ["a", "b", "c"])
    assert outcomes == [[("a",)], [("b",)], [("c",)]]
    assert [sorted(g) for g in fake.groups] == [["a", "b", "c"]]
    assert fake.alone_calls == ["block"]
    assert committer._in_flight == 0


def test_a_group_is_at_most_max_group_writes() -> None:
    fake = Fake()
    committer = GroupCommitter(fake.alone, fake.together, max_group=2)
    outcomes = _behind_a_blocked_write(committer, fake, ["a", "b", "c"])
    assert outcomes == [[("a",)], [("b",)], [("c",)]]
    assert sorted(len(g) for g in fake.groups) == [2]  # and the third ran alone
    assert len(fake.alone_calls) == 2


def test_when_a_group_did_not_commit_each_write_runs_alone_and_fails_alone() -> None:
    fake = Fake(fail_together=GroupNotCommitted("rolled back"))
    committer = GroupCommitter(fake.alone, fake.together)
    outcomes = _behind_a_blocked_write(committer, fake, ["a", "bad", "c"])
    assert outcomes[0] == [("a",)] and outcomes[2] == [("c",)]
    assert isinstance(outcomes[1], DuplicateKey)
    assert sorted(fake.alone_calls) == ["a", "bad", "block", "c"]
    assert committer._in_flight == 0


def test_the_statement_that_failed_a_group_runs_alone_and_the_rest_go_again_together() -> None:
    fake = Fake(name_the_failed=True)
    committer = GroupCommitter(fake.alone, fake.together)
    outcomes = _behind_a_blocked_write(committer, fake, ["a", "bad", "c", "d"])
    assert outcomes[0] == [("a",)] and outcomes[2:] == [[("c",)], [("d",)]]
    assert isinstance(outcomes[1], DuplicateKey)
    assert [sorted(g) for g in fake.groups] == [["a", "bad", "c", "d"], ["a", "c", "d"]]
    assert sorted(fake.alone_calls) == ["bad", "block"]


def test_a_group_that_may_have_committed_is_never_run_again() -> None:
    error = ValueError("lost track after COMMIT was sent")
    fake = Fake(fail_together=error)
    committer = GroupCommitter(fake.alone, fake.together)
    outcomes = _behind_a_blocked_write(committer, fake, ["a", "b"])
    assert outcomes == [error, error]
    assert fake.alone_calls == ["block"]
    assert committer._in_flight == 0


class Interrupt(BaseException):
    pass


def test_the_main_threads_writes_never_queue() -> None:
    """Signals reach the main thread: an interrupt there must never strand a group."""
    fake = Fake()
    committer = GroupCommitter(fake.alone, fake.together)
    blocker = threading.Thread(target=committer.run, args=("block", ()))
    blocker.start()
    _until(lambda: fake.alone_calls == ["block"])
    assert committer.run("main", ()) == [("main",)]  # beside the write in flight
    assert committer._queued == []
    fake.gate.set()
    blocker.join(DEADLINE_SEC)
    assert committer._in_flight == 0


def test_writes_whose_leader_is_interrupted_get_an_error_of_their_own() -> None:
    fake = Fake(fail_together=None)

    def together(statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        raise Interrupt

    committer = GroupCommitter(fake.alone, together)
    outcomes = _behind_a_blocked_write(committer, fake, ["a", "b"])
    # One of the two led the group and was interrupted; the other is told its outcome is
    # unknown, rather than being handed somebody else's interrupt.
    assert {type(o) for o in outcomes} == {GroupInterrupted, Interrupt}
    assert committer._in_flight == 0


# ---------------------------------------------------------------- on Postgres


@pytest.fixture
def table() -> Iterator[str]:
    require_postgres()
    name = f"group_commit_{time.time_ns()}"
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield name
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def _rows(table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        return conn.execute(f"SELECT id, v FROM {table} ORDER BY id").fetchall()


def test_a_pipeline_returns_each_statements_rows_in_one_transaction(table: str) -> None:
    insert = f"INSERT INTO {table} (id, v) VALUES (%s, %s) RETURNING id"
    prepared = PreparedStatements()
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        rows = prepared.pipeline(conn, [(insert, (1, "a")), (insert, (2, "b"))])
        assert rows == [[(1,)], [(2,)]]
        with pytest.raises(PipelineFailed) as failed:
            prepared.pipeline(conn, [(insert, (3, "c")), (insert, (1, "again"))])
        assert failed.value.index == 1
        assert isinstance(failed.value.error, psycopg.errors.UniqueViolation)
        # Rolled back whole, and the connection is idle and usable again.
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert _rows(table) == [(1, "a"), (2, "b")]


def test_a_string_postgres_cannot_take_fails_the_pipeline_before_anything_is_sent(
    table: str,
) -> None:
    insert = f"INSERT INTO {table} (id, v) VALUES (%s, %s) RETURNING id"
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        with pytest.raises(NotEncodable):  # the group commit then runs each write alone
            PreparedStatements().pipeline(conn, [(insert, (1, "a")), (insert, (2, "\ud800"))])
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert _rows(table) == []


def test_a_pipeline_larger_than_the_sockets_buffers_goes_through(table: str) -> None:
    """psycopg's connections do not block: libpq sends what fits and keeps the rest."""
    insert = f"INSERT INTO {table} (id, v) VALUES (%s, %s) RETURNING id"
    big = "x" * 1_000_000
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        rows = PreparedStatements().pipeline(conn, [(insert, (i, big)) for i in range(8)])
    assert rows == [[(i,)] for i in range(8)]
    assert [r[0] for r in _rows(table)] == list(range(8))


def test_a_pipeline_works_on_a_descriptor_past_1024(table: str) -> None:
    """select() cannot wait on descriptors numbered 1024 and up; a busy server passes that."""
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        insert = f"INSERT INTO {table} (id, v) VALUES (%s, %s) RETURNING id"
        with psycopg.connect(postgres_url(), autocommit=True) as conn:
            assert conn.pgconn.socket >= 1024
            rows = PreparedStatements().pipeline(conn, [(insert, (1, "a")), (insert, (2, "b"))])
    finally:
        for fd in opened:
            os.close(fd)
    assert rows == [[(1,)], [(2,)]]
    assert _rows(table) == [(1, "a"), (2, "b")]


@contextmanager
def _a_write_in_flight() -> Iterator[tuple[PostgresBackend, Callable[[], None]]]:
    """A backend with a shareable write held in flight (see write_held_in_flight)."""
    backend = PostgresBackend(postgres_url(), schema="public", pool_size=4)
    try:
        with write_held_in_flight(backend) as release:
            yield backend, release
    finally:
        backend.close()


def test_the_backend_groups_queued_writes_and_a_failure_stays_with_its_caller(
    table: str,
) -> None:
    insert = f"INSERT INTO {table} (id, v) VALUES (%s, %s) RETURNING id"
    outcomes: list[Any] = [None] * 4
    with _a_write_in_flight() as (backend, release):
        backend.write_one(insert, (1, "taken"))

        def write(i: int) -> None:
            try:
                ident = 1 if i == 0 else i + 1  # the first collides with "taken"
                outcomes[i] = backend.write_one(insert, (ident, f"v{i}"), shareable=True)
            except Exception as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        _until(lambda: len(backend._group._queued) == 4)
        release()
        for thread in threads:
            thread.join(DEADLINE_SEC)
    assert isinstance(outcomes[0], DuplicateKey)
    assert outcomes[1:] == [[(2,)], [(3,)], [(4,)]]
    assert _rows(table) == [(1, "taken"), (2, "v1"), (3, "v2"), (4, "v3")]


def test_only_small_shareable_statements_that_set_no_local_state_are_grouped(
    table: str,
) -> None:
    """A quiet enqueue's set_config(..., true) would silence the trigger for its whole group."""
    insert = f"INSERT INTO {table} (id, v) VALUES (%s, %s) RETURNING id"
    quiet = (
        f"INSERT INTO {table} (id, v) VALUES (%s, (SELECT CAST(%s AS TEXT) FROM "
        "(SELECT set_config('dbos.quiet_enqueue', 'on', true)) AS quiet)) RETURNING id"
    )
    with _a_write_in_flight() as (backend, _):
        # Runs at once beside the write in flight, instead of queueing behind it; and so
        # does a write that is not shareable.
        write = backend.write_one
        assert _in_a_thread(lambda: write(quiet, (7, "quiet"), shareable=True)) == [(7,)]
        assert _in_a_thread(lambda: write(insert, (8, "plain"))) == [(8,)]
        big = "x" * 70_000  # a large one would hold up the writes queued behind it
        assert _in_a_thread(lambda: write(insert, (9, big), shareable=True)) == [(9,)]
        assert backend._group._queued == []
    assert [r[0] for r in _rows(table)] == [7, 8, 9]
