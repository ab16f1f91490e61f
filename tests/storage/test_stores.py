"""The storage conformance suite: WorkflowStore, StepStore, QueueStore and VersionStore behave
the same on every backend."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from storage_support import bookkeeping, step, workflow

from dbos._storage.backend import DuplicateKey, WorkflowGone
from dbos._storage.messages import MessageWrite
from dbos._storage.system_database import SystemDatabase


def set_column(db: SystemDatabase, workflow_id: str, column: str, value: object) -> None:
    db.backend.write_one(
        db.dialect.sql(f"UPDATE {{s}}workflow_status SET {column} = ? WHERE workflow_uuid = ?"),
        (value, workflow_id),
    )


# ---------------------------------------------------------------- WorkflowStore


def test_insert_creates_a_row_and_reports_its_identity(db: SystemDatabase) -> None:
    outcome = db.workflows.insert(
        workflow("w1", queue_name="q", workflow_deadline_epoch_ms=9_000, class_name="C")
    )
    assert outcome.created is True
    assert (outcome.status, outcome.name, outcome.class_name, outcome.config_name) == (
        "PENDING",
        "wf",
        "C",
        None,
    )
    assert (outcome.queue_name, outcome.workflow_deadline_epoch_ms) == ("q", 9_000)


def test_insert_of_an_existing_id_changes_nothing_and_reports_the_existing_row(
    db: SystemDatabase,
) -> None:
    db.workflows.insert(workflow("w1", name="first", inputs="first-inputs"))
    db.workflows.record_outcome("w1", "SUCCESS", "out", None, 2_000, "owner-w1")
    outcome = db.workflows.insert(
        workflow(
            "w1",
            name="second",
            inputs="second-inputs",
            status="ENQUEUED",
            queue_name="q",
            owner_xid="another-caller",
        )
    )
    assert outcome.created is False
    assert (outcome.status, outcome.name, outcome.queue_name) == ("SUCCESS", "first", None)
    row = db.workflows.get("w1")
    assert row is not None
    assert (row.name, row.inputs, row.status, row.output) == (
        "first",
        "first-inputs",
        "SUCCESS",
        "out",
    )


def test_an_insert_retried_after_a_lost_acknowledgement_still_reports_created(
    db: SystemDatabase,
) -> None:
    # The first attempt committed but its answer was lost; the retry finds its own row.
    row = workflow("w1")
    assert db.workflows.insert(row).created is True
    assert db.workflows.insert(row).created is True


def test_a_row_reads_back_as_it_was_inserted(db: SystemDatabase) -> None:
    db.workflows.insert(
        workflow(
            "w1",
            class_name="Cls",
            config_name="cfg",
            queue_name="q",
            authenticated_user="alice",
            assumed_role="admin",
            authenticated_roles='["admin"]',
            workflow_timeout_ms=500,
            workflow_deadline_epoch_ms=1_500,
            deduplication_id="dedup",
            priority=3,
            queue_partition_key="part",
            parent_workflow_id="parent",
            delay_until_epoch_ms=1_200,
            attributes='{"a": 1}',
            recovery_attempts=1,
        )
    )
    row = db.workflows.get("w1")
    assert row is not None
    assert (row.workflow_id, row.status, row.name, row.class_name, row.config_name) == (
        "w1",
        "PENDING",
        "wf",
        "Cls",
        "cfg",
    )
    assert (row.authenticated_user, row.assumed_role, row.authenticated_roles) == (
        "alice",
        "admin",
        '["admin"]',
    )
    assert (row.inputs, row.output, row.error, row.serialization) == (
        "inputs-w1",
        None,
        None,
        "py_pickle",
    )
    assert (row.executor_id, row.application_version, row.application_name) == (
        "local",
        "v1",
        "app",
    )
    assert (row.created_at, row.updated_at, row.recovery_attempts) == (1_000, 1_000, 1)
    assert (row.queue_name, row.workflow_timeout_ms, row.workflow_deadline_epoch_ms) == (
        "q",
        500,
        1_500,
    )
    assert (row.deduplication_id, row.priority, row.queue_partition_key) == ("dedup", 3, "part")
    assert (row.parent_workflow_id, row.delay_until_epoch_ms) == ("parent", 1_200)
    assert (row.started_at_epoch_ms, row.completed_at, row.forked_from) == (None, None, None)
    assert row.was_forked_from is False
    attributes = json.loads(row.attributes) if isinstance(row.attributes, str) else row.attributes
    assert attributes == {"a": 1}


def test_reads_of_a_missing_workflow_return_none(db: SystemDatabase) -> None:
    assert db.workflows.get("missing") is None
    assert db.workflows.get_status("missing") is None
    assert db.workflows.get_outcome("missing") is None


def test_record_outcome_writes_only_while_the_row_is_pending(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1", deduplication_id="d", queue_name="q"))
    assert db.workflows.record_outcome("w1", "SUCCESS", "result", None, 5_000, "owner-w1") is True
    row = db.workflows.get("w1")
    assert row is not None
    assert (row.status, row.output, row.error) == ("SUCCESS", "result", None)
    assert (row.updated_at, row.completed_at, row.deduplication_id) == (5_000, 5_000, None)

    assert (
        db.workflows.record_outcome("w1", "ERROR", None, "late error", 6_000, "owner-w1") is False
    )
    outcome = db.workflows.get_outcome("w1")
    assert outcome is not None
    assert (outcome.status, outcome.output, outcome.error, outcome.serialization) == (
        "SUCCESS",
        "result",
        None,
        "py_pickle",
    )
    assert db.workflows.get_status("w1") == "SUCCESS"


@pytest.mark.parametrize(
    "status", ["ENQUEUED", "CANCELLED", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
)
def test_record_outcome_leaves_a_row_that_is_not_pending_alone(
    db: SystemDatabase, status: str
) -> None:
    db.workflows.insert(workflow("w1", status=status))
    assert db.workflows.record_outcome("w1", "SUCCESS", "result", None, 5_000, "owner-w1") is False
    row = db.workflows.get("w1")
    assert row is not None
    assert (row.status, row.output, row.completed_at) == (status, None, None)


def test_record_outcome_is_refused_to_a_run_that_no_longer_owns_the_row(
    db: SystemDatabase,
) -> None:
    db.workflows.insert(workflow("w1"))
    assert (
        db.workflows.record_outcome("w1", "SUCCESS", "stale", None, 5_000, "someone-else") is False
    )
    assert db.workflows.get_status("w1") == "PENDING"


def test_record_outcome_of_a_missing_workflow_reports_nothing_written(
    db: SystemDatabase,
) -> None:
    assert db.workflows.record_outcome("missing", "SUCCESS", "x", None, 1, "owner-missing") is False


# ---------------------------------------------------------------- StepStore


def test_a_step_is_recorded_once_and_a_second_record_is_refused(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1"))
    first = db.steps.record(step("w1", 1, output="first"))
    assert first.recorded is True
    second = db.steps.record(step("w1", 1, output="second", completed_at_epoch_ms=99))
    assert second.recorded is False
    row = db.steps.get("w1", 1)
    assert row is not None
    assert (row.function_id, row.function_name, row.output, row.error) == (
        1,
        "step-1",
        "first",
        None,
    )
    assert db.steps.completed_at("w1", 1) == 15


def test_a_record_reports_the_workflow_status_it_saw(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1"))
    assert db.steps.record(step("w1", 1)).workflow_status == "PENDING"
    set_column(db, "w1", "status", "CANCELLED")
    result = db.steps.record(step("w1", 2))
    assert (result.recorded, result.workflow_status) == (True, "CANCELLED")


def test_steps_load_back_by_function_id_with_every_field(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1"))
    db.workflows.insert(workflow("other"))
    db.steps.record(step("w1", 3, function_name="DBOS.sleep", serialization="portable_json"))
    db.steps.record(step("w1", 1, output=None, error="boom"))
    db.steps.record(step("w1", 2, output=None, child_workflow_id="w1-2"))
    db.steps.record(step("other", 1))
    loaded = db.steps.load("w1")
    assert list(loaded) == [1, 2, 3]
    assert (loaded[1].output, loaded[1].error) == (None, "boom")
    assert (loaded[2].output, loaded[2].child_workflow_id) == (None, "w1-2")
    assert (loaded[3].function_name, loaded[3].serialization) == ("DBOS.sleep", "portable_json")
    assert db.steps.load("missing") == {}
    assert db.steps.get("w1", 4) is None
    assert db.steps.completed_at("w1", 4) is None


def test_a_step_of_a_missing_workflow_is_refused(db: SystemDatabase) -> None:
    with pytest.raises(WorkflowGone):
        db.steps.record(step("missing", 1))
    assert db.steps.load("missing") == {}


def test_a_send_from_a_missing_workflow_does_not_blame_its_destination(
    db: SystemDatabase,
) -> None:
    db.workflows.insert(workflow("there"))
    send = db.messages.send_statements([MessageWrite("m1", "there", "t", "hi", "json")], 1)
    with pytest.raises(WorkflowGone):  # the sender is what is missing, not "there"
        db.steps.record_with(step("missing", 1), send)
    assert db.steps.load("missing") == {}


def test_a_run_that_finds_its_workflow_deleted_leaves_no_rows_behind(
    db: SystemDatabase,
) -> None:
    """A checkpoint that committed after its workflow was deleted (it raced the delete) is
    removed when that run records its outcome and finds the row gone."""
    db.workflows.insert(workflow("raced", owner_xid="me"))
    db.backend.write_one(
        db.dialect.sql("DELETE FROM {s}workflow_status WHERE workflow_uuid = ?"), ("raced",)
    )
    # What a checkpoint that raced the delete leaves: a row the delete did not see.
    orphan = db.steps.strict_record(step("raced", 1))
    db.backend.write_one(orphan[0].split("RETURNING")[0], orphan[1][:-1])
    assert sorted(db.steps.load("raced")) == [1]
    assert not db.workflows.record_outcome("raced", "SUCCESS", "out", None, 5, "me")
    assert db.steps.load("raced") == {}


def test_an_event_of_a_missing_workflow_is_refused_and_leaves_nothing(db: SystemDatabase) -> None:
    with pytest.raises(WorkflowGone):
        db.events.record(bookkeeping("missing", 1, "DBOS.setEvent"), "k", "v", "json")
    with pytest.raises(WorkflowGone):
        db.steps.record_with(
            bookkeeping("missing", 2, "DBOS.writeStream"),
            [db.streams.write_statement("missing", "s", "v", "json", 2)],
        )
    assert db.steps.load("missing") == {}
    assert db.events.get("missing", "k") is None
    count = db.dialect.sql("SELECT COUNT(*) FROM {s}streams WHERE workflow_uuid = ?")
    assert db.backend.read_one(count, ("missing",)) == (0,)


def test_deleting_a_workflow_deletes_its_steps_events_and_streams(db: SystemDatabase) -> None:
    for wf in ("w1", "w2"):
        db.workflows.insert(workflow(wf))
        db.events.record(bookkeeping(wf, 1, "DBOS.setEvent"), "k", "v", "json")
        db.steps.record_with(step(wf, 2), [db.streams.write_statement(wf, "s", "v", "json", 2)])
    db.backend.write_one(
        db.dialect.sql("DELETE FROM {s}workflow_status WHERE workflow_uuid = ?"), ("w1",)
    )
    assert db.steps.load("w1") == {}
    assert db.events.get("w1", "k") is None
    count = db.dialect.sql("SELECT COUNT(*) FROM {s}streams WHERE workflow_uuid = ?")
    assert db.backend.read_one(count, ("w1",)) == (0,)
    assert sorted(db.steps.load("w2")) == [1, 2]  # another workflow's rows stay
    assert db.events.get("w2", "k") == ("v", "json")
    stream = db.streams.read("w2", "s", 0)
    assert stream is not None and stream.value == "v"


def test_a_stream_value_goes_at_a_given_offset_or_one_past_the_last(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("writer"))
    assert db.streams.last_offset("writer", "s") == -1
    db.streams.write("writer", "s", "a", "json", 1)  # the database picks: 0
    db.streams.write("writer", "s", "b", "json", 1, offset=1)
    assert db.streams.last_offset("writer", "s") == 1
    with pytest.raises(DuplicateKey):  # somebody else's offset is never overwritten
        db.streams.write("writer", "s", "x", "json", 2, offset=1)
    db.steps.record_with(
        step("writer", 3), [db.streams.write_statement("writer", "s", "c", "json", 3, offset=2)]
    )
    values = [db.streams.read("writer", "s", n) for n in range(4)]
    assert [v.value if v else None for v in values] == ["a", "b", "c", None]
    assert db.streams.last_offset("writer", "other") == -1


# ---------------------------------------------------------------- QueueStore


def claim(db: SystemDatabase, queue: str = "q", *, limit: int = 100, **kw: str) -> list[str]:
    claimed = db.queues.claim(
        queue,
        executor_id=kw.get("executor_id", "exec-1"),
        app_version=kw.get("app_version", "v1"),
        app_name=kw.get("app_name", "app"),
        limit=limit,
        now_ms=50_000,
        owner="claim-token",
    )
    return [c.workflow_id for c in claimed]


def enqueue(db: SystemDatabase, workflow_id: str, **overrides: object) -> None:
    fields: dict[str, object] = {
        "status": "ENQUEUED",
        "queue_name": "q",
        "executor_id": None,
        "recovery_attempts": 0,
    }
    fields.update(overrides)
    db.workflows.insert(workflow(workflow_id, **fields))


def test_claim_takes_lowest_priority_number_first_then_oldest(db: SystemDatabase) -> None:
    enqueue(db, "p0-late", priority=0, created_at=3_000)
    enqueue(db, "p1-early", priority=1, created_at=1_000)
    enqueue(db, "p0-early", priority=0, created_at=2_000)
    enqueue(db, "p2-earliest", priority=2, created_at=500)
    assert claim(db) == ["p0-early", "p0-late", "p1-early", "p2-earliest"]
    assert claim(db) == []


def test_claim_respects_its_limit_and_never_claims_a_row_twice(db: SystemDatabase) -> None:
    for i in range(5):
        enqueue(db, f"w{i}", created_at=1_000 + i)
    assert claim(db, limit=2) == ["w0", "w1"]
    assert claim(db, limit=2) == ["w2", "w3"]
    assert claim(db, limit=2) == ["w4"]


def test_claim_marks_the_row_pending_for_this_executor_and_counts_an_attempt(
    db: SystemDatabase,
) -> None:
    enqueue(db, "w1", application_version=None, application_name=None, recovery_attempts=4)
    claimed = db.queues.claim(
        "q",
        executor_id="exec-9",
        app_version="v7",
        app_name="app",
        limit=10,
        now_ms=50_000,
        owner="claim-token",
    )
    assert [(c.workflow_id, c.name, c.recovery_attempts) for c in claimed] == [("w1", "wf", 5)]
    row = db.workflows.get("w1")
    assert row is not None
    assert (row.status, row.executor_id, row.application_version, row.application_name) == (
        "PENDING",
        "exec-9",
        "v7",
        "app",
    )
    assert (row.started_at_epoch_ms, row.updated_at, row.recovery_attempts) == (
        50_000,
        50_000,
        5,
    )


def test_claim_only_takes_enqueued_rows_of_its_queue_version_and_application(
    db: SystemDatabase,
) -> None:
    enqueue(db, "ok")
    enqueue(db, "unversioned", application_version=None)
    enqueue(db, "unowned", application_name=None)
    enqueue(db, "other-queue", queue_name="other")
    enqueue(db, "other-version", application_version="v2")
    enqueue(db, "other-app", application_name="someone-else")
    enqueue(db, "pending", status="PENDING", executor_id="exec-0")
    enqueue(db, "delayed", status="DELAYED")
    assert sorted(claim(db)) == ["ok", "unowned", "unversioned"]


def test_claim_starts_the_timeout_clock_only_when_no_deadline_is_set(db: SystemDatabase) -> None:
    enqueue(db, "timeout-only", workflow_timeout_ms=1_000)
    enqueue(db, "has-deadline", workflow_timeout_ms=1_000, workflow_deadline_epoch_ms=7_000)
    enqueue(db, "no-timeout")
    claim(db)
    deadlines = {
        wid: db.workflows.get(wid).workflow_deadline_epoch_ms  # type: ignore[union-attr]
        for wid in ("timeout-only", "has-deadline", "no-timeout")
    }
    assert deadlines == {"timeout-only": 51_000, "has-deadline": 7_000, "no-timeout": None}


def test_concurrent_claimers_never_take_the_same_row(
    open_db: Callable[[], SystemDatabase], db: SystemDatabase
) -> None:
    for i in range(40):
        enqueue(db, f"w{i:02}", created_at=1_000 + i)
    claimers = [open_db() for _ in range(4)]
    barrier = threading.Barrier(len(claimers))
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run(claimer: SystemDatabase) -> None:
        barrier.wait()
        try:
            mine: list[str] = []
            while batch := claim(claimer, limit=3):
                mine += batch
            results.append(mine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in claimers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    everything = [wid for mine in results for wid in mine]
    assert sorted(everything) == [f"w{i:02}" for i in range(40)]


def test_requeue_pending_moves_this_executors_pending_rows_to_the_queue(
    db: SystemDatabase,
) -> None:
    db.workflows.insert(workflow("mine"))
    db.workflows.insert(workflow("mine-unowned", application_name=None))
    db.workflows.insert(workflow("mine-queued", queue_name="own-queue"))
    db.workflows.insert(workflow("other-executor", executor_id="exec-2"))
    db.workflows.insert(workflow("other-version", application_version="v2"))
    db.workflows.insert(workflow("other-app", application_name="someone-else"))
    db.workflows.insert(workflow("finished"))
    db.workflows.record_outcome("finished", "SUCCESS", "x", None, 2_000, "owner-finished")
    set_column(db, "mine", "started_at_epoch_ms", 1_500)

    requeued = db.queues.requeue_pending("local", "v1", "app", "_internal", 3_000)
    assert sorted(requeued) == ["mine", "mine-queued", "mine-unowned"]
    rows = {wid: db.workflows.get(wid) for wid in requeued}
    assert {wid: (r.status, r.queue_name) for wid, r in rows.items()} == {  # type: ignore[union-attr]
        "mine": ("ENQUEUED", "_internal"),
        "mine-unowned": ("ENQUEUED", "_internal"),
        "mine-queued": ("ENQUEUED", "own-queue"),
    }
    assert rows["mine"].started_at_epoch_ms is None  # type: ignore[union-attr]
    assert rows["mine"].updated_at == 3_000  # type: ignore[union-attr]
    for untouched in ("other-executor", "other-version", "other-app"):
        assert db.workflows.get_status(untouched) == "PENDING"
    assert db.workflows.get_status("finished") == "SUCCESS"
    # A second sweep finds nothing left to move.
    assert db.queues.requeue_pending("local", "v1", "app", "_internal", 4_000) == []


def test_recovered_rows_can_be_claimed_again(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1"))
    db.queues.requeue_pending("local", "v1", "app", "q", 3_000)
    claimed = db.queues.claim(
        "q",
        executor_id="local",
        app_version="v1",
        app_name="app",
        limit=10,
        now_ms=4_000,
        owner="second-claim",
    )
    assert [(c.workflow_id, c.recovery_attempts) for c in claimed] == [("w1", 2)]
    # The claim took the row over: only its token may write the outcome now.
    assert db.workflows.record_outcome("w1", "SUCCESS", "x", None, 5_000, "owner-w1") is False
    assert db.workflows.record_outcome("w1", "SUCCESS", "x", None, 5_000, "second-claim") is True


def test_dead_letter_finishes_a_pending_row_and_frees_its_queue_slot(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1", queue_name="q", deduplication_id="d"))
    set_column(db, "w1", "started_at_epoch_ms", 1_500)
    db.queues.dead_letter("w1", 9_000)
    row = db.workflows.get("w1")
    assert row is not None
    assert (row.status, row.queue_name, row.deduplication_id) == (
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
        None,
        None,
    )
    assert (row.started_at_epoch_ms, row.completed_at, row.updated_at) == (None, 9_000, 9_000)
    # The dedup ID is free again.
    enqueue(db, "w2", deduplication_id="d")


def test_dead_letter_leaves_a_finished_row_alone(db: SystemDatabase) -> None:
    db.workflows.insert(workflow("w1"))
    db.workflows.record_outcome("w1", "SUCCESS", "x", None, 2_000, "owner-w1")
    db.queues.dead_letter("w1", 9_000)
    assert db.workflows.get_status("w1") == "SUCCESS"


def test_deduplication_ids_are_unique_per_queue(db: SystemDatabase) -> None:
    enqueue(db, "w1", deduplication_id="d")
    enqueue(db, "w2", deduplication_id="d", queue_name="other")
    with pytest.raises(Exception, match=r"(?i)unique"):
        enqueue(db, "w3", deduplication_id="d")


# ---------------------------------------------------------------- VersionStore


def test_registering_a_version_again_keeps_its_first_timestamp(db: SystemDatabase) -> None:
    db.versions.register("v1", "app", 1_000)
    db.versions.register("v2", "app", 2_000)
    db.versions.register("v1", "app", 3_000)
    versions = db.versions.list("app")
    assert [(v.version_name, v.version_timestamp) for v in versions] == [
        ("v2", 2_000),
        ("v1", 1_000),
    ]


def test_set_latest_moves_a_version_to_the_front_without_changing_created_at(
    db: SystemDatabase,
) -> None:
    db.versions.register("v1", "app", 1_000)
    db.versions.register("v2", "app", 2_000)
    assert db.versions.set_latest("v1", "app", 5_000) is True
    versions = db.versions.list("app")
    assert [(v.version_name, v.version_timestamp, v.created_at) for v in versions] == [
        ("v1", 5_000, 1_000),
        ("v2", 2_000, 2_000),
    ]
    assert db.versions.set_latest("missing", "app", 6_000) is False


def test_a_caller_with_no_application_promotes_any_version_and_keeps_its_owner(
    db: SystemDatabase,
) -> None:
    db.versions.register("theirs", "other-app", 1_000)
    db.versions.register("unclaimed", None, 2_000)
    assert db.versions.set_latest("theirs", None, 5_000) is True
    assert db.versions.set_latest("unclaimed", None, 6_000) is True
    assert [(v.version_name, v.application_name) for v in db.versions.list(None)] == [
        ("unclaimed", None),
        ("theirs", "other-app"),
    ]
    assert db.versions.set_latest("theirs", "app", 7_000) is False  # another app's row


def test_versions_are_listed_per_application(db: SystemDatabase) -> None:
    db.versions.register("mine", "app", 1_000)
    db.versions.register("theirs", "other-app", 2_000)
    db.versions.register("unclaimed", None, 3_000)
    assert [v.version_name for v in db.versions.list("app")] == ["unclaimed", "mine"]


def test_a_statement_the_server_cannot_run_fails_at_once(db: SystemDatabase) -> None:
    """A protocol violation (parameters that do not fit) is not mistaken for a lost link."""
    insert = db.dialect.sql("INSERT INTO {s}queues (name) VALUES (?)")
    with pytest.raises(Exception, match=r"parameter|binding"):
        db.backend.write_one(insert, ("a", "b"))
