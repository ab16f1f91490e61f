"""Async steps through the public API, on both backends: nesting, timeouts, preemption by a
cancelled workflow, async retry predicates and DBOS.run_step_async.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from async_harness import (
    FINISHED,
    drop_steps_from,
    never,
    run,
    set_cancelled_in_sql,
    status_of,
    step_names,
)
from system_tables import SystemTables, launch, relaunch, unpickled

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos._api.state import state
from dbos._runtime import async_steps
from dbos.error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSException,
    DBOSMaxStepRetriesExceeded,
    DBOSStepTimeoutError,
)


class FlakyError(Exception):
    pass


class FatalError(Exception):
    pass


def test_an_async_step_called_from_an_async_step_is_part_of_it(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    inner_seen: list[tuple[str | None, int | None]] = []

    @DBOS.step()
    async def inner() -> str:
        inner_seen.append((DBOS.workflow_id, DBOS.step_id))
        return "inner"

    @DBOS.step(timeout_seconds=10)  # the timeout runs the body in a task of its own
    async def outer() -> str:
        return "outer+" + await inner()

    @DBOS.workflow()
    async def wf() -> str:
        return await outer()

    async def main() -> str:
        with SetWorkflowID("nested-async-steps"):
            return await wf()

    assert run(main) == "outer+inner"
    assert inner_seen == [("nested-async-steps", 1)]
    assert step_names(system_tables, "nested-async-steps") == [(1, outer.__qualname__)]


# ---------------------------------------------------------------- step timeouts


def test_an_async_step_that_exceeds_its_timeout_records_a_step_timeout_error(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    cancelled: list[bool] = []

    @DBOS.step(timeout_seconds=0.05)
    async def stuck() -> None:
        try:
            await never()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    @DBOS.workflow()
    async def wf() -> None:
        await stuck()

    async def main() -> None:
        with SetWorkflowID("step-timeout"), pytest.raises(DBOSStepTimeoutError) as caught:
            await wf()
        assert caught.value.step_name == stuck.__qualname__
        assert caught.value.timeout_seconds == 0.05

    run(main)
    assert cancelled == [True]  # the step's task was cancelled, not left running
    rows = system_tables.steps("step-timeout")
    assert [r["function_name"] for r in rows] == [stuck.__qualname__]
    recorded = unpickled(rows[0]["error"])
    assert isinstance(recorded, DBOSStepTimeoutError)
    assert (recorded.step_name, recorded.timeout_seconds) == (stuck.__qualname__, 0.05)
    assert status_of(system_tables, "step-timeout") == "ERROR"


def test_a_recorded_step_timeout_is_replayed_without_running_the_step_again(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    attempts: list[str] = []

    @DBOS.step(timeout_seconds=0.05)
    async def stuck() -> None:
        attempts.append("ran")
        await never()

    @DBOS.step()
    async def after() -> str:
        return "after"

    @DBOS.workflow()
    async def wf() -> str:
        try:
            await stuck()
        except DBOSStepTimeoutError as exc:
            return f"timed out after {exc.timeout_seconds}s, then {await after()}"
        return "unreachable"

    launch(config)

    async def main() -> str:
        with SetWorkflowID("timeout-replay"):
            return await wf()

    assert run(main) == "timed out after 0.05s, then after"
    system_tables.force_pending("timeout-replay")
    drop_steps_from(system_tables, "timeout-replay", 2)
    relaunch(config)
    system_tables.wait_for_status("timeout-replay", FINISHED)
    assert DBOS.get_result("timeout-replay") == "timed out after 0.05s, then after"
    assert attempts == ["ran"]
    assert step_names(system_tables, "timeout-replay") == [
        (1, stuck.__qualname__),
        (2, after.__qualname__),
    ]


def test_each_retry_attempt_of_a_timed_step_gets_a_fresh_deadline(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    attempts: list[int | None] = []

    @DBOS.step(timeout_seconds=0.2, retries_allowed=True, max_attempts=3, interval_seconds=0)
    async def slow_then_fast() -> int:
        status = DBOS.step_status
        assert status is not None
        attempts.append(status.current_attempt)
        if status.current_attempt != 2:
            await never()
        # A quarter of one deadline: it fits in a fresh deadline, but a deadline shared by
        # all attempts ran out during the first.
        await asyncio.sleep(0.05)
        return 2

    @DBOS.workflow()
    async def wf() -> int:
        return await slow_then_fast()

    async def main() -> int:
        with SetWorkflowID("fresh-deadline"):
            return await wf()

    assert run(main) == 2
    assert attempts == [0, 1, 2]
    rows = system_tables.steps("fresh-deadline")
    assert len(rows) == 1
    assert unpickled(rows[0]["output"]) == 2


def test_a_step_that_times_out_on_every_attempt_exhausts_its_retries(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step(timeout_seconds=0.02, retries_allowed=True, max_attempts=2, interval_seconds=0)
    async def stuck() -> None:
        await never()

    @DBOS.workflow()
    async def wf() -> None:
        await stuck()

    async def main() -> None:
        with (
            SetWorkflowID("timeout-exhausted"),
            pytest.raises(DBOSMaxStepRetriesExceeded) as caught,
        ):
            await wf()
        assert len(caught.value.errors) == 2
        assert all(isinstance(e, DBOSStepTimeoutError) for e in caught.value.errors)

    run(main)
    recorded = unpickled(system_tables.steps("timeout-exhausted")[0]["error"])
    assert isinstance(recorded, DBOSMaxStepRetriesExceeded)


def test_a_timeout_error_raised_by_the_step_itself_is_not_a_step_timeout(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step(timeout_seconds=30)
    async def calls_upstream() -> None:
        raise asyncio.TimeoutError("the upstream service timed out")

    @DBOS.workflow()
    async def wf() -> str:
        try:
            await calls_upstream()
        except DBOSStepTimeoutError:
            return "step timeout"
        except asyncio.TimeoutError as exc:
            return f"upstream: {exc}"
        return "unreachable"

    async def main() -> str:
        with SetWorkflowID("upstream-timeout"):
            return await wf()

    assert run(main) == "upstream: the upstream service timed out"
    error = unpickled(system_tables.steps("upstream-timeout")[0]["error"])
    assert not isinstance(error, DBOSStepTimeoutError)


def test_a_step_timeout_is_inert_outside_a_workflow(dbos: type[DBOS]) -> None:
    @DBOS.step(timeout_seconds=0.01)
    async def outlasts_its_timeout() -> str:
        await asyncio.sleep(0.05)
        return "finished"

    assert run(outlasts_its_timeout) == "finished"


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan")])
def test_an_async_step_timeout_must_be_finite_and_positive(
    dbos: type[DBOS], timeout: float
) -> None:
    async def body() -> None:
        return None

    with pytest.raises(DBOSException, match="timeout_seconds"):
        DBOS.step(timeout_seconds=timeout)(body)


def test_timeout_and_preemptible_are_refused_on_sync_steps_at_decoration(
    dbos: type[DBOS],
) -> None:
    def body() -> None:
        return None

    with pytest.raises(DBOSException, match="timeout_seconds"):
        DBOS.step(timeout_seconds=1.0)(body)
    with pytest.raises(DBOSException, match="preemptible"):
        DBOS.step(preemptible=True)(body)
    with pytest.raises(DBOSException, match="timeout_seconds"):
        DBOS.run_step({"timeout_seconds": 1.0}, body)
    with pytest.raises(DBOSException, match="preemptible"):
        DBOS.run_step({"preemptible": True}, body)


# ---------------------------------------------------------------- preemptible steps


@pytest.mark.parametrize("cancelled_by", ["another process (SQL)", "this process (flag)"])
def test_a_cancelled_workflow_preempts_its_preemptible_step_and_records_nothing(
    dbos: type[DBOS],
    system_tables: SystemTables,
    monkeypatch: pytest.MonkeyPatch,
    cancelled_by: str,
) -> None:
    monkeypatch.setattr(async_steps, "PREEMPT_POLL_SECONDS", 0.02)
    entered, preempted = asyncio.Event(), asyncio.Event()
    after_ran: list[bool] = []

    @DBOS.step(preemptible=True)
    async def long_job() -> str:
        entered.set()
        try:
            await never()
        except asyncio.CancelledError:
            preempted.set()
            raise
        return "unreachable"

    @DBOS.step()
    async def after() -> None:
        after_ran.append(True)

    @DBOS.workflow()
    async def wf() -> str:
        await long_job()
        await after()
        return "done"

    async def main() -> None:
        with SetWorkflowID("preempted"):
            handle = await DBOS.start_workflow_async(wf)
        await asyncio.wait_for(entered.wait(), 10)
        if cancelled_by.endswith("(flag)"):
            runtime = state.runtime
            assert runtime is not None
            runtime.cancelled.add("preempted")
            await asyncio.wait_for(preempted.wait(), 10)
            # Only now does the row say so: the step must have stopped on the flag alone.
            assert status_of(system_tables, "preempted") == "PENDING"
            set_cancelled_in_sql(system_tables, "preempted")
        else:
            set_cancelled_in_sql(system_tables, "preempted")
            await asyncio.wait_for(preempted.wait(), 10)
        with pytest.raises(DBOSAwaitedWorkflowCancelledError):
            await handle.get_result(polling_interval_sec=0.02)

    run(main)
    assert system_tables.steps("preempted") == []
    assert after_ran == []
    assert status_of(system_tables, "preempted") == "CANCELLED"


def test_a_preempted_step_runs_again_when_its_workflow_runs_again(
    clean_dbos: None,
    config: DBOSConfig,
    system_tables: SystemTables,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(async_steps, "PREEMPT_POLL_SECONDS", 0.02)
    entered, preempted = threading.Event(), threading.Event()
    runs: list[str] = []

    @DBOS.step(preemptible=True)
    async def long_job() -> str:
        runs.append("long_job")
        if len(runs) == 1:
            entered.set()
            try:
                await never()
            except asyncio.CancelledError:
                preempted.set()
                raise
        return "job done"

    @DBOS.workflow()
    async def wf() -> str:
        return await long_job()

    launch(config)
    with SetWorkflowID("preempt-rerun"):
        DBOS.start_workflow(wf)
    assert entered.wait(10)
    set_cancelled_in_sql(system_tables, "preempt-rerun")
    assert preempted.wait(10)
    system_tables.wait_for_status("preempt-rerun", {"CANCELLED"})
    assert system_tables.steps("preempt-rerun") == []
    # What resume will do: put the row back to PENDING; here recovery then runs it again.
    system_tables.force_pending("preempt-rerun")
    relaunch(config)
    system_tables.wait_for_status("preempt-rerun", FINISHED)
    assert DBOS.get_result("preempt-rerun") == "job done"
    assert runs == ["long_job", "long_job"]
    assert step_names(system_tables, "preempt-rerun") == [(1, long_job.__qualname__)]


def test_a_cancellation_outranks_a_timeout_seen_at_the_same_check(
    dbos: type[DBOS], system_tables: SystemTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The poll is far away, so the step's own timeout is what wakes the preemption check;
    # by then the workflow has been cancelled too, and the cancellation must win.
    monkeypatch.setattr(async_steps, "PREEMPT_POLL_SECONDS", 30.0)

    @DBOS.step(preemptible=True, timeout_seconds=0.05)
    async def cancelled_then_times_out() -> None:
        runtime = state.runtime
        assert runtime is not None
        set_cancelled_in_sql(system_tables, "outranked")
        runtime.cancelled.add("outranked")
        await never()

    @DBOS.workflow()
    async def wf() -> None:
        await cancelled_then_times_out()

    async def main() -> None:
        with SetWorkflowID("outranked"), pytest.raises(DBOSAwaitedWorkflowCancelledError):
            await asyncio.wait_for(wf(), 10)

    run(main)
    assert system_tables.steps("outranked") == []  # no DBOSStepTimeoutError was recorded
    assert status_of(system_tables, "outranked") == "CANCELLED"


# ---------------------------------------------------------------- retries


def test_an_async_should_retry_predicate_is_awaited(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    seen: list[type[BaseException]] = []
    attempts: list[int] = []

    async def only_flaky(exc: BaseException) -> bool:
        await asyncio.sleep(0)
        seen.append(type(exc))
        return isinstance(exc, FlakyError)

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0, should_retry=only_flaky)
    async def flaky_then_fatal() -> None:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise FlakyError("transient")
        raise FatalError("give up")

    @DBOS.workflow()
    async def wf() -> None:
        await flaky_then_fatal()

    async def main() -> None:
        # An unawaited predicate returns a coroutine, which is truthy: that would retry all
        # five attempts and end in DBOSMaxStepRetriesExceeded instead.
        with SetWorkflowID("async-predicate"), pytest.raises(FatalError, match="give up"):
            await wf()

    run(main)
    assert attempts == [0, 1]
    assert seen == [FlakyError, FatalError]
    assert isinstance(unpickled(system_tables.steps("async-predicate")[0]["error"]), FatalError)


def test_a_sync_step_with_an_async_should_retry_fails_inside_an_async_workflow(
    dbos: type[DBOS],
) -> None:
    async def predicate(exc: BaseException) -> bool:
        return True

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0, should_retry=predicate)
    def fails() -> None:
        raise FlakyError("x")

    @DBOS.workflow()
    async def wf() -> None:
        fails()

    async def main() -> None:
        with SetWorkflowID("sync-step-async-predicate"), pytest.raises(DBOSException):
            await wf()

    run(main)


# ---------------------------------------------------------------- run_step_async


def test_run_step_async_checkpoints_sync_and_async_functions(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    calls: list[tuple[str, str | None, int | None, int]] = []
    loop_thread: list[int] = []

    def add(a: int, b: int) -> int:
        calls.append(("add", DBOS.workflow_id, DBOS.step_id, threading.get_ident()))
        return a + b

    async def multiply(a: int, b: int) -> int:
        calls.append(("multiply", DBOS.workflow_id, DBOS.step_id, threading.get_ident()))
        return a * b

    @DBOS.workflow()
    async def wf() -> int:
        loop_thread.append(threading.get_ident())
        total: int = await DBOS.run_step_async({"name": "named-add"}, add, 1, b=2)
        product: int = await DBOS.run_step_async(None, multiply, total, 10)
        return product

    async def main() -> list[int]:
        results = []
        for _ in range(2):  # the second call replays
            with SetWorkflowID("run-step-async"):
                results.append(await wf())
        # Outside a workflow: plain calls, nothing recorded.
        results.append(await DBOS.run_step_async(None, add, 2, 2))
        results.append(await DBOS.run_step_async(None, multiply, 3, 3))
        return results

    assert run(main) == [30, 30, 4, 9]
    assert [c[:3] for c in calls[:2]] == [
        ("add", "run-step-async", 1),
        ("multiply", "run-step-async", 2),
    ]
    assert calls[0][3] != loop_thread[0]  # the sync function ran on a worker thread
    assert calls[1][3] == loop_thread[0]  # the async one on the workflow's loop
    assert [c[:3] for c in calls[2:]] == [("add", None, None), ("multiply", None, None)]
    assert step_names(system_tables, "run-step-async") == [
        (1, "named-add"),
        (2, multiply.__qualname__),
    ]
    assert len(system_tables.workflows()) == 1


def test_run_step_async_names_a_sync_function_after_the_function(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    @DBOS.workflow()
    async def wf() -> int:
        total: int = await DBOS.run_step_async(None, add, 1, 2)
        return total

    async def main() -> int:
        with SetWorkflowID("run-step-async-name"):
            return await wf()

    assert run(main) == 3
    assert step_names(system_tables, "run-step-async-name") == [(1, add.__qualname__)]


def test_run_step_async_honours_a_timeout_on_a_sync_or_async_function(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    release = threading.Event()

    def blocks() -> None:
        release.wait(10)

    @DBOS.workflow()
    async def wf() -> list[str]:
        outcomes = []
        for func in (never, blocks):
            try:
                await DBOS.run_step_async({"name": "timed", "timeout_seconds": 0.05}, func)
            except DBOSStepTimeoutError:
                outcomes.append("timed out")
        return outcomes

    async def main() -> list[str]:
        try:
            with SetWorkflowID("run-step-async-timeout"):
                return await wf()
        finally:
            # A worker thread cannot be cancelled: let it go before asyncio.run joins it.
            release.set()

    assert run(main) == ["timed out", "timed out"]
    rows = system_tables.steps("run-step-async-timeout")
    assert [isinstance(unpickled(r["error"]), DBOSStepTimeoutError) for r in rows] == [True, True]
