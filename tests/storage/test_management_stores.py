"""The storage conformance suite for management: WorkflowListStore, ManagementStore and
ForkStore behave the same on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from storage_support import step, workflow

from dbos._core.workflow_filters import WorkflowFilter, build_workflow_filter
from dbos._storage.records import ForkRequest, RewindRequest
from dbos._storage.system_database import SystemDatabase


def run(db: SystemDatabase, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    compiled = db.dialect.sql(query)
    if query.startswith("SELECT"):
        return db.backend.read_all(compiled, params)
    return db.backend.write_one(compiled, params)


def add_history(db: SystemDatabase, workflow_id: str) -> None:
    """Events set at function IDs 1 and 3 (key k twice) and 2 (key j); stream writes at 1-3."""
    for function_id, key, value in ((1, "k", "k1"), (2, "j", "j2"), (3, "k", "k3")):
        run(
            db,
            "INSERT INTO {s}workflow_events_history (workflow_uuid, function_id, key, value) "
            "VALUES (?, ?, ?, ?)",
            (workflow_id, function_id, key, value),
        )
    for offset, function_id in enumerate((1, 2, 3)):
        run(
            db,
            'INSERT INTO {s}streams (workflow_uuid, key, value, "offset", function_id) '
            "VALUES (?, 's', ?, ?, ?)",
            (workflow_id, f"v{offset}", offset, function_id),
        )


def events(db: SystemDatabase, workflow_id: str) -> dict[str, str]:
    rows = run(
        db, "SELECT key, value FROM {s}workflow_events WHERE workflow_uuid = ?", (workflow_id,)
    )
    return dict(rows)  # type: ignore[arg-type]


def history(db: SystemDatabase, workflow_id: str, table: str) -> list[int]:
    rows = run(
        db,
        f"SELECT function_id FROM {{s}}{table} WHERE workflow_uuid = ? ORDER BY function_id",
        (workflow_id,),
    )
    return [r[0] for r in rows]


def fork_request(source: str, fork: str, start_step: int, **overrides: Any) -> ForkRequest:
    fields: dict[str, Any] = {
        "source_id": source, "fork_id": fork, "start_step": start_step,
        "queue_name": "_dbos_internal_queue", "queue_partition_key": None,
        "application_version": None, "application_name": "app", "workflow_timeout_ms": None,
        "replacement_children": {}, "owner_xid": "owner", "now_ms": 50_000,
    }  # fmt: skip
    fields.update(overrides)
    return ForkRequest(**fields)


@pytest.fixture
def source(db: SystemDatabase) -> str:
    db.workflows.insert(workflow("src", status="SUCCESS", attributes='{"a": 1}'))
    for function_id in (1, 2, 3):
        db.steps.record(step("src", function_id, child_workflow_id=f"c{function_id}"))
    add_history(db, "src")
    return "src"


def test_fork_copies_history_before_the_start_step(db: SystemDatabase, source: str) -> None:
    outcome = db.forks.fork(fork_request(source, "f", 3, replacement_children={"c2": "new"}))
    assert outcome.created
    assert sorted(db.steps.load("f")) == [1, 2]
    assert [s.child_workflow_id for s in db.steps.load("f").values()] == ["c1", "new"]
    assert history(db, "f", "workflow_events_history") == [1, 2]
    assert history(db, "f", "streams") == [1, 2]
    assert events(db, "f") == {"k": "k1", "j": "j2"}  # latest value per key before step 3
    row = db.workflows.get("f")
    assert row is not None
    assert (row.status, row.forked_from, row.inputs, row.created_at) == (
        "ENQUEUED", "src", "inputs-src", 50_000,
    )  # fmt: skip
    assert row.attributes in ({"a": 1}, '{"a": 1}')
    source_row = db.workflows.get("src")
    assert source_row is not None and source_row.was_forked_from is True


def test_fork_from_step_one_copies_nothing_and_an_unclaimed_source_is_claimed(
    db: SystemDatabase,
) -> None:
    db.workflows.insert(workflow("orphan", status="ERROR", application_name=None))
    db.steps.record(step("orphan", 1))
    assert db.forks.fork(fork_request("orphan", "f1", 1, application_name="mine")).created
    assert db.steps.load("f1") == {}
    row = db.workflows.get("f1")
    assert row is not None and row.application_name == "mine"


def test_fork_reports_a_missing_source_or_a_taken_id_without_writing(
    db: SystemDatabase, source: str
) -> None:
    assert db.forks.fork(fork_request("nope", "f", 2)).source_missing
    assert db.workflows.get("f") is None
    db.workflows.insert(workflow("taken"))
    outcome = db.forks.fork(fork_request(source, "taken", 2))
    assert (outcome.created, outcome.existing_forked_from) == (False, None)
    assert db.steps.load("taken") == {}
    source_row = db.workflows.get(source)
    assert source_row is not None and source_row.was_forked_from is False


def test_rewind_truncates_history_and_rebuilds_events(db: SystemDatabase, source: str) -> None:
    request = RewindRequest("src", 3, "_dbos_internal_queue", "pk", None, 60_000)
    assert db.forks.rewind(request) == "SUCCESS"
    assert sorted(db.steps.load("src")) == [1, 2]
    assert history(db, "src", "workflow_events_history") == [1, 2]
    assert history(db, "src", "streams") == [1, 2]
    assert events(db, "src") == {"k": "k1", "j": "j2"}  # the current values as of step 3
    row = db.workflows.get("src")
    assert row is not None
    assert (row.status, row.queue_name, row.queue_partition_key, row.output) == (
        "ENQUEUED", "_dbos_internal_queue", "pk", None,
    )  # fmt: skip
    assert (row.application_version, row.recovery_attempts, row.completed_at) == ("v1", 0, None)


def test_rewind_leaves_an_active_workflow_alone(db: SystemDatabase, source: str) -> None:
    db.workflows.insert(workflow("running"))
    db.steps.record(step("running", 1))
    request = RewindRequest("running", 1, "q", None, None, 60_000)
    assert db.forks.rewind(request) == "PENDING"
    assert sorted(db.steps.load("running")) == [1]
    assert db.forks.rewind(RewindRequest("missing", 1, "q", None, None, 1)) is None


def filter_for(**args: Any) -> WorkflowFilter:
    return build_workflow_filter(None, args)


def test_listing_with_many_ids_and_statuses(db: SystemDatabase) -> None:
    for index in range(600):  # past the SQLite inline-parameter threshold
        status = "SUCCESS" if index % 2 else "ERROR"
        db.workflows.insert(workflow(f"w{index:03}", status=status, created_at=index))
    many = [f"w{index:03}" for index in range(0, 600, 1)] + ["absent"]
    listed = db.listing.workflows(filter_for(workflow_ids=many, status=["ERROR"], limit=3))
    assert [r.workflow_id for r in listed] == ["w000", "w002", "w004"]
    assert db.listing.existing(many) == {f"w{index:03}" for index in range(600)}
    assert len(db.management.cancel(many, 1)) == 0  # finished rows are left alone
    assert len(db.management.delete(many)) == 600


def test_descendants_follow_parent_links(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("root"))
    db.workflows.insert(workflow("kid", parent_workflow_id="root"))
    db.workflows.insert(workflow("grandkid", parent_workflow_id="kid"))
    db.workflows.insert(workflow("stranger", parent_workflow_id="elsewhere"))
    assert sorted(db.listing.descendants(["root"])) == ["grandkid", "kid"]
    assert db.listing.descendants([]) == []
    assert db.listing.last_function_id("root") == 0
    assert db.listing.last_function_id("nobody") is None


def test_cancel_and_resume_guard_finished_rows(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("done", status="SUCCESS"))
    db.workflows.insert(workflow("queued", status="ENQUEUED", queue_name="q"))
    assert db.management.cancel(["done", "queued", "missing"], 7) == ["queued"]
    assert db.management.resume(["done", "queued"], "other", 8) == ["queued"]
    row = db.workflows.get("queued")
    assert row is not None and (row.status, row.queue_name) == ("ENQUEUED", "other")


def test_attributes_are_replaced_atomically(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("tagged", attributes='{"a": 1, "b": 2}'))
    seen: list[Any] = []

    def compute(current: Any) -> dict[str, Any]:
        seen.append(current)
        return {**current, "b": 3}

    assert db.management.update_attributes("tagged", compute, 9)
    assert seen == [{"a": 1, "b": 2}]
    row = db.workflows.get("tagged")
    assert row is not None and row.attributes in ({"a": 1, "b": 3}, '{"a": 1, "b": 3}')
    assert not db.management.update_attributes("missing", compute, 9)


def test_gc_primitives_skip_active_rows_and_respect_scope(db: SystemDatabase) -> None:
    for index, (status, app) in enumerate(
        [("SUCCESS", "app"), ("PENDING", "app"), ("ERROR", None), ("CANCELLED", "other"),
         ("SUCCESS", "app")]
    ):  # fmt: skip
        db.workflows.insert(
            workflow(f"g{index}", status=status, application_name=app, created_at=index * 10)
        )
    assert db.management.nth_newest_created_at(2, "app") == 20
    assert db.management.nth_newest_created_at(9, "app") is None
    candidates = db.management.gc_candidates(0, 40, "app", 10)
    assert candidates == [("g0", 0), ("g2", 20)]
    assert db.management.gc_candidates(0, 40, None, 1) == [("g0", 0)]
    assert db.management.gc_candidates(5, 100, None, 10) == [("g2", 20), ("g3", 30), ("g4", 40)]
    db.management.resume(["g3"], "q", 1)  # became active since it was read: kept
    assert db.management.delete_finished(["g0", "g1", "g3"]) == ["g0"]
    assert db.management.active_ids() == {"g1", "g3"}
    assert db.management.active_created_by(15, "app", 10) == ["g1"]
