"""Checkpoints and outcomes of concurrent workflows share commits, and stay right.

On Postgres the writes a running workflow makes as it goes queue behind the write in
flight and go out together (group commit); on SQLite every write already does. Here a
write is held in flight on purpose, so the workflows' checkpoints must queue behind it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from system_tables import SystemTables
from tests.conftest import write_held_in_flight

from dbos import DBOS, SetWorkflowID
from dbos._api.state import state

WORKFLOWS = 8


@pytest.mark.postgres_only
def test_concurrent_workflows_checkpoints_are_committed_together_and_right(
    dbos: type[DBOS], backend: str, system_tables: SystemTables
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite's group commit has tests of its own (test_sqlite_group_commit)")
    assert state.runtime is not None
    pg: Any = state.runtime.db.backend
    groups: list[list[str]] = []
    together = pg._group._together

    def counting(statements: Any) -> Any:
        groups.append([query for query, _ in statements])
        return together(statements)

    pg._group._together = counting
    release = threading.Event()

    @DBOS.step()
    def double(i: int) -> int:
        return 2 * i

    @DBOS.workflow()
    def worker(i: int) -> int:
        release.wait(10)
        return double(i) + double(i + 1)

    with write_held_in_flight(pg) as release_write:
        handles = []
        for i in range(WORKFLOWS):
            with SetWorkflowID(f"grouped-{i}"):
                handles.append(DBOS.start_workflow(worker, i))
        release.set()
        deadline = time.monotonic() + 10
        while len(pg._group._queued) < WORKFLOWS:  # every first checkpoint waits its turn
            assert time.monotonic() < deadline, "the checkpoints did not queue"
            time.sleep(0.001)
        release_write()
    assert [h.get_result() for h in handles] == [4 * i + 2 for i in range(WORKFLOWS)]
    # The first checkpoints queued behind the write in flight and went out as one group.
    assert groups and len(groups[0]) == WORKFLOWS
    assert all("INSERT INTO" in q and "operation_outputs" in q for q in groups[0])
    assert any("UPDATE" in q for group in groups for q in group)  # outcomes are grouped too
    for i in range(WORKFLOWS):
        steps = system_tables.steps(f"grouped-{i}")
        assert [(s["function_id"], s["function_name"]) for s in steps] == [
            (1, double.__qualname__),
            (2, double.__qualname__),
        ]
