"""Writes of messages, events and stream values announce themselves on Postgres.

Since migration 8 no trigger does it: each statement that writes such a row carries a
pg_notify in its RETURNING clause. These tests listen on the real channels and check every
writing statement, including one folded into another as a WITH clause, whose RETURNING
nobody reads. SQLite has no notifications; its processes wake their own waiters.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from storage_support import bookkeeping, step, workflow
from test_management_stores import fork_request

from dbos._storage import events, postgres_listener
from dbos._storage.dialect import EVENTS_CHANNEL, MESSAGES_CHANNEL, STREAMS_CHANNEL
from dbos._storage.factory import reset_system_database
from dbos._storage.messages import MessageWrite
from dbos._storage.postgres_backend import PostgresBackend
from dbos._storage.postgres_listener import PostgresListener
from dbos._storage.system_database import SystemDatabase


@pytest.fixture
def listener(db: SystemDatabase) -> PostgresListener:
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    opened = db.backend.listen([EVENTS_CHANNEL, MESSAGES_CHANNEL, STREAMS_CHANNEL])
    assert opened.wait(0.01) == []  # connected and listening before anything is written
    yield opened  # type: ignore[misc]
    opened.close()


def heard(listener: PostgresListener, expected: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The expected (channel, payload) pairs that arrived within 10 s.

    Other tests' databases share the server, and with it the channels: what they announce
    is ignored.
    """
    got: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 10
    while not expected <= got and (left := deadline - time.monotonic()) > 0:
        got |= {notice for notice in listener.wait(min(left, 1.0)) if notice in expected}
    return got


def test_set_event_announces_its_key_when_recorded_with_its_step(
    db: SystemDatabase, listener: PostgresListener
) -> None:
    wf = "ev-" + uuid.uuid4().hex
    db.workflows.insert(workflow(wf))
    # The event row is the checkpoint; its statement also returns the workflow's status.
    db.events.record(bookkeeping(wf, 1, "DBOS.setEvent"), "k", "v", "json")
    db.events.set(wf, "alone", "v", "json", 2)  # and as set from a step
    expected = {(EVENTS_CHANNEL, f"{wf}::k"), (EVENTS_CHANNEL, f"{wf}::alone")}
    assert heard(listener, expected) == expected


def test_stream_writes_and_messages_announce_their_keys(
    db: SystemDatabase, listener: PostgresListener
) -> None:
    wf = "st-" + uuid.uuid4().hex
    db.workflows.insert(workflow(wf))
    db.streams.write(wf, "s", "v0", "json", 1)
    write = db.streams.write_statement(wf, "t", "v0", "json", 2)
    db.steps.record_with(step(wf, 2), [write])
    db.messages.send([MessageWrite("m-" + wf, wf, "topic", "hi", "json")], 1)
    expected = {
        (STREAMS_CHANNEL, f"{wf}::s"),
        (STREAMS_CHANNEL, f"{wf}::t"),
        (MESSAGES_CHANNEL, f"{wf}::topic"),
    }
    assert heard(listener, expected) == expected


def test_a_fork_announces_the_events_and_streams_it_copies(
    db: SystemDatabase, listener: PostgresListener
) -> None:
    source, fork = "src-" + uuid.uuid4().hex, "fork-" + uuid.uuid4().hex
    db.workflows.insert(workflow(source, status="SUCCESS"))
    db.events.record(bookkeeping(source, 1, "DBOS.setEvent"), "k", "v", "json")
    db.steps.record_with(step(source, 2), [db.streams.write_statement(source, "s", "v", "json", 2)])
    assert db.forks.fork(fork_request(source, fork, 3)).created
    expected = {(EVENTS_CHANNEL, f"{fork}::k"), (STREAMS_CHANNEL, f"{fork}::s")}
    assert heard(listener, expected) == expected


def test_a_key_too_long_for_a_payload_announces_an_empty_one(
    db: SystemDatabase, listener: PostgresListener
) -> None:
    wf = "long-" + uuid.uuid4().hex
    db.workflows.insert(workflow(wf))
    db.events.set(wf, "k" * 8000, "v", "json", 1)
    assert heard(listener, {(EVENTS_CHANNEL, "")}) == {(EVENTS_CHANNEL, "")}


def test_nothing_is_announced_while_nobody_is_registered(db: SystemDatabase) -> None:
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    wf = "quiet-" + uuid.uuid4().hex
    db.workflows.insert(workflow(wf))
    with psycopg.connect(db.backend.conninfo, autocommit=True) as plain:
        plain.execute(f'LISTEN "{EVENTS_CHANNEL}"')  # listens, but is not registered
        db.events.set(wf, "k", "v", "json", 1)
        # Notices arrive in commit order: everything before the marker has arrived with it.
        plain.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, "marker-" + wf))
        payloads = []
        for notice in plain.notifies(timeout=10):
            payloads.append(notice.payload)
            if notice.payload == "marker-" + wf:
                break
    assert f"{wf}::k" not in payloads
    assert payloads[-1] == "marker-" + wf


def test_registering_removes_the_rows_of_backends_that_are_gone(db: SystemDatabase) -> None:
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    table = db.dialect.sql("{s}listeners")
    db.backend.write_one(
        f"INSERT INTO {table} (channel, backend_pid) VALUES (%s, %s)", (EVENTS_CHANNEL, -1)
    )
    listener = db.backend.listen([EVENTS_CHANNEL])
    try:
        assert listener.wait(0.01) == []  # listens, and registers, on its first wait
        rows = db.backend.read_all(f"SELECT channel, backend_pid FROM {table}")
        assert [channel for channel, _ in rows] == [EVENTS_CHANNEL]
        assert rows[0][1] > 0  # the listener's own backend, not the stale row
    finally:
        listener.close()


def test_registration_waits_for_a_write_that_found_nobody_registered(
    db: SystemDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write did not notify, so the waiter's first check must see it: the registration
    commits only after the write has, and the check runs after the registration."""
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    # Long enough that the registration waits for this test's write, not for its timeout.
    monkeypatch.setattr(postgres_listener, "_REGISTRATION_LOCK_TIMEOUT", "60s")
    wf = "race-" + uuid.uuid4().hex
    db.workflows.insert(workflow(wf))
    listener = db.backend.listen([])
    registered = threading.Event()

    def register() -> None:
        if listener.add_channel(EVENTS_CHANNEL, 30):
            registered.set()

    def listener_loop() -> None:
        while not registered.is_set():
            listener.wait(0.05)

    with psycopg.connect(db.backend.conninfo) as writer:  # a transaction left open
        query = db.dialect.sql(events.SET.replace("{notify}", events.notify_event(db.backend)))
        writer.execute(query, (wf, 1, "k", "v", "json"))
        threads = [threading.Thread(target=f, daemon=True) for f in (register, listener_loop)]
        for thread in threads:
            thread.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE 'BEGIN; SET LOCAL lock_timeout%%'"
        )
        deadline = time.monotonic() + 10
        while db.backend.read_one(waiting) != (1,) and time.monotonic() < deadline:
            time.sleep(0.01)  # bounded poll for the registration to block on the lock
        assert db.backend.read_one(waiting) == (1,)
        assert not registered.is_set()
        writer.commit()
    assert registered.wait(10)
    assert db.events.get(wf, "k") == ("v", "json")  # the waiter's first check sees it
    for thread in threads:
        thread.join(10)
    listener.close()


def test_a_closed_listener_is_no_longer_registered(db: SystemDatabase) -> None:
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    table = db.dialect.sql("{s}listeners")
    listener = db.backend.listen([STREAMS_CHANNEL])
    assert listener.wait(0.01) == []
    assert db.backend.read_all(f"SELECT channel FROM {table}") == [(STREAMS_CHANNEL,)]
    listener.close()
    assert db.backend.read_all(f"SELECT channel FROM {table}") == []


def test_a_busy_listeners_table_does_not_hold_registration_up(db: SystemDatabase) -> None:
    """Somebody's open transaction that read the table holds its lock: the listener still
    registers (without the lock), rather than stalling every notifying write behind it."""
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    table = db.dialect.sql("{s}listeners")
    with psycopg.connect(db.backend.conninfo) as reader:  # a transaction left open
        reader.execute(f"SELECT count(*) FROM {table}")
        listener = db.backend.listen([EVENTS_CHANNEL])
        try:
            assert listener.wait(0.01) == []  # registers on its first wait
            rows = db.backend.read_all(f"SELECT channel FROM {table}")
            assert rows == [(EVENTS_CHANNEL,)]
        finally:
            listener.close()


def test_emptying_the_database_keeps_the_listeners_registered(
    db: SystemDatabase, system_database_url: str, pg_schema: str
) -> None:
    if not isinstance(db.backend, PostgresBackend):
        pytest.skip("SQLite has no notifications")
    table = db.dialect.sql("{s}listeners")
    listener = db.backend.listen([MESSAGES_CHANNEL])
    try:
        assert listener.wait(0.01) == []
        reset_system_database(system_database_url, schema=pg_schema, truncate=True)
        assert db.backend.read_all(f"SELECT channel FROM {table}") == [(MESSAGES_CHANNEL,)]
    finally:
        listener.close()
