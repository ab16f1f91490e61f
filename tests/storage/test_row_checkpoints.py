"""Event and stream rows that are their own checkpoints (migration 11).

A set_event or write_stream made by the workflow itself writes one row, which replay, step
listing, forks and claims must all see as the operation's checkpoint; the same writes made
from inside a step are not checkpoints, so that an unfinished step still runs again.
"""

from __future__ import annotations

import pytest
from storage_support import bookkeeping, step, workflow
from test_management_stores import fork_request

from dbos._storage import queues, steps, workflow_listing
from dbos._storage.backend import DuplicateKey
from dbos._storage.system_database import SystemDatabase

SET_EVENT = "DBOS.setEvent"
WRITE_STREAM = "DBOS.writeStream"


def stream_values(db: SystemDatabase, workflow_id: str, key: str) -> list[tuple[int, str]]:
    query = db.dialect.sql(
        "SELECT function_id, value FROM {s}streams WHERE workflow_uuid = ? AND key = ? "
        'ORDER BY "offset"'
    )
    return [(r[0], r[1]) for r in db.backend.read_all(query, (workflow_id, key))]


def event_rows(db: SystemDatabase, workflow_id: str) -> int:
    query = db.dialect.sql(
        "SELECT COUNT(*) FROM {s}workflow_events_history WHERE workflow_uuid = ?"
    )
    row = db.backend.read_one(query, (workflow_id,))
    assert row is not None
    return int(row[0])


@pytest.fixture
def wf(db: SystemDatabase) -> str:
    db.workflows.insert(workflow("wf"))
    return "wf"


def test_event_and_stream_rows_load_as_the_operations_checkpoints(
    db: SystemDatabase, wf: str
) -> None:
    db.steps.record(step(wf, 1))
    assert db.events.record(bookkeeping(wf, 2, SET_EVENT), "k", "v", "json").recorded
    assert db.streams.record(bookkeeping(wf, 3, WRITE_STREAM), "s", "v", "json").recorded
    loaded = db.steps.load(wf)
    assert {fid: row.function_name for fid, row in loaded.items()} == {
        1: "step-1",
        2: SET_EVENT,
        3: WRITE_STREAM,
    }
    assert (loaded[2].output, loaded[2].error, loaded[3].output) == (None, None, None)
    assert db.events.get(wf, "k") == ("v", "json")
    assert stream_values(db, wf, "s") == [(3, "v")]
    listed = db.listing.steps(wf, load_output=True, limit=None, offset=None)
    assert [(s.function_id, s.function_name) for s in listed] == [
        (1, "step-1"),
        (2, SET_EVENT),
        (3, WRITE_STREAM),
    ]
    assert listed[1].completed_at_epoch_ms == bookkeeping(wf, 2, SET_EVENT).completed_at_epoch_ms
    assert db.listing.last_function_id(wf) == 3
    assert db.steps.completed_at(wf, 3) == bookkeeping(wf, 3, WRITE_STREAM).completed_at_epoch_ms


def test_writes_from_inside_a_step_are_not_checkpoints(db: SystemDatabase, wf: str) -> None:
    # The step at function ID 1 published, then died before its own checkpoint.
    db.events.set(wf, "k", "v", "json", 1)
    db.streams.write(wf, "s", "v", "json", 1)
    assert db.steps.load(wf) == {}
    assert db.listing.last_function_id(wf) == 0
    assert db.steps.completed_at(wf, 1) is None
    # Its second run publishes again and records its checkpoint.
    db.events.set(wf, "k", "v2", "json", 1)
    assert db.steps.record(step(wf, 1)).recorded
    assert db.events.get(wf, "k") == ("v2", "json")


def test_a_second_execution_of_a_set_event_loses_the_race(db: SystemDatabase, wf: str) -> None:
    assert db.events.record(bookkeeping(wf, 1, SET_EVENT), "k", "first", "json").recorded
    late = bookkeeping(wf, 1, SET_EVENT)._replace(completed_at_epoch_ms=99)
    assert not db.events.record(late, "k", "second", "json").recorded
    assert db.events.get(wf, "k") == ("first", "json")
    assert event_rows(db, wf) == 1


def test_a_second_execution_of_a_stream_write_loses_the_race(db: SystemDatabase, wf: str) -> None:
    assert db.streams.record(bookkeeping(wf, 1, WRITE_STREAM), "s", "a", "json").recorded
    assert not db.streams.record(bookkeeping(wf, 1, WRITE_STREAM), "s", "b", "json").recorded
    assert stream_values(db, wf, "s") == [(1, "a")]


def test_a_lagging_execution_is_refused_far_behind_the_streams_end(
    db: SystemDatabase, wf: str
) -> None:
    """The cheap guard looks at the stream's last values only; further back, the exact
    check decides."""
    for fid in range(1, 21):
        assert db.streams.record(bookkeeping(wf, fid, WRITE_STREAM), "s", str(fid), "json").recorded
    assert not db.streams.record(bookkeeping(wf, 2, WRITE_STREAM), "s", "again", "json").recorded
    assert len(stream_values(db, wf, "s")) == 20


def test_gathered_writes_may_land_out_of_function_id_order(db: SystemDatabase, wf: str) -> None:
    """Two writes of one async workflow, started together, can commit in either order."""
    assert db.streams.record(bookkeeping(wf, 3, WRITE_STREAM), "s", "three", "json").recorded
    assert db.streams.record(bookkeeping(wf, 2, WRITE_STREAM), "s", "two", "json").recorded
    assert stream_values(db, wf, "s") == [(3, "three"), (2, "two")]
    assert sorted(db.steps.load(wf)) == [2, 3]


def test_a_set_event_where_a_step_set_the_same_key_is_refused(db: SystemDatabase, wf: str) -> None:
    """Only a changed workflow sets a key from the workflow at a step's function ID."""
    db.events.set(wf, "k", "from a step", "json", 1)
    with pytest.raises(DuplicateKey):
        db.events.record(bookkeeping(wf, 1, SET_EVENT), "k", "v", "json")
    assert db.events.get(wf, "k") == ("from a step", "json")


def test_a_fork_keeps_the_checkpoints_before_its_start_step(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("src", status="SUCCESS"))
    db.events.record(bookkeeping("src", 1, SET_EVENT), "k", "v", "json")
    db.streams.record(bookkeeping("src", 2, WRITE_STREAM), "s", "v", "json")
    db.events.set("src", "k", "from step 3", "json", 3)
    db.steps.record(step("src", 3))
    db.events.record(bookkeeping("src", 4, SET_EVENT), "k", "v4", "json")
    assert db.forks.fork(fork_request("src", "fork", 4)).created
    assert {fid: r.function_name for fid, r in db.steps.load("fork").items()} == {
        1: SET_EVENT,
        2: WRITE_STREAM,
        3: "step-3",
    }
    assert db.events.get("fork", "k") == ("from step 3", "json")


def test_a_claim_sees_a_workflow_whose_only_checkpoint_is_an_event(db: SystemDatabase) -> None:
    for workflow_id in ("fresh", "evented", "streamed"):
        db.workflows.insert(
            workflow(workflow_id, status="ENQUEUED", queue_name="q", executor_id=None)
        )
    db.events.record(bookkeeping("evented", 1, SET_EVENT), "k", "v", "json")
    db.streams.record(bookkeeping("streamed", 1, WRITE_STREAM), "s", "v", "json")
    claimed = db.queues.claim(
        "q",
        executor_id="exec-1",
        app_version="v1",
        app_name="app",
        limit=10,
        now_ms=50_000,
        owner="token",
    )
    assert {c.workflow_id: c.has_steps for c in claimed} == {
        "fresh": False,
        "evented": True,
        "streamed": True,
    }


@pytest.mark.parametrize(
    "query",
    [
        steps.LOAD,
        steps.GET,
        steps.GET_COMPLETED_AT,
        workflow_listing.LAST_FUNCTION_ID,
        f"SELECT {queues.CLAIMED_COLUMNS} FROM {{s}}workflow_status WHERE workflow_uuid = ?",
    ],
    ids=["load", "get", "completed_at", "last_function_id", "claimed_columns"],
)
def test_reads_of_checkpoints_search_by_workflow_and_never_scan_a_table(
    db: SystemDatabase, query: str
) -> None:
    """SQLite pushes a parameter, but not a correlated term, into the checkpoints view."""
    if db.dialect.name != "sqlite":
        pytest.skip("SQLite's planner; Postgres pushes both")
    sql = db.dialect.sql("EXPLAIN QUERY PLAN " + query)
    plan = [str(r[-1]) for r in db.backend.read_all(sql, ("wf",) * query.count("?"))]
    tables = ("operation_outputs", "workflow_events_history", "streams", " o")
    assert not [step for step in plan if step.startswith("SCAN") and step.endswith(tables)], plan
