"""Event rows that are their own checkpoints (migration 11).

A set_event made by the workflow itself writes one row, which replay, step listing, forks
and claims must all see as the operation's checkpoint; the same call made from inside a
step is no checkpoint, so that an unfinished step still runs again.
"""

from __future__ import annotations

import pytest
from storage_support import bookkeeping, step, workflow
from test_management_stores import fork_request

from dbos._storage import events, queues, steps, workflow_listing
from dbos._storage.system_database import SystemDatabase

SET_EVENT = "DBOS.setEvent"


def event_rows(db: SystemDatabase, workflow_id: str) -> list[tuple[int, str, str, str | None]]:
    query = db.dialect.sql(
        "SELECT function_id, key, value, function_name FROM {s}workflow_events_history "
        "WHERE workflow_uuid = ? ORDER BY function_id, key"
    )
    return [(r[0], r[1], r[2], r[3]) for r in db.backend.read_all(query, (workflow_id,))]


@pytest.fixture
def wf(db: SystemDatabase) -> str:
    db.workflows.insert(workflow("wf"))
    return "wf"


def test_an_event_row_loads_as_the_operations_checkpoint(db: SystemDatabase, wf: str) -> None:
    db.steps.record(step(wf, 1))
    assert db.events.record(bookkeeping(wf, 2, SET_EVENT), "k", "v", "json").recorded
    db.steps.record_with(
        bookkeeping(wf, 3, "DBOS.writeStream"),
        [db.streams.write_statement(wf, "s", "v", "json", 3)],
    )
    loaded = db.steps.load(wf)
    assert {fid: row.function_name for fid, row in loaded.items()} == {
        1: "step-1",
        2: SET_EVENT,
        3: "DBOS.writeStream",
    }
    assert (loaded[2].output, loaded[2].error) == (None, None)
    assert db.events.get(wf, "k") == ("v", "json")
    assert event_rows(db, wf) == [(2, "k", "v", SET_EVENT)]
    listed = db.listing.steps(wf, load_output=True, limit=None, offset=None)
    assert [(s.function_id, s.function_name) for s in listed] == [
        (1, "step-1"),
        (2, SET_EVENT),
        (3, "DBOS.writeStream"),
    ]
    completed = bookkeeping(wf, 2, SET_EVENT).completed_at_epoch_ms
    assert listed[1].completed_at_epoch_ms == completed
    assert db.steps.completed_at(wf, 2) == completed
    assert db.steps.get(wf, 2) == loaded[2]
    assert db.listing.last_function_id(wf) == 3


def test_an_event_set_inside_a_step_is_no_checkpoint(db: SystemDatabase, wf: str) -> None:
    # The step at function ID 1 set an event, then died before its own checkpoint.
    db.events.set(wf, "k", "v", "json", 1)
    assert db.steps.load(wf) == {}
    assert db.listing.last_function_id(wf) == 0
    assert db.steps.completed_at(wf, 1) is None
    # Its second run sets it again and records its checkpoint.
    db.events.set(wf, "k", "v2", "json", 1)
    assert db.steps.record(step(wf, 1)).recorded
    assert db.events.get(wf, "k") == ("v2", "json")
    assert event_rows(db, wf) == [(1, "k", "v2", None)]


def test_a_second_execution_of_a_set_event_loses_the_race(db: SystemDatabase, wf: str) -> None:
    assert db.events.record(bookkeeping(wf, 1, SET_EVENT), "k", "first", "json").recorded
    late = bookkeeping(wf, 1, SET_EVENT)._replace(completed_at_epoch_ms=99)
    assert not db.events.record(late, "k", "second", "json").recorded
    assert db.events.get(wf, "k") == ("first", "json")
    assert db.steps.completed_at(wf, 1) == bookkeeping(wf, 1, SET_EVENT).completed_at_epoch_ms


def test_a_set_event_where_a_step_is_recorded_loses_the_race(db: SystemDatabase, wf: str) -> None:
    """Two executions that disagree about what a function ID is (a changed workflow)."""
    assert db.steps.record(step(wf, 1)).recorded
    assert not db.events.record(bookkeeping(wf, 1, SET_EVENT), "k", "v", "json").recorded
    assert db.events.get(wf, "k") is None
    assert db.steps.load(wf)[1].function_name == "step-1"


def test_a_set_event_marks_an_unmarked_row_at_its_own_key_and_function_id(
    db: SystemDatabase, wf: str
) -> None:
    """A build from before migration 11 copies event rows into a fork without the marks;
    the fork's replay then sets each of those events again, and that must record."""
    db.backend.write_one(
        db.dialect.sql(
            "INSERT INTO {s}workflow_events_history "
            "(workflow_uuid, function_id, key, value, serialization) VALUES (?, 1, 'k', 'v', 'j')"
        ),
        (wf,),
    )
    assert db.events.record(bookkeeping(wf, 1, SET_EVENT), "k", "v", "json").recorded
    assert event_rows(db, wf) == [(1, "k", "v", SET_EVENT)]
    assert sorted(db.steps.load(wf)) == [1]


def test_a_fork_keeps_the_checkpoints_before_its_start_step(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("src", status="SUCCESS"))
    db.events.record(bookkeeping("src", 1, SET_EVENT), "k", "v", "json")
    db.events.set("src", "k", "from step 2", "json", 2)
    db.steps.record(step("src", 2))
    db.events.record(bookkeeping("src", 3, SET_EVENT), "k", "v3", "json")
    assert db.forks.fork(fork_request("src", "fork", 3)).created
    assert {fid: r.function_name for fid, r in db.steps.load("fork").items()} == {
        1: SET_EVENT,
        2: "step-2",
    }
    assert db.events.get("fork", "k") == ("from step 2", "json")
    assert db.listing.last_function_id("fork") == 2


def test_a_claim_sees_a_workflow_whose_only_checkpoint_is_an_event(db: SystemDatabase) -> None:
    for workflow_id in ("fresh", "evented", "stepped", "step-set"):
        db.workflows.insert(
            workflow(workflow_id, status="ENQUEUED", queue_name="q", executor_id=None)
        )
    db.events.record(bookkeeping("evented", 1, SET_EVENT), "k", "v", "json")
    db.steps.record(step("stepped", 1))
    db.events.set("step-set", "k", "v", "json", 1)  # set by a step that did not finish
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
        "stepped": True,
        "step-set": False,
    }


@pytest.mark.parametrize(
    "query",
    [
        steps.LOAD,
        steps.GET,
        steps.GET_COMPLETED_AT,
        events.RECORD,
        workflow_listing.LAST_FUNCTION_ID,
        "SELECT * FROM {s}checkpoints WHERE workflow_uuid = ? ORDER BY function_id LIMIT 5",
        f"SELECT {queues.CLAIMED_COLUMNS} FROM {{s}}workflow_status WHERE workflow_uuid = ?",
    ],
    ids=["load", "get", "completed_at", "record", "last_function_id", "listing", "claimed"],
)
def test_reads_of_checkpoints_search_by_workflow_and_never_scan_a_table(
    db: SystemDatabase, query: str
) -> None:
    """SQLite pushes a parameter, but not a correlated term, into the checkpoints view."""
    if db.dialect.name != "sqlite":
        pytest.skip("SQLite's planner; Postgres pushes both")
    sql = db.dialect.sql("EXPLAIN QUERY PLAN " + query)
    plan = [str(r[-1]) for r in db.backend.read_all(sql, ("wf",) * query.count("?"))]
    harmless = ("SCAN checkpoints", "SCAN CONSTANT ROW")
    assert not [s for s in plan if s.startswith("SCAN ") and s not in harmless], plan
    assert [s for s in plan if s.startswith("SEARCH ")], plan
