"""Replay: every durable operation is checkpointed once, and a rerun sees the recorded answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from system_tables import SystemTables, launch, pickled, relaunch, unpickled

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSConflictingRegistrationError, DBOSUnexpectedStepError

FINISHED = {"SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED"}


def test_status_and_result_reads_inside_a_workflow_are_checkpointed(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def target() -> str:
        return "target-result"

    @DBOS.workflow()
    def observer(target_id: str) -> tuple[Any, ...]:
        handle = DBOS.retrieve_workflow(target_id)
        status = handle.get_status()
        missing = DBOS.get_workflow_status("no-such-workflow")
        return status.status, missing, DBOS.get_result(target_id)

    with SetWorkflowID("target"):
        target()
    with SetWorkflowID("observer"):
        assert observer("target") == ("SUCCESS", None, "target-result")

    rows = system_tables.steps("observer")
    assert [r["function_name"] for r in rows] == [
        "DBOS.getStatus",  # retrieve_workflow checks that the target exists
        "DBOS.getStatus",
        "DBOS.getStatus",
        "DBOS.getResult",
    ]
    assert rows[3]["child_workflow_id"] == "target"
    assert unpickled(rows[3]["output"]) == "target-result"
    assert unpickled(rows[2]["output"]) is None


def test_a_recovered_workflow_sees_the_recorded_status_not_the_current_one(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def target() -> str:
        return "done"

    @DBOS.workflow()
    def observer() -> str:
        status = DBOS.get_workflow_status("observed")
        return status.status if status is not None else "missing"

    launch(config)
    with SetWorkflowID("observed"):
        target()
    with SetWorkflowID("watcher"):
        assert observer() == "SUCCESS"
    system_tables.execute(
        "UPDATE workflow_status SET status = 'ERROR' WHERE workflow_uuid = ?", ("observed",)
    )
    system_tables.force_pending("watcher")
    relaunch(config)
    assert system_tables.wait_for_status("watcher", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("watcher") == "SUCCESS"


def test_a_recovered_wait_first_returns_the_recorded_choice(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def fast() -> str:
        return "fast"

    @DBOS.workflow()
    def slow() -> str:
        assert release.wait(10)
        return "slow"

    @DBOS.workflow()
    def racer() -> str:
        with SetWorkflowID("race-slow"):
            slow_handle = DBOS.start_workflow(slow)
        with SetWorkflowID("race-fast"):
            fast_handle = DBOS.start_workflow(fast)
        return DBOS.wait_first([slow_handle, fast_handle], polling_interval_sec=0.05).workflow_id

    launch(config)
    try:
        with SetWorkflowID("racer"):
            assert racer() == "race-fast"
    finally:
        release.set()
    system_tables.wait_for_status("race-slow", FINISHED)
    system_tables.force_pending("racer")
    relaunch(config)
    # Both have finished now; the replay must keep the first answer.
    system_tables.wait_for_status("racer", FINISHED)
    assert DBOS.get_result("racer") == "race-fast"


def test_a_different_child_at_a_recorded_id_raises_unexpected_step(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    use_new_code = [False]

    @DBOS.workflow()
    def old_child() -> str:
        return "old"

    @DBOS.workflow()
    def new_child() -> str:
        return "new"

    @DBOS.workflow()
    def parent() -> str:
        return new_child() if use_new_code[0] else old_child()

    launch(config)
    with SetWorkflowID("changing-parent"):
        assert parent() == "old"
    system_tables.force_pending("changing-parent")
    use_new_code[0] = True
    relaunch(config)
    system_tables.wait_for_status("changing-parent", FINISHED)
    with pytest.raises(DBOSUnexpectedStepError):
        DBOS.get_result("changing-parent")
    assert system_tables.workflow("changing-parent-1")["name"] == old_child.__qualname__  # type: ignore[index]


def test_a_recovered_temp_workflow_does_not_rerun_its_step(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    runs: list[int] = []

    @DBOS.step()
    def lone_step(x: int) -> int:
        runs.append(x)
        return x * 2

    launch(config)
    with SetWorkflowID("temp"):
        assert DBOS.start_workflow(lone_step, 21).get_result() == 42
    assert [r["function_name"] for r in system_tables.steps("temp")] == [lone_step.__qualname__]
    system_tables.force_pending("temp")
    relaunch(config)
    assert system_tables.wait_for_status("temp", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("temp") == 42
    assert runs == [21]


def test_calling_an_id_that_is_running_waits_for_it_instead_of_running_it_again(
    dbos: type[DBOS],
) -> None:
    runs: list[int] = []
    entered, release = threading.Event(), threading.Event()

    @DBOS.workflow()
    def slow(x: int) -> int:
        runs.append(x)
        entered.set()
        assert release.wait(10)
        return x

    results: list[int] = []
    done = threading.Event()

    def call_same_id() -> None:
        with SetWorkflowID("running"):
            results.append(slow(2))
        done.set()

    try:
        with SetWorkflowID("running"):
            handle = DBOS.start_workflow(slow, 1)
        assert entered.wait(10)
        threading.Thread(target=call_same_id, daemon=True).start()
        assert not done.wait(0.2)  # still waiting for the first run
    finally:
        release.set()
    assert handle.get_result() == 1
    assert done.wait(10)
    assert results == [1]
    assert runs == [1]


def test_losing_a_checkpoint_race_returns_the_winners_outcome(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    after_step: list[int] = []

    @DBOS.step()
    def contested() -> str:
        # Another execution of this workflow records this step and finishes first.
        workflow_id = DBOS.workflow_id
        system_tables.execute(
            "INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, "
            "serialization, started_at_epoch_ms, completed_at_epoch_ms) "
            "VALUES (?, 1, ?, ?, 'py_pickle', 1, 2)",
            (workflow_id, contested.__qualname__, pickled("theirs")),
        )
        system_tables.execute(
            "UPDATE workflow_status SET status = 'SUCCESS', output = ?, serialization = ? "
            "WHERE workflow_uuid = ?",
            (pickled("their result"), "py_pickle", workflow_id),
        )
        return "mine"

    @DBOS.workflow()
    def wf() -> str:
        value = contested()
        after_step.append(1)
        return value

    with SetWorkflowID("race-lost"):
        assert wf() == "their result"
    assert after_step == []
    assert unpickled(system_tables.steps("race-lost")[0]["output"]) == "theirs"


def test_losing_a_set_event_race_returns_the_winners_outcome(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    """A set_event's checkpoint is its event row: another execution's row at that function
    ID wins, and this execution's value is not written."""
    after_event: list[int] = []

    @DBOS.step()
    def before() -> None:
        # Another execution of this workflow sets the event (function 2) and finishes first.
        workflow_id = DBOS.workflow_id
        system_tables.execute(
            "INSERT INTO workflow_events_history (workflow_uuid, function_id, key, value, "
            "serialization, function_name, completed_at_epoch_ms) "
            "VALUES (?, 2, 'k', ?, 'py_pickle', 'DBOS.setEvent', 1)",
            (workflow_id, pickled("theirs")),
        )
        system_tables.execute(
            "UPDATE workflow_status SET status = 'SUCCESS', output = ?, serialization = ? "
            "WHERE workflow_uuid = ?",
            (pickled("their result"), "py_pickle", workflow_id),
        )

    @DBOS.workflow()
    def wf() -> str:
        before()
        DBOS.set_event("k", "mine")
        after_event.append(1)
        return "my result"

    with SetWorkflowID("event-race-lost"):
        assert wf() == "their result"
    assert after_event == []
    assert DBOS.get_event("event-race-lost", "k") == "theirs"


def test_rows_carry_the_application_name(
    dbos: type[DBOS], system_tables: SystemTables, config: DBOSConfig
) -> None:
    @DBOS.step()
    def step() -> None:
        return None

    @DBOS.workflow(name="renamed-workflow")
    def wf() -> None:
        step()

    with SetWorkflowID("named"):
        wf()
    row = system_tables.workflow("named")
    assert row is not None
    assert row["name"] == "renamed-workflow"
    assert row["application_name"] == config["name"]
    step_rows = system_tables.execute(
        "SELECT application_name FROM operation_outputs WHERE workflow_uuid = 'named'"
    )
    assert step_rows == [{"application_name": config["name"]}]
    versions = system_tables.execute(
        "SELECT version_name, application_name FROM application_versions"
    )
    assert versions == [{"version_name": DBOS.application_version, "application_name": "test-app"}]


def test_a_name_registered_as_a_step_cannot_be_reused_for_a_workflow(dbos: type[DBOS]) -> None:
    @DBOS.step(name="shared-name")
    def step() -> None:
        return None

    def body() -> None:
        return None

    with pytest.raises(DBOSConflictingRegistrationError):
        DBOS.workflow(name="<temp>.shared-name")(body)
