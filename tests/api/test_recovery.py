"""Recovery at launch: PENDING workflows of this executor and version are replayed to the end.

A crash is simulated without subprocesses: either a workflow is left blocked in a step when
DBOS is destroyed, or a finished workflow's row is forced back to PENDING (optionally with its
last checkpoints deleted), and DBOS is launched again over the same database.
"""

from __future__ import annotations

import threading

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import (
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSUnexpectedStepError,
)

FINISHED = {"SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED"}


class PaymentDeclined(Exception):
    pass


def test_a_pending_workflow_completes_after_relaunch_without_rerunning_completed_steps(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    calls: list[str] = []
    entered, release = threading.Event(), threading.Event()

    @DBOS.step()
    def reserve(item: str) -> str:
        calls.append("reserve")
        return f"reserved {item}"

    @DBOS.step()
    def charge(amount: int) -> str:
        calls.append("charge")
        if calls.count("charge") == 1:  # the first run "crashes" here
            entered.set()
            release.wait(10)
        return f"charged {amount}"

    @DBOS.workflow()
    def order(item: str, *, amount: int) -> str:
        return reserve(item) + ", " + charge(amount)

    launch(config)
    try:
        with SetWorkflowID("order-1"):
            DBOS.start_workflow(order, "book", amount=12)
        assert entered.wait(10)
        relaunch(config)
        system_tables.wait_for_status("order-1", FINISHED)
        assert DBOS.retrieve_workflow("order-1").get_result() == "reserved book, charged 12"
    finally:
        release.set()

    assert calls == ["reserve", "charge", "charge"]
    status = DBOS.get_workflow_status("order-1")
    assert status is not None
    assert status.status == "SUCCESS"
    assert status.recovery_attempts == 2
    assert status.executor_id == "local"
    # Recovery goes through the internal queue, even for a workflow that never had one.
    assert status.queue_name == "_dbos_internal_queue"
    assert [r["function_name"] for r in system_tables.steps("order-1")] == [
        reserve.__qualname__,
        charge.__qualname__,
    ]


def test_recovery_replays_recorded_outputs_and_errors_and_runs_only_the_rest(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    calls: list[str] = []

    @DBOS.step()
    def first() -> int:
        calls.append("first")
        return 1

    @DBOS.step()
    def declined() -> None:
        calls.append("declined")
        raise PaymentDeclined("card declined")

    @DBOS.step()
    def last() -> int:
        calls.append("last")
        return 100

    @DBOS.workflow()
    def wf() -> int:
        total = first()
        try:
            declined()
        except PaymentDeclined:
            total += 10
        return total + last()

    launch(config)
    with SetWorkflowID("replay"):
        assert wf() == 111
    # Crash "before" the last step: its checkpoint never happened.
    system_tables.execute(
        "DELETE FROM operation_outputs WHERE workflow_uuid = ? AND function_id = 3", ("replay",)
    )
    system_tables.force_pending("replay")
    relaunch(config)

    system_tables.wait_for_status("replay", FINISHED)
    assert DBOS.get_result("replay") == 111
    assert calls == ["first", "declined", "last", "last"]


def test_events_and_stream_values_a_workflow_wrote_are_not_written_again(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    """A set_event or write_stream made by the workflow is its own checkpoint; one made
    inside a step is not, so a step that published and died before its checkpoint runs
    again."""
    calls: list[str] = []

    @DBOS.step()
    def publishing_step() -> None:
        calls.append("publishing_step")
        DBOS.set_event("from-step", len(calls))

    @DBOS.workflow()
    def wf() -> str:
        DBOS.set_event("k", "v")
        DBOS.write_stream("s", "a")
        publishing_step()
        DBOS.close_stream("s")
        return "done"

    launch(config)
    with SetWorkflowID("publisher"):
        assert wf() == "done"
    # Crash inside the step: its event was set, its checkpoint and the rest never happened.
    # (The step is function 3; its event row stays, as the step wrote it before dying.)
    for table, first_lost in (
        ("operation_outputs", 3),
        ("streams", 3),
        ("workflow_events_history", 4),
    ):
        system_tables.execute(
            f"DELETE FROM {table} WHERE workflow_uuid = ? AND function_id >= ?",
            ("publisher", first_lost),
        )
    assert [s["function_name"] for s in system_tables.steps("publisher")] == [
        "DBOS.setEvent",
        "DBOS.writeStream",
    ]
    system_tables.force_pending("publisher")
    relaunch(config)

    system_tables.wait_for_status("publisher", FINISHED)
    assert DBOS.get_result("publisher") == "done"
    assert calls == ["publishing_step", "publishing_step"]
    history = system_tables.execute(
        "SELECT key, function_id FROM workflow_events_history WHERE workflow_uuid = ? ORDER BY key",
        ("publisher",),
    )
    assert history == [
        {"key": "from-step", "function_id": 3},
        {"key": "k", "function_id": 1},
    ]
    assert DBOS.get_event("publisher", "from-step") == 2
    assert list(DBOS.read_stream("publisher", "s")) == ["a"]
    assert [s["function_name"] for s in system_tables.steps("publisher")] == [
        "DBOS.setEvent",
        "DBOS.writeStream",
        publishing_step.__qualname__,
        "DBOS.closeStream",
    ]


def test_each_recovery_counts_one_attempt(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    with SetWorkflowID("attempts"):
        wf()
    seen = [system_tables.workflow("attempts")["recovery_attempts"]]  # type: ignore[index]
    for _ in range(2):
        system_tables.force_pending("attempts")
        relaunch(config)
        seen.append(system_tables.wait_for_status("attempts", FINISHED)["recovery_attempts"])
    assert seen == [1, 2, 3]


def test_a_child_called_by_a_recovered_parent_is_not_run_again(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    child_runs: list[int] = []

    @DBOS.workflow()
    def child(x: int) -> int:
        child_runs.append(x)
        return x * 2

    @DBOS.workflow()
    def parent() -> int:
        return child(4) + DBOS.start_workflow(child, 5).get_result()

    launch(config)
    with SetWorkflowID("rp"):
        assert parent() == 18
    system_tables.force_pending("rp")
    relaunch(config)
    system_tables.wait_for_status("rp", FINISHED)
    assert DBOS.get_result("rp") == 18
    assert child_runs == [4, 5]


def test_a_different_step_at_a_recorded_id_raises_unexpected_step(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    use_new_code = [False]

    @DBOS.step()
    def old_step() -> str:
        return "old"

    @DBOS.step()
    def new_step() -> str:
        return "new"

    @DBOS.workflow()
    def changing() -> str:
        return new_step() if use_new_code[0] else old_step()

    launch(config)
    with SetWorkflowID("nondeterministic"):
        assert changing() == "old"
    system_tables.force_pending("nondeterministic")
    use_new_code[0] = True
    relaunch(config)

    system_tables.wait_for_status("nondeterministic", FINISHED)
    with pytest.raises(DBOSUnexpectedStepError) as caught:
        DBOS.get_result("nondeterministic")
    message = str(caught.value)
    assert "nondeterministic" in message
    assert old_step.__qualname__ in message
    assert new_step.__qualname__ in message
    row = system_tables.workflow("nondeterministic")
    assert row is not None
    assert row["status"] == "ERROR"
    # The recorded step is left as it was.
    assert [r["function_name"] for r in system_tables.steps("nondeterministic")] == [
        old_step.__qualname__
    ]


def test_exceeding_max_recovery_attempts_dead_letters_the_workflow(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    runs: list[int] = []

    @DBOS.workflow(max_recovery_attempts=2)
    def fragile() -> str:
        runs.append(1)
        return "ok"

    launch(config)
    with SetWorkflowID("dlq"):
        fragile()
    for expected_attempts in (2, 3):  # the original run plus two recoveries are allowed
        system_tables.force_pending("dlq")
        relaunch(config)
        row = system_tables.wait_for_status("dlq", FINISHED)
        assert (row["status"], row["recovery_attempts"]) == ("SUCCESS", expected_attempts)

    system_tables.force_pending("dlq")
    relaunch(config)
    row = system_tables.wait_for_status("dlq", FINISHED)
    assert row["status"] == "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    assert row["completed_at"] is not None
    assert row["queue_name"] is None
    assert len(runs) == 3

    with pytest.raises(DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded):
        DBOS.get_result("dlq")
    with pytest.raises(DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded):
        DBOS.retrieve_workflow("dlq").get_result()
    with SetWorkflowID("dlq"), pytest.raises(DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded):
        fragile()
    assert len(runs) == 3


@pytest.mark.parametrize(
    ("recorded_attempts", "expected"),
    [(100, "SUCCESS"), (101, "MAX_RECOVERY_ATTEMPTS_EXCEEDED")],
)
def test_the_default_limit_allows_one_hundred_recoveries(
    clean_dbos: None,
    config: DBOSConfig,
    system_tables: SystemTables,
    recorded_attempts: int,
    expected: str,
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    with SetWorkflowID("default-limit"):
        wf()
    system_tables.force_pending("default-limit")
    system_tables.execute(
        "UPDATE workflow_status SET recovery_attempts = ? WHERE workflow_uuid = ?",
        (recorded_attempts, "default-limit"),
    )
    relaunch(config)
    assert system_tables.wait_for_status("default-limit", FINISHED)["status"] == expected


def test_unlimited_recovery_attempts_never_dead_letter(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow(max_recovery_attempts=None)
    def wf() -> str:
        return "ok"

    launch(config)
    with SetWorkflowID("unlimited"):
        wf()
    system_tables.force_pending("unlimited")
    system_tables.execute(
        "UPDATE workflow_status SET recovery_attempts = 100000 WHERE workflow_uuid = ?",
        ("unlimited",),
    )
    relaunch(config)
    assert system_tables.wait_for_status("unlimited", FINISHED)["status"] == "SUCCESS"


def test_workflows_of_another_application_version_are_not_recovered(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    runs: list[str] = []

    @DBOS.workflow()
    def versioned() -> str:
        runs.append(DBOS.application_version)
        return "ok"

    v1: DBOSConfig = {**config, "application_version": "v1"}
    v2: DBOSConfig = {**config, "application_version": "v2"}
    DBOS(config=v1)
    DBOS.launch()
    with SetWorkflowID("old-version"):
        versioned()
    system_tables.force_pending("old-version")

    relaunch(v2)  # recovery runs inside launch, so by now it has decided
    row = system_tables.workflow("old-version")
    assert row is not None
    assert (row["status"], row["queue_name"], row["recovery_attempts"]) == ("PENDING", None, 1)

    relaunch(v1)  # its own version does recover it
    assert system_tables.wait_for_status("old-version", FINISHED)["status"] == "SUCCESS"
    assert runs == ["v1", "v1"]


def test_workflows_of_another_executor_are_not_recovered(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    DBOS(config={**config, "application_version": "fixed"})
    DBOS.launch()
    with SetWorkflowID("elsewhere"):
        wf()
    system_tables.force_pending("elsewhere")
    system_tables.execute(
        "UPDATE workflow_status SET executor_id = 'other-executor' WHERE workflow_uuid = ?",
        ("elsewhere",),
    )

    relaunch({**config, "application_version": "fixed"})
    row = system_tables.workflow("elsewhere")
    assert row is not None
    assert (row["status"], row["queue_name"]) == ("PENDING", None)

    relaunch({**config, "application_version": "fixed", "executor_id": "other-executor"})
    row = system_tables.wait_for_status("elsewhere", FINISHED)
    assert row["status"] == "SUCCESS"
    assert row["executor_id"] == "other-executor"


def test_a_parent_and_its_unfinished_child_both_recover(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    calls: list[str] = []
    entered, release = threading.Event(), threading.Event()

    @DBOS.step()
    def prepare() -> int:
        calls.append("prepare")
        return 1

    @DBOS.step()
    def work(x: int) -> int:
        calls.append("work")
        if calls.count("work") == 1:  # the process "dies" while the child runs
            entered.set()
            release.wait(10)
        return x + 1

    @DBOS.workflow()
    def child(x: int) -> int:
        return work(x)

    @DBOS.workflow()
    def parent() -> int:
        return child(prepare()) * 10

    launch(config)
    try:
        with SetWorkflowID("crash-parent"):
            DBOS.start_workflow(parent)
        assert entered.wait(10)
        relaunch(config)
        assert system_tables.wait_for_status("crash-parent", FINISHED)["status"] == "SUCCESS"
    finally:
        release.set()
    assert DBOS.get_result("crash-parent") == 20
    assert DBOS.get_result("crash-parent-2") == 2
    assert calls == ["prepare", "work", "work"]
    assert [r["function_name"] for r in system_tables.steps("crash-parent")] == [
        prepare.__qualname__,
        child.__qualname__,
        "DBOS.getResult",
    ]


def test_validate_args_runs_on_recovery_but_not_on_direct_calls(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    seen: list[tuple[object, ...]] = []
    validated: list[tuple[object, ...]] = []

    def validate(
        args: tuple[object, ...], kwargs: dict[str, object]
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        validated.append(args)
        if args == ("reject",):
            raise ValueError("rejected by the validator")
        return tuple(str(a).upper() for a in args), kwargs

    @DBOS.workflow(validate_args=validate)
    def shout(word: str) -> str:
        seen.append((word,))
        return word

    launch(config)
    with SetWorkflowID("validated"):
        assert shout("hi") == "hi"
    with SetWorkflowID("rejected"):
        assert shout("reject") == "reject"
    assert validated == []

    system_tables.force_pending("validated")
    system_tables.force_pending("rejected")
    relaunch(config)
    assert system_tables.wait_for_status("validated", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("validated") == "HI"
    assert system_tables.wait_for_status("rejected", FINISHED)["status"] == "ERROR"
    with pytest.raises(ValueError, match="rejected by the validator"):
        DBOS.get_result("rejected")
    assert sorted(validated) == [("hi",), ("reject",)]
    assert seen == [("hi",), ("reject",), ("HI",)]
