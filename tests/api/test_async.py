"""Async workflows through the public API, on both backends: results, errors and replay,
concurrency inside a workflow, starting and awaiting, which loop runs what, and the sync
APIs that refuse to block a running loop. See async_harness for the ground rules; child
workflows, steps and durability have files of their own (test_async_*.py).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from async_harness import BACKGROUND_LOOP_THREAD, is_awaited, run, status_of, step_names, until
from system_tables import SystemTables, launch, unpickled

from dbos import DBOS, DBOSConfig, SetWorkflowID, WorkflowHandle
from dbos.error import DBOSNonExistentWorkflowError


class OrderError(Exception):
    pass


# ---------------------------------------------------------------- results, errors, replay


def test_an_async_workflow_returns_its_result_and_checkpoints_its_async_steps(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    seen: list[tuple[str | None, int | None]] = []

    @DBOS.step()
    async def double(x: int) -> int:
        seen.append((DBOS.workflow_id, DBOS.step_id))
        await asyncio.sleep(0)
        return x * 2

    @DBOS.workflow()
    async def wf(x: int) -> int:
        return await double(await double(x)) + 1

    assert inspect.iscoroutinefunction(wf)
    assert inspect.iscoroutinefunction(double)

    async def main() -> int:
        with SetWorkflowID("async-result"):
            return await wf(3)

    assert run(main) == 13
    assert seen == [("async-result", 1), ("async-result", 2)]
    rows = system_tables.steps("async-result")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [
        (1, double.__qualname__),
        (2, double.__qualname__),
    ]
    assert [unpickled(r["output"]) for r in rows] == [6, 12]
    assert all(r["error"] is None for r in rows)
    row = system_tables.workflow("async-result")
    assert row is not None
    assert row["status"] == "SUCCESS"
    assert unpickled(row["output"]) == 13


def test_calling_a_finished_async_workflow_again_returns_the_recorded_result(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    bodies: list[int] = []
    steps: list[int] = []

    @DBOS.step()
    async def record(x: int) -> int:
        steps.append(x)
        return x

    @DBOS.workflow()
    async def wf(x: int) -> str:
        bodies.append(x)
        return f"result {await record(x)}"

    async def main() -> list[str]:
        results = []
        for x in (1, 2):  # the second call has other arguments: the recording still wins
            with SetWorkflowID("async-replay"):
                results.append(await wf(x))
        return results

    assert run(main) == ["result 1", "result 1"]
    assert bodies == [1]
    assert steps == [1]
    assert len(system_tables.steps("async-replay")) == 1


def test_an_async_workflow_error_is_recorded_and_a_replay_raises_it_without_running(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    bodies: list[str] = []

    @DBOS.workflow()
    async def wf(item: str) -> None:
        bodies.append(item)
        await asyncio.sleep(0)
        raise OrderError(f"cannot ship {item}")

    async def main() -> None:
        for _ in range(2):
            with SetWorkflowID("async-error"), pytest.raises(OrderError, match="cannot ship"):
                await wf("book")

    run(main)
    assert bodies == ["book"]
    row = system_tables.workflow("async-error")
    assert row is not None
    assert row["status"] == "ERROR"
    assert isinstance(unpickled(row["error"]), OrderError)
    assert system_tables.steps("async-error") == []


def test_an_async_step_error_is_checkpointed_and_the_workflow_may_handle_it(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    async def fails() -> None:
        raise OrderError("declined")

    @DBOS.step()
    async def fallback() -> str:
        return "fallback"

    @DBOS.workflow()
    async def wf() -> str:
        try:
            await fails()
        except OrderError:
            return await fallback()
        return "unreachable"

    async def main() -> str:
        with SetWorkflowID("async-step-error"):
            return await wf()

    assert run(main) == "fallback"
    rows = system_tables.steps("async-step-error")
    assert [r["function_name"] for r in rows] == [fails.__qualname__, fallback.__qualname__]
    assert rows[0]["output"] is None
    assert isinstance(unpickled(rows[0]["error"]), OrderError)
    assert status_of(system_tables, "async-step-error") == "SUCCESS"


# ---------------------------------------------------------------- concurrency inside a workflow


def test_gather_assigns_step_ids_in_argument_order_not_completion_order(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    completed: list[str] = []

    @DBOS.step()
    async def stage(tag: str, wait_for: asyncio.Event | None, done: asyncio.Event) -> str:
        if wait_for is not None:
            await wait_for.wait()
        completed.append(tag)
        done.set()
        return f"{tag}@{DBOS.step_id}"

    @DBOS.workflow()
    async def wf() -> list[str]:
        a_done, b_done, c_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
        # c finishes first, then b, then a: the reverse of the argument order.
        return list(
            await asyncio.gather(
                stage("a", b_done, a_done), stage("b", c_done, b_done), stage("c", None, c_done)
            )
        )

    async def main() -> list[str]:
        with SetWorkflowID("gather-order"):
            return await wf()

    assert run(main) == ["a@1", "b@2", "c@3"]
    assert completed == ["c", "b", "a"]
    rows = system_tables.steps("gather-order")
    assert [(r["function_id"], unpickled(r["output"])) for r in rows] == [
        (1, "a@1"),
        (2, "b@2"),
        (3, "c@3"),
    ]


def test_sync_and_async_steps_mix_in_one_async_workflow(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    seen: list[tuple[str, str | None, int | None]] = []

    @DBOS.step()
    def add_one(x: int) -> int:
        seen.append(("sync", DBOS.workflow_id, DBOS.step_id))
        return x + 1

    @DBOS.step()
    async def times_ten(x: int) -> int:
        seen.append(("async", DBOS.workflow_id, DBOS.step_id))
        return x * 10

    @DBOS.workflow()
    async def wf(x: int) -> int:
        return add_one(await times_ten(add_one(x)))

    async def main() -> int:
        with SetWorkflowID("mixed-steps"):
            return await wf(1)

    assert run(main) == 21
    assert seen == [
        ("sync", "mixed-steps", 1),
        ("async", "mixed-steps", 2),
        ("sync", "mixed-steps", 3),
    ]
    assert step_names(system_tables, "mixed-steps") == [
        (1, add_one.__qualname__),
        (2, times_ten.__qualname__),
        (3, add_one.__qualname__),
    ]


def test_concurrent_async_workflows_on_one_loop_keep_their_own_ids_and_steps(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    count = 12
    started: list[int] = []
    all_started = asyncio.Event()
    seen: list[tuple[str | None, int, int | None]] = []

    @DBOS.step()
    async def tag(i: int, n: int) -> int:
        seen.append((DBOS.workflow_id, i, DBOS.step_id))
        await asyncio.sleep(0)
        return i * 10 + n

    @DBOS.workflow()
    async def wf(i: int) -> list[int]:
        started.append(i)
        if len(started) == count:
            all_started.set()
        await all_started.wait()  # every workflow is in flight at once
        return [await tag(i, 1), await tag(i, 2)]

    async def one(i: int) -> list[int]:
        with SetWorkflowID(f"conc-{i:02}"):
            return await wf(i)

    async def main() -> list[list[int]]:
        return list(await asyncio.gather(*(one(i) for i in range(count))))

    assert run(main) == [[i * 10 + 1, i * 10 + 2] for i in range(count)]
    assert sorted(seen) == sorted(
        (f"conc-{i:02}", i, step) for i in range(count) for step in (1, 2)
    )
    for i in range(count):
        rows = system_tables.steps(f"conc-{i:02}")
        assert [(r["function_id"], unpickled(r["output"])) for r in rows] == [
            (1, i * 10 + 1),
            (2, i * 10 + 2),
        ]


# ---------------------------------------------------------------- starting and handles


def test_start_workflow_async_runs_on_the_callers_loop_and_its_handle_awaits_it(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    gate = asyncio.Event()
    ran_on: list[asyncio.AbstractEventLoop] = []

    @DBOS.step()
    async def ship(item: str) -> str:
        return f"shipped {item}"

    @DBOS.workflow()
    async def wf(item: str) -> str:
        ran_on.append(asyncio.get_running_loop())
        await gate.wait()
        return await ship(item)

    async def main() -> asyncio.AbstractEventLoop:
        with SetWorkflowID("start-async"):
            handle = await DBOS.start_workflow_async(wf, "lamp")
        assert handle.get_workflow_id() == handle.workflow_id == "start-async"
        pending = await handle.get_status()
        assert pending.status == "PENDING"
        assert pending.name == wf.__qualname__
        gate.set()
        assert await handle.get_result(polling_interval_sec=0.05) == "shipped lamp"
        assert (await handle.get_status()).status == "SUCCESS"
        return asyncio.get_running_loop()

    assert ran_on == [run(main)]
    assert step_names(system_tables, "start-async") == [(1, ship.__qualname__)]


def test_calling_an_async_workflow_whose_id_is_in_flight_awaits_that_run(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    gate = asyncio.Event()
    bodies: list[str] = []

    @DBOS.workflow()
    async def wf(x: str) -> str:
        bodies.append(x)
        await gate.wait()
        return f"first run {x}"

    async def main() -> tuple[str, str]:
        with SetWorkflowID("in-flight"):
            handle = await DBOS.start_workflow_async(wf, "a")

        async def second_call() -> str:
            with SetWorkflowID("in-flight"):
                return await wf("b")

        waiting = asyncio.ensure_future(second_call())
        await until(lambda: is_awaited("in-flight"))  # the second call waits on the first run
        gate.set()
        return await handle.get_result(polling_interval_sec=0.05), await waiting

    assert run(main) == ("first run a", "first run a")
    assert bodies == ["a"]


def test_the_async_forms_of_retrieve_get_result_and_get_workflow_status(
    dbos: type[DBOS],
) -> None:
    @DBOS.workflow()
    async def ok(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    async def fails() -> None:
        raise OrderError("no stock")

    async def main() -> None:
        with SetWorkflowID("async-ok"):
            await ok(1)
        with SetWorkflowID("async-fails"), pytest.raises(OrderError):
            await fails()
        handle = await DBOS.retrieve_workflow_async("async-ok")
        assert handle.workflow_id == "async-ok"
        assert await handle.get_result() == 2
        assert await DBOS.get_result_async("async-ok") == 2
        with pytest.raises(OrderError, match="no stock"):
            await DBOS.get_result_async("async-fails")
        with pytest.raises(OrderError, match="no stock"):
            await (await DBOS.retrieve_workflow_async("async-fails")).get_result()
        status = await DBOS.get_workflow_status_async("async-ok")
        assert status is not None
        assert (status.workflow_id, status.status, status.name) == (
            "async-ok",
            "SUCCESS",
            ok.__qualname__,
        )
        assert await DBOS.get_workflow_status_async("missing") is None
        with pytest.raises(DBOSNonExistentWorkflowError):
            await DBOS.retrieve_workflow_async("missing")
        unchecked = await DBOS.retrieve_workflow_async("missing", existing_workflow=False)
        assert unchecked.workflow_id == "missing"
        with pytest.raises(DBOSNonExistentWorkflowError):
            await unchecked.get_status()

    run(main)


def test_wait_first_async_returns_the_first_finished_handle(dbos: type[DBOS]) -> None:
    gate = asyncio.Event()

    @DBOS.workflow()
    async def slow() -> str:
        await gate.wait()
        return "slow"

    @DBOS.workflow()
    async def fast() -> str:
        return "fast"

    async def main() -> None:
        slow_handle = await DBOS.start_workflow_async(slow)
        fast_handle = await DBOS.start_workflow_async(fast)
        first = await DBOS.wait_first_async([slow_handle, fast_handle], polling_interval_sec=0.05)
        assert first is fast_handle
        gate.set()
        assert await slow_handle.get_result(polling_interval_sec=0.05) == "slow"
        with pytest.raises(ValueError):
            await DBOS.wait_first_async([])
        with pytest.raises(ValueError):
            await DBOS.wait_first_async([fast_handle, fast_handle])

    run(main)


def test_start_workflow_from_sync_code_runs_an_async_workflow_on_the_background_loop(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    threads: list[str] = []

    @DBOS.step()
    async def step_one() -> str:
        threads.append(threading.current_thread().name)
        return "one"

    @DBOS.workflow()
    async def wf() -> str:
        threads.append(threading.current_thread().name)
        return await step_one()

    with SetWorkflowID("sync-started-async"):
        handle: WorkflowHandle[str] = DBOS.start_workflow(wf)
    assert handle.get_result(polling_interval_sec=0.05) == "one"
    assert threads == [BACKGROUND_LOOP_THREAD, BACKGROUND_LOOP_THREAD]
    assert threading.current_thread().name not in threads
    assert step_names(system_tables, "sync-started-async") == [(1, step_one.__qualname__)]


def test_an_async_workflow_started_from_sync_code_runs_on_the_loop_adopted_at_launch(
    clean_dbos: None, config: DBOSConfig
) -> None:
    ran_on: list[tuple[asyncio.AbstractEventLoop, str]] = []

    @DBOS.workflow()
    async def wf() -> str:
        ran_on.append((asyncio.get_running_loop(), threading.current_thread().name))
        return "adopted"

    async def main() -> asyncio.AbstractEventLoop:
        launch(config)  # inside a running loop: DBOS adopts it
        try:
            handle = DBOS.start_workflow(wf)  # the sync API, from code on that loop
            assert await DBOS.get_result_async(handle.workflow_id) == "adopted"
            return asyncio.get_running_loop()
        finally:
            DBOS.destroy()

    loop = run(main)
    assert ran_on == [(loop, threading.current_thread().name)]


def test_an_async_workflow_started_after_the_adopted_loop_stopped_runs_on_the_background_loop(
    clean_dbos: None, config: DBOSConfig
) -> None:
    @DBOS.workflow()
    async def wf() -> str:
        return threading.current_thread().name

    async def setup() -> None:
        launch(config)  # adopts this loop, which asyncio.run then closes

    run(setup)
    handle = DBOS.start_workflow(wf)
    assert handle.get_result(polling_interval_sec=0.05) == BACKGROUND_LOOP_THREAD


# ---------------------------------------------------------------- sync APIs inside a loop


def _sync_calls(handle: WorkflowHandle[Any]) -> dict[str, Callable[[], object]]:
    workflow_id = handle.workflow_id
    return {
        "get_result": lambda: DBOS.get_result(workflow_id),
        "retrieve_workflow": lambda: DBOS.retrieve_workflow(workflow_id),
        "get_workflow_status": lambda: DBOS.get_workflow_status(workflow_id),
        "wait_first": lambda: DBOS.wait_first([handle]),
        "sleep": lambda: DBOS.sleep(1),
        "run_step": lambda: DBOS.run_step(None, len, "abc"),
    }


@pytest.mark.parametrize(
    "api",
    ["get_result", "retrieve_workflow", "get_workflow_status", "wait_first", "sleep", "run_step"],
)
def test_sync_apis_refuse_to_run_inside_an_event_loop(dbos: type[DBOS], api: str) -> None:
    @DBOS.workflow()
    def sync_wf() -> str:
        return "done"

    handle = DBOS.start_workflow(sync_wf)
    assert handle.get_result() == "done"
    call = _sync_calls(handle)[api]
    message = (
        f"{api}() was called while an event loop is running. Use await {api}_async(...) instead."
    )

    async def main() -> None:
        with pytest.raises(RuntimeError, match=re.escape(message)):
            call()

    run(main)


def test_a_sync_sleep_inside_an_async_workflow_is_refused_and_records_nothing(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    async def wf() -> str:
        try:
            DBOS.sleep(1)
        except RuntimeError as exc:
            return str(exc)
        return "slept"

    async def main() -> str:
        with SetWorkflowID("sync-sleep-in-async"):
            return await wf()

    assert "Use await sleep_async(...) instead." in run(main)
    assert system_tables.steps("sync-sleep-in-async") == []


def test_start_workflow_is_allowed_inside_a_running_loop(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def sync_wf(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    async def async_wf(x: int) -> int:
        return x * 2

    async def main() -> list[int]:
        sync_handle = DBOS.start_workflow(sync_wf, 1)
        async_handle = DBOS.start_workflow(async_wf, 5)
        return [
            await DBOS.get_result_async(sync_handle.workflow_id),
            await DBOS.get_result_async(async_handle.workflow_id),
        ]

    assert run(main) == [2, 10]
