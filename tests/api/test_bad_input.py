"""Bad input is refused early: unstorable arguments, empty IDs, invalid options."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from system_tables import SystemTables

from dbos import DBOS, SetWorkflowID
from dbos.error import DBOSException, DBOSWorkflowFunctionNotFoundError


def test_unserializable_workflow_arguments_raise_and_leave_no_row(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    ran: list[int] = []

    @DBOS.workflow()
    def wf(value: Any) -> None:
        ran.append(1)

    with SetWorkflowID("bad-arg-call"), pytest.raises(TypeError):
        wf(threading.Lock())
    with SetWorkflowID("bad-arg-start"), pytest.raises(TypeError):
        DBOS.start_workflow(wf, threading.Lock())
    assert ran == []
    assert system_tables.workflows() == []


def test_a_child_with_unserializable_arguments_fails_in_the_parent_without_rows(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child(value: Any) -> None:
        return None

    @DBOS.workflow()
    def parent() -> str:
        try:
            child(threading.Lock())
        except TypeError:
            return "refused"
        return "accepted"

    with SetWorkflowID("bad-child-parent"):
        assert parent() == "refused"
    assert [r["workflow_uuid"] for r in system_tables.workflows()] == ["bad-child-parent"]
    assert system_tables.steps("bad-child-parent") == []


@pytest.mark.parametrize("workflow_id", ["", "   ", "\t\n"])
def test_an_empty_workflow_id_is_refused(dbos: type[DBOS], workflow_id: str) -> None:
    with pytest.raises(DBOSException, match="Invalid workflow ID"):
        SetWorkflowID(workflow_id)


def test_an_unknown_reuse_policy_is_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSException):
        SetWorkflowID("x", workflow_id_reuse_policy="overwrite")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"max_attempts": -1},
        {"max_attempts": 1.5},
        {"interval_seconds": -1},
        {"interval_seconds": float("nan")},
        {"interval_seconds": float("inf")},
        {"backoff_rate": -2},
        {"backoff_rate": float("nan")},
        {"timeout_seconds": 5},  # only async steps may have a timeout
    ],
)
def test_invalid_step_options_are_refused_at_decoration(
    dbos: type[DBOS], options: dict[str, Any]
) -> None:
    def body() -> None:
        return None

    with pytest.raises(DBOSException):
        DBOS.step(retries_allowed=True, **options)(body)


def test_invalid_run_step_options_are_refused(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def wf() -> None:
        DBOS.run_step({"max_attempt": 3}, print)  # type: ignore[typeddict-unknown-key]

    with pytest.raises(DBOSException):
        wf()
    with pytest.raises(DBOSException):
        DBOS.run_step({"max_attempts": 0, "retries_allowed": True}, print)


def test_a_negative_max_recovery_attempts_is_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSException):
        DBOS.workflow(max_recovery_attempts=-1)


def test_starting_an_unregistered_function_is_refused(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    def plain() -> int:
        return 1

    with pytest.raises(DBOSWorkflowFunctionNotFoundError):
        DBOS.start_workflow(plain)
    assert system_tables.workflows() == []
