"""Test harness for the async API tests: run coroutines, poll on a loop, read and write rows.

Tests do not use pytest-asyncio: each runs ``asyncio.run(main())``, or launches DBOS inside
its coroutine when it needs the loop that launch adopts. Waits are events or polls with a
deadline; the few ``asyncio.sleep`` calls in the tests are workload (a step that must
outlast another), never synchronisation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from system_tables import SystemTables

from dbos._api.state import state

T = TypeVar("T")
FINISHED = {"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
# The thread DBOS runs its own event loop on when launch() found none running.
BACKGROUND_LOOP_THREAD = "dbos-event-loop"


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(main())


def step_names(system_tables: SystemTables, workflow_id: str) -> list[tuple[int, str]]:
    return [(r["function_id"], r["function_name"]) for r in system_tables.steps(workflow_id)]


def status_of(system_tables: SystemTables, workflow_id: str) -> str:
    row = system_tables.workflow(workflow_id)
    assert row is not None, f"no row for {workflow_id}"
    return str(row["status"])


def set_cancelled_in_sql(system_tables: SystemTables, workflow_id: str) -> None:
    """A cancel made behind this process's back, as another process's cancel would be."""
    system_tables.execute(
        "UPDATE workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = ?", (workflow_id,)
    )


def drop_steps_from(system_tables: SystemTables, workflow_id: str, function_id: int) -> None:
    """Forget the checkpoints from ``function_id`` on, as if the process died before them."""
    for table in ("operation_outputs", "workflow_events_history", "streams"):
        system_tables.execute(
            f"DELETE FROM {table} WHERE workflow_uuid = ? AND function_id >= ?",
            (workflow_id, function_id),
        )


async def never() -> None:
    await asyncio.Event().wait()


async def until(predicate: Callable[[], bool], timeout_sec: float = 10.0) -> None:
    """Poll ``predicate`` without blocking the loop, failing after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_sec
    while not predicate():
        if loop.time() > deadline:
            pytest.fail("condition not reached before the deadline")
        await asyncio.sleep(0.005)


def is_awaited(workflow_id: str) -> bool:
    """Whether some caller in this process is waiting for ``workflow_id``'s outcome."""
    runtime = state.runtime
    return runtime is not None and workflow_id in runtime.waiters._signals
