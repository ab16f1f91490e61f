"""Workflow timeouts and deadlines: cooperative cancellation at the next durable operation."""

from __future__ import annotations

import threading
import time

import pytest
from system_tables import SystemTables, launch, relaunch, wait_until

from dbos import DBOS, DBOSConfig, SetWorkflowID, SetWorkflowTimeout
from dbos.error import DBOSAwaitedWorkflowCancelledError


def busy_workflow(steps_run: list[int]) -> object:
    """A workflow that keeps taking durable steps until it is stopped (at most ~10 s)."""

    @DBOS.step()
    def work(i: int) -> int:
        threading.Event().wait(0.02)  # the work itself takes a little while
        steps_run.append(i)
        return i

    @DBOS.workflow()
    def busy() -> int:
        for i in range(500):
            work(i)
        return -1

    return busy


def test_a_timed_out_direct_call_raises_awaited_cancelled(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    steps_run: list[int] = []
    busy = busy_workflow(steps_run)
    started = time.monotonic()
    with SetWorkflowID("timed"), SetWorkflowTimeout(0.3):
        with pytest.raises(DBOSAwaitedWorkflowCancelledError):
            busy()  # type: ignore[operator]
    assert time.monotonic() - started < 5
    row = system_tables.workflow("timed")
    assert row is not None and row["status"] == "CANCELLED"
    assert row["workflow_timeout_ms"] == 300
    assert row["workflow_deadline_epoch_ms"] - row["created_at"] in range(300, 400)
    ran = len(steps_run)
    assert 0 < ran < 500
    # Cancelled means stopped: nothing more runs afterwards.
    assert len(steps_run) == ran


def test_a_started_workflow_times_out_and_its_handle_reports_cancelled(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    busy = busy_workflow([])
    with SetWorkflowTimeout(0.2):
        handle = DBOS.start_workflow(busy)  # type: ignore[arg-type]
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    assert handle.get_status().status == "CANCELLED"


def test_children_inherit_the_parents_absolute_deadline_unless_overridden(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child() -> int | None:
        status = DBOS.get_workflow_status(DBOS.workflow_id or "")
        return None if status is None else status.workflow_deadline_epoch_ms

    @DBOS.workflow()
    def parent() -> tuple[int | None, int | None, int | None]:
        inherited = child()
        with SetWorkflowTimeout(None):
            cleared = child()
        with SetWorkflowTimeout(60):
            own = child()
        return inherited, cleared, own

    with SetWorkflowID("parent"), SetWorkflowTimeout(30):
        inherited, cleared, own = parent()
    parent_row = system_tables.workflow("parent")
    assert parent_row is not None
    assert inherited == parent_row["workflow_deadline_epoch_ms"]
    assert cleared is None
    assert own is not None and own - parent_row["workflow_deadline_epoch_ms"] > 20_000
    # The timeout itself is not propagated: only the absolute deadline is.
    child_row = system_tables.workflow("parent-1")
    assert child_row is not None and child_row["workflow_timeout_ms"] is None


def test_invalid_timeouts_are_refused() -> None:
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(Exception, match="Invalid workflow timeout"):
            SetWorkflowTimeout(bad)


def test_a_deadline_survives_recovery(
    config: DBOSConfig, clean_dbos: None, system_tables: SystemTables
) -> None:
    release = threading.Event()

    @DBOS.step()
    def block() -> None:
        release.wait(10)

    @DBOS.step()
    def after() -> None:
        return None

    @DBOS.workflow()
    def slow() -> None:
        block()
        for _ in range(500):
            after()
            threading.Event().wait(0.01)

    launch(config)
    with SetWorkflowID("slow"), SetWorkflowTimeout(0.5):
        DBOS.start_workflow(slow)
    wait_until(lambda: (system_tables.workflow("slow") or {}).get("status") == "PENDING")
    deadline = system_tables.workflow("slow")["workflow_deadline_epoch_ms"]  # type: ignore[index]
    release.set()
    relaunch(config)  # the original run is gone with the old runtime; recovery runs it again
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        DBOS.retrieve_workflow("slow").get_result()
    row = system_tables.workflow("slow")
    assert row is not None and row["status"] == "CANCELLED"
    assert row["workflow_deadline_epoch_ms"] == deadline
