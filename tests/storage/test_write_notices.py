"""Writes of messages, events and stream values announce themselves on Postgres.

Since migration 8 no trigger does it: each statement that writes such a row carries a
pg_notify in its RETURNING clause. These tests listen on the real channels and check every
writing statement, including one folded into another as a WITH clause, whose RETURNING
nobody reads. SQLite has no notifications; its processes wake their own waiters.
"""

from __future__ import annotations

import time
import uuid

import pytest
from storage_support import step, workflow
from test_management_stores import fork_request

from dbos._storage.dialect import EVENTS_CHANNEL, MESSAGES_CHANNEL, STREAMS_CHANNEL
from dbos._storage.messages import MessageWrite
from dbos._storage.postgres_listener import PostgresListener
from dbos._storage.postgres_backend import PostgresBackend
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
    # The checkpoint and the event go as one statement, the event as a WITH clause.
    db.steps.record_with(step(wf, 1), db.events.set_statements(wf, "k", "v", "json", 1))
    db.events.set(wf, "alone", "v", "json", 2)  # and as a statement of its own
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
    db.steps.record_with(step(source, 1), db.events.set_statements(source, "k", "v", "json", 1))
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
