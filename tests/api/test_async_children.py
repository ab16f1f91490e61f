"""Async child workflows, on both backends: the rows a direct call and a started child
leave in the parent, checkpointed introspection inside a workflow, and gathered children.
"""

from __future__ import annotations

import asyncio

from async_harness import FINISHED, run, step_names
from system_tables import SystemTables, launch, relaunch, unpickled

from dbos import DBOS, DBOSConfig, SetWorkflowID


def test_a_directly_called_async_child_records_the_child_and_its_result(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    async def pack(x: int) -> int:
        return x * 3

    @DBOS.workflow()
    async def child(x: int) -> int:
        return await pack(x)

    @DBOS.workflow()
    async def parent(x: int) -> int:
        return await child(x) + 1

    async def main() -> int:
        with SetWorkflowID("async-parent"):
            return await parent(2)

    assert run(main) == 7
    rows = system_tables.steps("async-parent")
    assert [(r["function_id"], r["function_name"], r["child_workflow_id"]) for r in rows] == [
        (1, child.__qualname__, "async-parent-1"),
        (2, "DBOS.getResult", "async-parent-1"),
    ]
    assert (rows[0]["output"], rows[0]["error"]) == (None, None)
    assert unpickled(rows[1]["output"]) == 6
    child_row = system_tables.workflow("async-parent-1")
    assert child_row is not None
    assert child_row["status"] == "SUCCESS"
    assert child_row["parent_workflow_id"] == "async-parent"
    assert step_names(system_tables, "async-parent-1") == [(1, pack.__qualname__)]


def test_a_started_async_child_is_awaited_through_its_handle(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    async def child(x: int) -> int:
        return x * 5

    @DBOS.workflow()
    async def parent() -> int:
        handle = await DBOS.start_workflow_async(child, 4)
        result: int = await handle.get_result(polling_interval_sec=0.05)
        return result

    async def main() -> int:
        with SetWorkflowID("started-child-parent"):
            return await parent()

    assert run(main) == 20
    rows = system_tables.steps("started-child-parent")
    assert [(r["function_id"], r["function_name"], r["child_workflow_id"]) for r in rows] == [
        (1, child.__qualname__, "started-child-parent-1"),
        (2, "DBOS.getResult", "started-child-parent-1"),
    ]
    assert unpickled(rows[1]["output"]) == 20


def test_async_introspection_inside_a_workflow_is_checkpointed_and_replayed(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    async def child(x: int) -> int:
        return x * 2

    @DBOS.workflow()
    async def parent() -> tuple[bool, str, str, str, int, int]:
        handle = await DBOS.start_workflow_async(child, 7)
        first = await DBOS.wait_first_async([handle], polling_interval_sec=0.05)
        again = await DBOS.retrieve_workflow_async(handle.workflow_id)
        status = await DBOS.get_workflow_status_async(handle.workflow_id)
        assert status is not None
        from_handle = await again.get_status()
        result = await DBOS.get_result_async(handle.workflow_id)
        return (
            first is handle,
            status.status,
            from_handle.status,
            again.workflow_id,
            result,
            await again.get_result(),
        )

    launch(config)

    async def main() -> tuple[bool, str, str, str, int, int]:
        with SetWorkflowID("introspecting"):
            return await parent()

    expected = (True, "SUCCESS", "SUCCESS", "introspecting-1", 14, 14)
    assert run(main) == expected
    expected_rows = [
        (1, child.__qualname__),
        (2, "DBOS.waitFirst"),
        (3, "DBOS.getStatus"),
        (4, "DBOS.getStatus"),
        (5, "DBOS.getStatus"),
        (6, "DBOS.getResult"),
        (7, "DBOS.getResult"),
    ]
    assert step_names(system_tables, "introspecting") == expected_rows

    system_tables.force_pending("introspecting")
    relaunch(config)
    system_tables.wait_for_status("introspecting", FINISHED)
    assert tuple(DBOS.get_result("introspecting")) == expected
    assert step_names(system_tables, "introspecting") == expected_rows


def test_gathered_direct_child_calls_replay_to_the_same_results(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    b_done = asyncio.Event()

    @DBOS.workflow()
    async def child(tag: str) -> str:
        if tag == "a":
            await b_done.wait()  # a finishes after b: completion order differs from call order
        else:
            b_done.set()
        return f"child {tag}"

    @DBOS.workflow()
    async def parent() -> list[str]:
        return list(await asyncio.gather(child("a"), child("b")))

    launch(config)

    async def main() -> list[str]:
        with SetWorkflowID("gathered-children"):
            return await parent()

    assert run(main) == ["child a", "child b"]
    # Whatever the numbering, each DBOS.getResult row holds the result of the child it names.
    rows = system_tables.steps("gathered-children")
    results = {
        r["child_workflow_id"]: unpickled(r["output"])
        for r in rows
        if r["function_name"] == "DBOS.getResult"
    }
    children = {
        r["child_workflow_id"]: r["function_id"]
        for r in rows
        if r["function_name"] == child.__qualname__
    }
    assert len(results) == len(children) == 2
    for child_id, result in results.items():
        assert result == DBOS.get_result(child_id)
    system_tables.force_pending("gathered-children")
    relaunch(config)
    row = system_tables.wait_for_status("gathered-children", FINISHED)
    assert row["status"] == "SUCCESS"
    assert DBOS.get_result("gathered-children") == ["child a", "child b"]
