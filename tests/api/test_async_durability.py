"""Durable async operations and recovery, on both backends: sleep_async, DBOS.asyncio_wait,
and async workflows recovered after a relaunch onto the background loop or the adopted one.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from async_harness import (
    BACKGROUND_LOOP_THREAD,
    FINISHED,
    drop_steps_from,
    run,
    status_of,
    step_names,
)
from system_tables import SystemTables, launch, relaunch, unpickled

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException

# ---------------------------------------------------------------- durable sleep


def test_sleep_async_records_its_wake_time_and_a_replay_does_not_sleep_again(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    duration = [0.05]

    @DBOS.workflow()
    async def napper() -> str:
        await DBOS.sleep_async(duration[0])
        return "rested"

    async def main() -> list[str]:
        with SetWorkflowID("async-nap"):
            first = await napper()
        duration[0] = 3600  # a body that ran again would sleep for an hour
        with SetWorkflowID("async-nap"):
            second = await asyncio.wait_for(napper(), 10)
        return [first, second]

    assert run(main) == ["rested", "rested"]
    rows = system_tables.steps("async-nap")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [(1, "DBOS.sleep")]
    wake_at = json.loads(rows[0]["output"])
    assert 0.04 <= wake_at - rows[0]["started_at_epoch_ms"] / 1000 <= 5
    assert rows[0]["completed_at_epoch_ms"] == int(wake_at * 1000)


def test_a_recovered_async_sleep_waits_only_for_what_remains(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    duration = [0.01]
    after: list[str] = []

    @DBOS.step()
    async def wake_up() -> str:
        after.append("woke")
        return "awake"

    @DBOS.workflow()
    async def napper() -> str:
        await DBOS.sleep_async(duration[0])
        return await wake_up()

    launch(config)

    async def main() -> str:
        with SetWorkflowID("async-nap-recover"):
            return await napper()

    assert run(main) == "awake"
    system_tables.force_pending("async-nap-recover")
    drop_steps_from(system_tables, "async-nap-recover", 2)
    duration[0] = 3600  # a recovery that slept from scratch would not finish
    relaunch(config)
    system_tables.wait_for_status("async-nap-recover", FINISHED)
    assert DBOS.get_result("async-nap-recover") == "awake"
    assert after == ["woke", "woke"]


def test_sleep_async_outside_a_workflow_is_refused(dbos: type[DBOS]) -> None:
    async def main() -> None:
        await DBOS.sleep_async(0)  # nothing to sleep: returns at once
        with pytest.raises(DBOSException):
            await DBOS.sleep_async(1)

    run(main)


# ---------------------------------------------------------------- asyncio_wait


def test_asyncio_wait_records_the_done_indices_and_a_recovery_replays_the_same_split(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    replaying = [False]

    async def quick(i: int) -> int:
        return i

    async def gated(i: int, gate: asyncio.Event) -> int:
        if not replaying[0]:
            await gate.wait()  # never opened in the first run
        return i

    @DBOS.workflow()
    async def waiter() -> tuple[list[int], list[int]]:
        gate = asyncio.Event()
        tasks = [
            asyncio.ensure_future(gated(0, gate)),
            asyncio.ensure_future(quick(1)),
            asyncio.ensure_future(gated(2, gate)),
        ]
        done, pending = await DBOS.asyncio_wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        done_indices = sorted(tasks.index(t) for t in done)
        return done_indices, sorted(tasks.index(t) for t in pending)

    launch(config)

    async def main() -> tuple[list[int], list[int]]:
        with SetWorkflowID("durable-wait"):
            return await waiter()

    assert run(main) == ([1], [0, 2])
    rows = system_tables.steps("durable-wait")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [(1, "DBOS.asyncio_wait")]
    assert unpickled(rows[0]["output"]) == [1]

    # In the replay every task finishes at once; the recorded split must still win.
    replaying[0] = True
    system_tables.force_pending("durable-wait")
    relaunch(config)
    system_tables.wait_for_status("durable-wait", FINISHED)
    assert DBOS.get_result("durable-wait") == ([1], [0, 2])
    assert len(system_tables.steps("durable-wait")) == 1


def test_asyncio_wait_outside_a_workflow_is_plain_asyncio_wait(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    async def value(i: int) -> int:
        return i

    async def main() -> list[int]:
        done, pending = await DBOS.asyncio_wait([value(1), value(2)])
        assert pending == set()
        return sorted(t.result() for t in done)

    assert run(main) == [1, 2]
    assert system_tables.workflows() == []


# ---------------------------------------------------------------- recovery


def test_a_recovered_async_workflow_finishes_on_the_background_loop_without_rerunning_steps(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    runs: list[tuple[str, str]] = []

    @DBOS.step()
    async def reserve(item: str) -> str:
        runs.append(("reserve", threading.current_thread().name))
        return f"reserved {item}"

    @DBOS.step()
    async def charge(amount: int) -> str:
        runs.append(("charge", threading.current_thread().name))
        return f"charged {amount}"

    @DBOS.step()
    def notify() -> str:
        runs.append(("notify", threading.current_thread().name))
        return "notified"

    @DBOS.workflow()
    async def order(item: str, amount: int) -> str:
        first = await reserve(item)
        second = await charge(amount)
        return ", ".join([first, second, notify()])

    launch(config)

    async def main() -> str:
        with SetWorkflowID("async-order"):
            return await order("book", 12)

    expected = "reserved book, charged 12, notified"
    assert run(main) == expected
    main_thread = threading.current_thread().name
    assert runs == [("reserve", main_thread), ("charge", main_thread), ("notify", main_thread)]

    # The process "died" after checkpointing reserve: charge and notify must run again.
    system_tables.force_pending("async-order")
    drop_steps_from(system_tables, "async-order", 2)
    runs.clear()
    relaunch(config)
    row = system_tables.wait_for_status("async-order", FINISHED)
    assert row["status"] == "SUCCESS"
    assert DBOS.get_result("async-order") == expected
    assert runs == [("charge", BACKGROUND_LOOP_THREAD), ("notify", BACKGROUND_LOOP_THREAD)]
    assert row["recovery_attempts"] == 2
    assert [name for _, name in step_names(system_tables, "async-order")] == [
        reserve.__qualname__,
        charge.__qualname__,
        notify.__qualname__,
    ]


def test_a_recovered_async_workflow_runs_on_the_loop_adopted_at_launch(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    ran_on: list[asyncio.AbstractEventLoop] = []
    gathered: list[int] = []

    @DBOS.step()
    async def part(i: int) -> int:
        gathered.append(i)
        return i

    @DBOS.workflow()
    async def wf() -> list[int]:
        ran_on.append(asyncio.get_running_loop())
        return list(await asyncio.gather(part(1), part(2), part(3)))

    launch(config)
    with SetWorkflowID("adopted-recovery"):
        assert DBOS.start_workflow(wf).get_result(polling_interval_sec=0.05) == [1, 2, 3]
    system_tables.force_pending("adopted-recovery")
    drop_steps_from(system_tables, "adopted-recovery", 3)
    gathered.clear()

    async def main() -> tuple[list[int], asyncio.AbstractEventLoop]:
        relaunch(config)  # launched inside this loop: the recovered workflow runs here
        try:
            handle = await DBOS.retrieve_workflow_async("adopted-recovery")
            return await handle.get_result(polling_interval_sec=0.05), asyncio.get_running_loop()
        finally:
            DBOS.destroy()

    result, loop = run(main)
    assert result == [1, 2, 3]
    assert ran_on[-1] is loop
    assert gathered == [3]  # parts 1 and 2 replayed from their checkpoints
    assert status_of(system_tables, "adopted-recovery") == "SUCCESS"
