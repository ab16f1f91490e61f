"""Workflows and their checkpoints through the public API: results, errors, IDs, children."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from system_tables import SystemTables, pickled, unpickled

from dbos import DBOS, SetWorkflowID
from dbos._api.state import state
from dbos.error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSWorkflowIDInUseError,
)


class InventoryError(Exception):
    """A user error type that pickles (it lives at module level)."""


class NeedsTwoArgsError(Exception):
    """An error whose constructor pickle cannot call back: it does not survive a round trip."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


# ---------------------------------------------------------------- results and errors


def test_workflow_returns_its_result_and_records_success(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def greet(name: str, *, punctuation: str) -> str:
        return f"hello {name}{punctuation}"

    with SetWorkflowID("greet-1"):
        assert greet("ada", punctuation="!") == "hello ada!"

    row = system_tables.workflow("greet-1")
    assert row is not None
    assert row["status"] == "SUCCESS"
    assert row["name"] == greet.__qualname__
    assert unpickled(row["output"]) == "hello ada!"
    assert row["error"] is None
    assert unpickled(row["inputs"]) == {"args": ("ada",), "kwargs": {"punctuation": "!"}}
    assert row["serialization"] == "py_pickle"
    assert row["executor_id"] == "local"
    assert row["application_version"] == DBOS.application_version
    assert row["completed_at"] is not None
    assert row["parent_workflow_id"] is None


def test_workflow_without_an_explicit_id_gets_a_fresh_uuid(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def whoami() -> str | None:
        return DBOS.workflow_id

    first, second = whoami(), whoami()
    assert first != second
    assert str(uuid.UUID(first or "")) == first


def test_workflow_error_is_recorded_and_reraised_with_its_original_type(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def reserve(quantity: int) -> None:
        runs.append(quantity)
        raise InventoryError(f"only 3 left, asked for {quantity}")

    with SetWorkflowID("reserve-1"), pytest.raises(InventoryError, match="asked for 5"):
        reserve(5)

    row = system_tables.workflow("reserve-1")
    assert row is not None
    assert row["status"] == "ERROR"
    assert row["output"] is None
    recorded = unpickled(row["error"])
    assert type(recorded) is InventoryError
    assert str(recorded) == "only 3 left, asked for 5"

    # Calling the same ID again replays the recorded error without running the body.
    with SetWorkflowID("reserve-1"), pytest.raises(InventoryError, match="asked for 5"):
        reserve(5)
    with pytest.raises(InventoryError, match="asked for 5"):
        DBOS.retrieve_workflow("reserve-1").get_result()
    assert runs == [5]


def test_error_that_cannot_be_rebuilt_is_stored_as_a_plain_exception_with_its_text(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def fails() -> None:
        raise NeedsTwoArgsError(7, "disk full")

    with SetWorkflowID("unrebuildable"), pytest.raises(NeedsTwoArgsError):
        fails()

    row = system_tables.workflow("unrebuildable")
    assert row is not None
    assert row["status"] == "ERROR"
    with pytest.raises(Exception, match="NeedsTwoArgsError: 7: disk full") as caught:
        DBOS.get_result("unrebuildable")
    assert type(caught.value) is Exception


def test_result_that_cannot_be_serialized_fails_the_workflow_durably(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def returns_a_lock() -> threading.Lock:
        return threading.Lock()

    with SetWorkflowID("unstorable-result"), pytest.raises(TypeError):
        returns_a_lock()

    row = system_tables.workflow("unstorable-result")
    assert row is not None
    assert row["status"] == "ERROR"
    assert row["output"] is None
    with pytest.raises(TypeError):
        DBOS.get_result("unstorable-result")


# ---------------------------------------------------------------- function IDs and checkpoints


def test_operations_are_numbered_from_one_in_call_order(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    seen: list[int | None] = []

    @DBOS.step()
    def fetch() -> str:
        seen.append(DBOS.step_id)
        return "a"

    @DBOS.step(name="custom-store")
    def store() -> None:
        seen.append(DBOS.step_id)

    @DBOS.workflow()
    def pipeline() -> str:
        seen.append(DBOS.step_id)  # the body itself is not a step
        value = fetch()
        store()
        return value

    with SetWorkflowID("ids"):
        assert pipeline() == "a"

    assert seen == [None, 1, 2]
    rows = system_tables.steps("ids")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [
        (1, fetch.__qualname__),
        (2, "custom-store"),
    ]
    assert unpickled(rows[0]["output"]) == "a"
    # A step returning None stores a serialised None, not NULL.
    assert rows[1]["output"] is not None
    assert unpickled(rows[1]["output"]) is None
    for r in rows:
        assert r["error"] is None
        assert r["child_workflow_id"] is None
        assert r["serialization"] == "py_pickle"
        assert r["started_at_epoch_ms"] <= r["completed_at_epoch_ms"]


def test_context_properties_inside_and_outside_workflows(dbos: type[DBOS]) -> None:
    seen: dict[str, object] = {}

    @DBOS.step()
    def inspect_step() -> None:
        seen["step_workflow_id"] = DBOS.workflow_id
        seen["step_id"] = DBOS.step_id
        seen["step_status"] = DBOS.step_status

    @DBOS.workflow()
    def inspect() -> None:
        seen["workflow_id"] = DBOS.workflow_id
        seen["body_step_status"] = DBOS.step_status
        seen["version"] = DBOS.application_version
        seen["executor"] = DBOS.executor_id
        inspect_step()

    with SetWorkflowID("props"):
        inspect()

    assert seen["workflow_id"] == "props"
    assert seen["step_workflow_id"] == "props"
    assert seen["step_id"] == 1
    assert seen["body_step_status"] is None
    status = seen["step_status"]
    assert status is not None
    assert (status.step_id, status.current_attempt, status.max_attempts) == (1, None, None)  # type: ignore[attr-defined]
    assert seen["version"] == DBOS.application_version != ""
    assert seen["executor"] == "local"
    assert DBOS.workflow_id is None
    assert DBOS.step_id is None
    assert DBOS.step_status is None
    assert isinstance(DBOS.logger, logging.Logger)
    assert DBOS.logger.name == "dbos"


def test_reinvoking_an_id_neither_reruns_the_body_nor_counts_an_attempt(
    dbos: type[DBOS],
) -> None:
    runs: list[int] = []

    @DBOS.step()
    def record_run() -> int:
        runs.append(1)
        return len(runs)

    @DBOS.workflow()
    def once() -> int:
        return record_run()

    for _ in range(10):
        with SetWorkflowID("once"):
            assert once() == 1
    assert runs == [1]
    status = DBOS.get_workflow_status("once")
    assert status is not None
    assert status.recovery_attempts == 1


def test_start_workflow_on_a_completed_id_returns_the_recorded_result(dbos: type[DBOS]) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def count(x: int) -> int:
        runs.append(x)
        return x

    with SetWorkflowID("started-twice"):
        assert count(1) == 1
    with SetWorkflowID("started-twice"):
        handle = DBOS.start_workflow(count, 2)
    assert handle.get_result() == 1
    assert runs == [1]


def test_reusing_an_id_for_a_different_workflow_raises_conflicting_workflow(
    dbos: type[DBOS],
) -> None:
    ran: list[str] = []

    @DBOS.workflow()
    def first_kind() -> str:
        ran.append("first")
        return "first"

    @DBOS.workflow()
    def second_kind() -> str:
        ran.append("second")
        return "second"

    with SetWorkflowID("shared-id"):
        first_kind()
    with SetWorkflowID("shared-id"), pytest.raises(DBOSConflictingWorkflowError) as caught:
        second_kind()
    assert "shared-id" in str(caught.value)
    with SetWorkflowID("shared-id"), pytest.raises(DBOSConflictingWorkflowError):
        DBOS.start_workflow(second_kind)
    assert ran == ["first"]


def test_reject_reuse_policy_refuses_an_id_that_exists(dbos: type[DBOS]) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def unique() -> int:
        runs.append(1)
        return 1

    with SetWorkflowID("reject-me", workflow_id_reuse_policy="reject"):
        assert unique() == 1
    with (
        SetWorkflowID("reject-me", workflow_id_reuse_policy="reject"),
        pytest.raises(DBOSWorkflowIDInUseError),
    ):
        unique()
    with (
        SetWorkflowID("reject-me", workflow_id_reuse_policy="reject"),
        pytest.raises(DBOSWorkflowIDInUseError),
    ):
        DBOS.start_workflow(unique)
    # The default policy returns the existing workflow's outcome.
    with SetWorkflowID("reject-me"):
        assert unique() == 1
    assert runs == [1]


def test_only_the_first_workflow_in_a_set_workflow_id_block_takes_the_id(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def whoami() -> str | None:
        return DBOS.workflow_id

    with SetWorkflowID("the-id"):
        first = whoami()
        second = whoami()
    assert first == "the-id"
    assert second not in (None, "the-id")
    assert {r["workflow_uuid"] for r in system_tables.workflows()} == {"the-id", second}


def test_nested_set_workflow_id_restores_the_outer_id_on_exit(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def whoami() -> str | None:
        return DBOS.workflow_id

    with SetWorkflowID("outer"):
        with SetWorkflowID("inner"):
            assert whoami() == "inner"
        assert whoami() == "outer"


def test_calling_a_workflow_before_dbos_is_launched_raises(
    clean_dbos: None, config: dict[str, str]
) -> None:
    @DBOS.workflow()
    def early() -> int:
        return 1

    with pytest.raises(DBOSException, match="before DBOS initialized"):
        early()
    DBOS(config=config)  # type: ignore[arg-type]
    with pytest.raises(DBOSException):
        early()
    DBOS.launch()
    assert early() == 1


# ---------------------------------------------------------------- start, handles, status


def test_start_workflow_returns_a_handle_while_the_body_runs(dbos: type[DBOS]) -> None:
    entered, release = threading.Event(), threading.Event()

    @DBOS.workflow()
    def double(x: int) -> int:
        entered.set()
        assert release.wait(10)
        return 2 * x

    try:
        with SetWorkflowID("bg-1"):
            handle = DBOS.start_workflow(double, 21)
        assert handle.workflow_id == handle.get_workflow_id() == "bg-1"
        assert entered.wait(10)
        assert handle.get_status().status == "PENDING"
    finally:
        release.set()
    assert handle.get_result() == 42

    status = handle.get_status()
    assert status.workflow_id == "bg-1"
    assert status.status == "SUCCESS"
    assert status.name == double.__qualname__
    assert status.output == 42
    assert status.error is None
    assert status.input["args"] == (21,)  # type: ignore[index]
    assert status.executor_id == "local"
    assert status.app_version == DBOS.application_version
    assert status.recovery_attempts == 1
    assert status.parent_workflow_id is None
    assert status.created_at is not None
    assert status.updated_at is not None
    assert status.created_at <= status.updated_at


def test_handle_of_a_failed_workflow_raises_its_error(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def broken() -> None:
        raise InventoryError("out of stock")

    handle = DBOS.start_workflow(broken)
    with pytest.raises(InventoryError, match="out of stock"):
        handle.get_result()
    assert handle.get_status().status == "ERROR"
    assert isinstance(handle.get_status().error, InventoryError)
    with pytest.raises(InventoryError):
        DBOS.get_result(handle.workflow_id)


def test_retrieve_workflow_and_get_result_read_a_finished_workflow(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def answer() -> int:
        return 42

    with SetWorkflowID("answer"):
        answer()
    handle = DBOS.retrieve_workflow("answer")
    assert handle.workflow_id == "answer"
    assert handle.get_result() == 42
    assert DBOS.get_result("answer") == 42
    status = DBOS.get_workflow_status("answer")
    assert status is not None
    assert status.status == "SUCCESS"


def test_unknown_workflow_ids_are_reported_as_missing(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSNonExistentWorkflowError, match="no-such-workflow"):
        DBOS.retrieve_workflow("no-such-workflow")
    assert DBOS.get_workflow_status("no-such-workflow") is None
    handle = DBOS.retrieve_workflow("no-such-workflow", existing_workflow=False)
    assert handle.workflow_id == "no-such-workflow"
    with pytest.raises(DBOSNonExistentWorkflowError):
        handle.get_status()


def test_wait_first_returns_the_handle_that_finished(dbos: type[DBOS]) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def slow() -> str:
        assert release.wait(10)
        return "slow"

    @DBOS.workflow()
    def fast() -> str:
        return "fast"

    try:
        slow_handle = DBOS.start_workflow(slow)
        fast_handle = DBOS.start_workflow(fast)
        first = DBOS.wait_first([slow_handle, fast_handle], polling_interval_sec=0.05)
        assert first.workflow_id == fast_handle.workflow_id
        assert first.get_result() == "fast"
        assert slow_handle.get_status().status == "PENDING"
    finally:
        release.set()
    assert slow_handle.get_result() == "slow"


def test_wait_first_rejects_empty_and_duplicate_handles(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def noop() -> None:
        return None

    handle = DBOS.start_workflow(noop)
    with pytest.raises(ValueError):
        DBOS.wait_first([])
    with pytest.raises(ValueError):
        DBOS.wait_first([handle, DBOS.retrieve_workflow(handle.workflow_id)])


def test_wait_first_inside_a_workflow_is_checkpointed(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def quick(x: int) -> int:
        return x

    @DBOS.workflow()
    def race() -> str:
        handle = DBOS.start_workflow(quick, 1)
        return DBOS.wait_first([handle], polling_interval_sec=0.05).workflow_id

    with SetWorkflowID("race"):
        assert race() == "race-1"
    rows = system_tables.steps("race")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [
        (1, quick.__qualname__),
        (2, "DBOS.waitFirst"),
    ]
    assert unpickled(rows[1]["output"]) == "race-1"


# ---------------------------------------------------------------- child workflows


def test_child_workflows_take_parent_derived_ids_and_record_parent_rows(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child(x: int) -> tuple[str | None, int]:
        return DBOS.workflow_id, x

    @DBOS.workflow()
    def parent() -> tuple[object, ...]:
        called = child(1)
        handle = DBOS.start_workflow(child, 2)
        return called, handle.workflow_id, handle.get_result()

    with SetWorkflowID("p"):
        assert parent() == (("p-1", 1), "p-3", ("p-3", 2))

    rows = system_tables.steps("p")
    assert [
        (r["function_id"], r["function_name"], r["child_workflow_id"], r["output"] is None)
        for r in rows
    ] == [
        (1, child.__qualname__, "p-1", True),
        (2, "DBOS.getResult", "p-1", False),
        (3, child.__qualname__, "p-3", True),
        (4, "DBOS.getResult", "p-3", False),
    ]
    assert rows[0]["error"] is None
    assert unpickled(rows[1]["output"]) == ("p-1", 1)
    assert unpickled(rows[3]["output"]) == ("p-3", 2)
    for child_id in ("p-1", "p-3"):
        child_row = system_tables.workflow(child_id)
        assert child_row is not None
        assert child_row["parent_workflow_id"] == "p"
        assert child_row["status"] == "SUCCESS"
    status = DBOS.get_workflow_status("p-1")
    assert status is not None
    assert status.parent_workflow_id == "p"


def test_child_error_is_recorded_in_the_parents_get_result_row(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def failing_child() -> None:
        raise InventoryError("child failed")

    @DBOS.workflow()
    def parent() -> str:
        try:
            failing_child()
        except InventoryError as exc:
            return f"caught {exc}"
        return "not caught"

    with SetWorkflowID("pe"):
        assert parent() == "caught child failed"
    rows = system_tables.steps("pe")
    assert [r["function_name"] for r in rows] == [failing_child.__qualname__, "DBOS.getResult"]
    assert rows[1]["output"] is None
    assert isinstance(unpickled(rows[1]["error"]), InventoryError)
    child_row = system_tables.workflow("pe-1")
    assert child_row is not None
    assert child_row["status"] == "ERROR"


def test_set_workflow_id_inside_a_parent_names_the_child(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child() -> str | None:
        return DBOS.workflow_id

    @DBOS.workflow()
    def parent() -> str | None:
        with SetWorkflowID("named-child"):
            return child()

    with SetWorkflowID("np"):
        assert parent() == "named-child"
    assert system_tables.steps("np")[0]["child_workflow_id"] == "named-child"
    child_row = system_tables.workflow("named-child")
    assert child_row is not None
    assert child_row["parent_workflow_id"] == "np"


def test_starting_a_step_runs_it_as_a_temp_workflow(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def triple(x: int) -> int:
        return 3 * x

    handle = DBOS.start_workflow(triple, 5)
    assert handle.get_result() == 15
    assert handle.get_status().name == f"<temp>.{triple.__qualname__}"

    @DBOS.workflow()
    def parent() -> int:
        return DBOS.start_workflow(triple, 7).get_result()

    with SetWorkflowID("tp"):
        assert parent() == 21
    child_row = system_tables.workflow("tp-1")
    assert child_row is not None
    assert child_row["name"] == f"<temp>.{triple.__qualname__}"
    assert child_row["parent_workflow_id"] == "tp"


def test_steps_may_not_start_or_call_workflows(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def inner() -> int:
        return 1

    @DBOS.step()
    def starts_inner() -> object:
        return DBOS.start_workflow(inner)

    @DBOS.step()
    def calls_inner() -> int:
        return inner()

    @DBOS.workflow()
    def outer(start: bool) -> object:
        return starts_inner() if start else calls_inner()

    with pytest.raises(AssertionError):
        outer(True)
    with pytest.raises(AssertionError):
        outer(False)
    assert {r["name"] for r in system_tables.workflows()} == {outer.__qualname__}


# ---------------------------------------------------------------- outcome ownership


def test_an_outcome_recorded_while_the_body_ran_wins_over_the_return_value(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def overruled() -> str:
        system_tables.execute(
            "UPDATE workflow_status SET status = 'SUCCESS', output = ?, serialization = ? "
            "WHERE workflow_uuid = ?",
            (pickled("recorded"), "py_pickle", DBOS.workflow_id),
        )
        return "mine"

    with SetWorkflowID("owned-success"):
        assert overruled() == "recorded"
    row = system_tables.workflow("owned-success")
    assert row is not None
    assert unpickled(row["output"]) == "recorded"
    assert DBOS.get_result("owned-success") == "recorded"


def test_an_error_recorded_while_the_body_ran_wins_over_the_return_value(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def overruled() -> str:
        system_tables.execute(
            "UPDATE workflow_status SET status = 'ERROR', error = ?, serialization = ? "
            "WHERE workflow_uuid = ?",
            (pickled(KeyError("recorded")), "py_pickle", DBOS.workflow_id),
        )
        return "mine"

    with SetWorkflowID("owned-error"), pytest.raises(KeyError, match="recorded"):
        overruled()
    row = system_tables.workflow("owned-error")
    assert row is not None
    assert row["status"] == "ERROR"
    assert row["output"] is None


def test_a_success_recorded_while_the_body_ran_wins_over_the_bodys_error(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def overruled() -> str:
        system_tables.execute(
            "UPDATE workflow_status SET status = 'SUCCESS', output = ?, serialization = ? "
            "WHERE workflow_uuid = ?",
            (pickled("recorded"), "py_pickle", DBOS.workflow_id),
        )
        raise InventoryError("mine")

    with SetWorkflowID("owned-over-error"):
        assert overruled() == "recorded"
    row = system_tables.workflow("owned-over-error")
    assert row is not None
    assert row["status"] == "SUCCESS"
    assert row["error"] is None


def test_a_workflow_cancelled_while_its_body_ran_stays_cancelled(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def cancelled_meanwhile() -> str:
        system_tables.execute(
            "UPDATE workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = ?",
            (DBOS.workflow_id,),
        )
        return "mine"

    with SetWorkflowID("owned-cancel"), pytest.raises(DBOSAwaitedWorkflowCancelledError):
        cancelled_meanwhile()
    row = system_tables.workflow("owned-cancel")
    assert row is not None
    assert row["status"] == "CANCELLED"
    assert row["output"] is None


def test_a_workflow_whose_row_vanished_while_it_ran_raises_nonexistent(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def deleted_meanwhile() -> str:
        system_tables.execute(
            "DELETE FROM workflow_status WHERE workflow_uuid = ?", (DBOS.workflow_id,)
        )
        return "mine"

    with SetWorkflowID("owned-deleted"), pytest.raises(DBOSNonExistentWorkflowError):
        deleted_meanwhile()
    assert system_tables.workflow("owned-deleted") is None


def test_a_workflow_re_enqueued_while_its_body_ran_returns_the_rerun_outcome(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def requeued() -> str:
        runs.append(1)
        if len(runs) == 1:
            # Another actor (a recovery sweep, a resume) puts the row back on a queue.
            system_tables.execute(
                "UPDATE workflow_status SET status = 'ENQUEUED', queue_name = ? "
                "WHERE workflow_uuid = ?",
                ("_dbos_internal_queue", DBOS.workflow_id),
            )
            assert state.runtime is not None
            state.runtime.wake_queues()  # rather than waiting for the runner's next poll
            return "first run"
        return "second run"

    results: list[object] = []
    done = threading.Event()

    def call() -> None:
        try:
            with SetWorkflowID("requeued"):
                results.append(requeued())
        except BaseException as exc:  # DBOS shutting down under a stuck caller
            results.append(exc)
        done.set()

    threading.Thread(target=call, daemon=True).start()
    assert done.wait(2), f"caller still waiting; row: {system_tables.workflow('requeued')}"
    assert results == ["second run"]
    assert len(runs) == 2
