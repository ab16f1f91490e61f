"""Steps through the public API: checkpoints, retries, step status, inline and plain calls."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from system_tables import SystemTables, unpickled

from dbos import DBOS, SetWorkflowID
from dbos.error import DBOSException, DBOSMaxStepRetriesExceeded


class FlakyError(Exception):
    pass


class FatalError(Exception):
    pass


def test_step_retries_until_it_succeeds_and_reports_its_attempts(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    statuses: list[Any] = []

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0)
    def flaky() -> str:
        statuses.append(DBOS.step_status)
        if len(statuses) < 3:
            raise FlakyError("not yet")
        return "done"

    @DBOS.workflow()
    def wf() -> str:
        return flaky()

    with SetWorkflowID("retry-ok"):
        assert wf() == "done"
    assert [(s.step_id, s.current_attempt, s.max_attempts) for s in statuses] == [
        (1, 0, 3),
        (1, 1, 3),
        (1, 2, 3),
    ]
    rows = system_tables.steps("retry-ok")
    assert len(rows) == 1
    assert unpickled(rows[0]["output"]) == "done"
    assert rows[0]["error"] is None


def test_exhausted_retries_raise_max_step_retries_exceeded_with_every_error(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    attempts: list[int] = []

    @DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0)
    def always_fails() -> None:
        attempts.append(len(attempts))
        raise FlakyError(f"attempt {len(attempts)}")

    @DBOS.workflow()
    def wf() -> None:
        always_fails()

    with SetWorkflowID("retry-exhausted"), pytest.raises(DBOSMaxStepRetriesExceeded) as caught:
        wf()
    assert attempts == [0, 1, 2, 3]
    exc = caught.value
    assert "exceeded its maximum of 4 retries" in str(exc)
    assert always_fails.__qualname__ in str(exc)
    assert [str(e) for e in exc.errors] == ["attempt 1", "attempt 2", "attempt 3", "attempt 4"]
    assert all(isinstance(e, FlakyError) for e in exc.errors)

    step_row = system_tables.steps("retry-exhausted")[0]
    recorded = unpickled(step_row["error"])
    assert isinstance(recorded, DBOSMaxStepRetriesExceeded)
    assert len(recorded.errors) == 4
    with pytest.raises(DBOSMaxStepRetriesExceeded):
        DBOS.get_result("retry-exhausted")


def test_should_retry_false_reraises_the_original_error_immediately(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    seen: list[BaseException] = []
    attempts: list[str] = []

    def only_flaky(exc: BaseException) -> bool:
        seen.append(exc)
        return isinstance(exc, FlakyError)

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0, should_retry=only_flaky)
    def flaky_then_fatal() -> None:
        attempts.append("x")
        if len(attempts) == 1:
            raise FlakyError("transient")
        raise FatalError("give up")

    @DBOS.workflow()
    def wf() -> None:
        flaky_then_fatal()

    with SetWorkflowID("no-retry"), pytest.raises(FatalError, match="give up"):
        wf()
    assert len(attempts) == 2
    assert [type(e) for e in seen] == [FlakyError, FatalError]
    assert isinstance(unpickled(system_tables.steps("no-retry")[0]["error"]), FatalError)


def test_async_should_retry_on_a_sync_step_is_refused(dbos: type[DBOS]) -> None:
    async def predicate(exc: BaseException) -> bool:
        return True

    @DBOS.step(retries_allowed=True, max_attempts=2, interval_seconds=0, should_retry=predicate)
    def fails() -> None:
        raise FlakyError("x")

    @DBOS.workflow()
    def wf() -> None:
        fails()

    with pytest.raises(DBOSException):
        wf()


def test_a_step_that_does_not_allow_retries_runs_once(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    attempts: list[Any] = []

    @DBOS.step(max_attempts=5, interval_seconds=0)
    def fails() -> None:
        attempts.append(DBOS.step_status)
        raise FlakyError("once")

    @DBOS.workflow()
    def wf() -> None:
        fails()

    with SetWorkflowID("no-retries-allowed"), pytest.raises(FlakyError):
        wf()
    assert len(attempts) == 1
    assert (attempts[0].current_attempt, attempts[0].max_attempts) == (None, None)
    assert isinstance(unpickled(system_tables.steps("no-retries-allowed")[0]["error"]), FlakyError)


def test_retry_waits_grow_by_the_backoff_rate_with_no_wait_after_the_last_attempt(
    dbos: type[DBOS], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    test_thread = threading.get_ident()
    real_sleep = time.sleep

    def fake_sleep(seconds: float) -> None:
        if threading.get_ident() == test_thread:
            waits.append(seconds)
        else:
            real_sleep(seconds)

    @DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=1.5, backoff_rate=3)
    def always_fails() -> None:
        raise FlakyError("x")

    @DBOS.workflow()
    def wf() -> None:
        always_fails()

    monkeypatch.setattr(time, "sleep", fake_sleep)
    with pytest.raises(DBOSMaxStepRetriesExceeded):
        wf()
    monkeypatch.undo()
    assert waits == [1.5, 4.5, 13.5]


def test_a_step_outside_a_workflow_is_a_plain_call_without_retries_or_rows(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    attempts: list[Any] = []

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0)
    def fails() -> None:
        attempts.append((DBOS.workflow_id, DBOS.step_id, DBOS.step_status))
        raise FlakyError("plain")

    @DBOS.step()
    def works(x: int) -> int:
        return x + 1

    with pytest.raises(FlakyError, match="plain"):
        fails()
    assert attempts == [(None, None, None)]
    assert works(1) == 2
    assert system_tables.workflows() == []
    assert system_tables.all_steps() == []


def test_a_step_called_from_a_step_runs_inline_as_part_of_it(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    inner_seen: list[Any] = []

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0)
    def inner() -> str:
        inner_seen.append((DBOS.workflow_id, DBOS.step_id))
        if len(inner_seen) == 1:
            raise FlakyError("inner fails once, but it does not retry on its own")
        return "inner"

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0)
    def outer() -> str:
        return "outer+" + inner()

    @DBOS.workflow()
    def wf() -> str:
        return outer()

    with SetWorkflowID("nested-steps"):
        assert wf() == "outer+inner"
    # inner's first failure failed an attempt of outer; outer's retry called inner again.
    assert inner_seen == [("nested-steps", 1), ("nested-steps", 1)]
    rows = system_tables.steps("nested-steps")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [(1, outer.__qualname__)]


def test_run_step_checkpoints_an_arbitrary_callable(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    calls: list[int] = []

    def add(a: int, b: int) -> int:
        calls.append(a)
        return a + b

    @DBOS.workflow()
    def wf() -> int:
        first = DBOS.run_step(None, add, 1, b=2)
        second = DBOS.run_step({"name": "named-add"}, add, 10, 20)
        return first + second

    with SetWorkflowID("run-step"):
        assert wf() == 33
    with SetWorkflowID("run-step"):
        assert wf() == 33
    assert calls == [1, 10]
    rows = system_tables.steps("run-step")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [
        (1, add.__qualname__),
        (2, "named-add"),
    ]
    # Outside a workflow it is a plain call.
    assert DBOS.run_step(None, add, 5, 5) == 10
    assert len(system_tables.workflows()) == 1


def test_run_step_honours_retry_options(dbos: type[DBOS]) -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 2:
            raise FlakyError("x")
        return "ok"

    @DBOS.workflow()
    def wf() -> str:
        return DBOS.run_step(
            {"retries_allowed": True, "max_attempts": 2, "interval_seconds": 0}, flaky
        )

    assert wf() == "ok"
    assert len(attempts) == 2


def test_a_step_output_that_cannot_be_serialized_fails_the_step(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def returns_a_lock() -> threading.Lock:
        return threading.Lock()

    @DBOS.workflow()
    def wf() -> None:
        returns_a_lock()

    with SetWorkflowID("bad-step-output"), pytest.raises(TypeError):
        wf()
    row = system_tables.steps("bad-step-output")[0]
    assert row["output"] is None
    assert isinstance(unpickled(row["error"]), TypeError)
    workflow_row = system_tables.workflow("bad-step-output")
    assert workflow_row is not None
    assert workflow_row["status"] == "ERROR"


def test_a_caught_step_error_does_not_fail_the_workflow(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def fails() -> None:
        raise FatalError("handled")

    @DBOS.step()
    def fallback() -> str:
        return "fallback"

    @DBOS.workflow()
    def wf() -> str:
        try:
            fails()
        except FatalError:
            return fallback()
        return "unreachable"

    with SetWorkflowID("caught-step-error"):
        assert wf() == "fallback"
    rows = system_tables.steps("caught-step-error")
    assert [r["function_name"] for r in rows] == [fails.__qualname__, fallback.__qualname__]
    assert isinstance(unpickled(rows[0]["error"]), FatalError)
    workflow_row = system_tables.workflow("caught-step-error")
    assert workflow_row is not None
    assert workflow_row["status"] == "SUCCESS"


def test_a_retrying_step_with_one_attempt_still_reports_exhausted_retries(
    dbos: type[DBOS],
) -> None:
    statuses: list[Any] = []

    @DBOS.step(retries_allowed=True, max_attempts=1, interval_seconds=0)
    def fails() -> None:
        statuses.append(DBOS.step_status)
        raise FlakyError("only try")

    @DBOS.workflow()
    def wf() -> None:
        fails()

    with pytest.raises(DBOSMaxStepRetriesExceeded) as caught:
        wf()
    assert len(caught.value.errors) == 1
    assert [(s.current_attempt, s.max_attempts) for s in statuses] == [(0, 1)]


def test_many_concurrent_workflows_each_record_their_own_steps(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    count = 24
    all_started = threading.Barrier(count)

    @DBOS.step()
    def add(x: int, y: int) -> int:
        return x + y

    @DBOS.workflow()
    def wf(i: int) -> int:
        all_started.wait(10)  # every workflow is in flight at once
        return add(add(i, 1), add(i, 2))

    handles = []
    for i in range(count):
        with SetWorkflowID(f"many-{i:02}"):
            handles.append(DBOS.start_workflow(wf, i))
    assert [h.get_result() for h in handles] == [2 * i + 3 for i in range(count)]
    steps = system_tables.all_steps()
    assert len(steps) == 3 * count
    for i in range(count):
        rows = system_tables.steps(f"many-{i:02}")
        assert [unpickled(r["output"]) for r in rows] == [i + 1, i + 2, 2 * i + 3]
