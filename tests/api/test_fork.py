"""Fork (a new workflow from an old one's history) and rewind (an old one, in place)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest
from system_tables import SystemTables

from dbos import (
    DBOS,
    DBOSContextSetAuth,
    Queue,
    SetWorkflowAttributes,
    SetWorkflowID,
)
from dbos.error import (
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSNonExistentWorkflowError,
)


@pytest.fixture
def counted(dbos: type[DBOS]) -> tuple[Counter[str], Any]:
    """A three-step workflow whose steps count their executions."""
    runs: Counter[str] = Counter()

    @DBOS.step()
    def one(x: int) -> int:
        runs["one"] += 1
        return x + 1

    @DBOS.step()
    def two(x: int) -> int:
        runs["two"] += 1
        return x * 2

    @DBOS.step()
    def three(x: int) -> int:
        runs["three"] += 1
        return x - 3

    @DBOS.workflow()
    def pipeline(x: int) -> int:
        return three(two(one(x)))

    with SetWorkflowID("source"), DBOSContextSetAuth("alice", ["admin"]):
        with SetWorkflowAttributes({"team": "blue"}):
            assert pipeline(5) == 9
    return runs, pipeline


@pytest.mark.parametrize(("start_step", "rerun"), [(1, 3), (2, 2), (3, 1), (4, 0)])
def test_fork_reruns_exactly_the_steps_from_start_step(
    counted: tuple[Counter[str], Any], start_step: int, rerun: int
) -> None:
    runs, _ = counted
    handle = DBOS.fork_workflow("source", start_step)
    assert handle.get_result() == 9
    assert sum(runs.values()) == 3 + rerun
    steps = DBOS.list_workflow_steps(handle.workflow_id)
    assert [s["function_id"] for s in steps] == [1, 2, 3]
    assert [s["output"] for s in steps] == [6, 12, 9]


def test_the_fork_copies_the_source_row_and_marks_the_source(
    counted: tuple[Counter[str], Any], system_tables: SystemTables
) -> None:
    with SetWorkflowID("the-fork"):
        handle = DBOS.fork_workflow("source", 2)
    assert handle.workflow_id == "the-fork"
    assert handle.get_result() == 9
    source, fork = DBOS.list_workflows(workflow_ids=["source", "the-fork"])
    assert fork.forked_from == "source" and source.was_forked_from is True
    assert fork.was_forked_from is False and source.forked_from is None
    for field in ("name", "class_name", "config_name", "authenticated_user", "input"):
        assert getattr(fork, field) == getattr(source, field), field
    assert fork.authenticated_roles == ["admin"] and fork.attributes == {"team": "blue"}
    assert fork.queue_name == "_dbos_internal_queue" and fork.application_name == "test-app"
    row = system_tables.workflow("the-fork")
    assert row is not None
    # Version-less at creation, so the latest version dequeued it and stamped its own.
    assert row["application_version"] == DBOS.application_version
    assert row["recovery_attempts"] == 1 and row["created_at"] >= source.created_at


def test_fork_options_queue_partition_version_and_timeout(
    counted: tuple[Counter[str], Any], system_tables: SystemTables
) -> None:
    with SetWorkflowID("pinned"):
        DBOS.fork_workflow(
            "source",
            1,
            application_version="no-such-version",
            queue_name="parked",
            queue_partition_key="p1",
            timeout_seconds=2.5,
        )
    row = system_tables.workflow("pinned")
    assert row is not None
    assert (row["status"], row["queue_name"], row["queue_partition_key"]) == (
        "ENQUEUED", "parked", "p1",
    )  # fmt: skip
    assert (row["application_version"], row["workflow_timeout_ms"]) == ("no-such-version", 2500)
    # Pinned to a version nobody runs: it stays enqueued until that version starts.
    assert DBOS.list_queued_workflows(queue_name="parked")[0].workflow_id == "pinned"


def test_fork_to_a_served_queue_runs_there(counted: tuple[Counter[str], Any]) -> None:
    Queue("forks")
    handle = DBOS.fork_workflow("source", 3, queue_name="forks")
    assert handle.get_result() == 9
    assert handle.get_status().queue_name == "forks"


def test_replacement_children_rewrite_the_copied_child_ids(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child(x: int) -> int:
        return x

    @DBOS.workflow()
    def parent() -> int:
        return child(1) + 1

    with SetWorkflowID("parent"):
        assert parent() == 2
    with SetWorkflowID("stand-in"):
        child(41)
    with SetWorkflowID("parent-fork"):
        handle = DBOS.fork_workflow(
            "parent", 3, replacement_children={"parent-1": "stand-in", "unused": "x"}
        )
    assert handle.get_result() == 2  # step 2 (getResult) was copied, not re-awaited
    steps = DBOS.list_workflow_steps("parent-fork")
    assert [s["child_workflow_id"] for s in steps] == ["stand-in", "stand-in"]
    assert [s["child_workflow_id"] for s in DBOS.list_workflow_steps("parent")] == [
        "parent-1", "parent-1",
    ]  # fmt: skip


def test_forking_under_an_existing_id(counted: tuple[Counter[str], Any]) -> None:
    with SetWorkflowID("again"):
        first = DBOS.fork_workflow("source", 2)
    first.get_result()
    with SetWorkflowID("again"):  # the same fork of the same source: that fork, unchanged
        assert DBOS.fork_workflow("source", 2).get_result() == 9
    with SetWorkflowID("source"), pytest.raises(DBOSConflictingWorkflowError):
        DBOS.fork_workflow("again", 1)


def test_fork_refuses_bad_input_and_writes_nothing(
    counted: tuple[Counter[str], Any], system_tables: SystemTables
) -> None:
    with pytest.raises(DBOSNonExistentWorkflowError, match="missing"):
        DBOS.fork_workflow("missing", 1)
    with pytest.raises(DBOSException, match="highest valid start_step is 4"):
        DBOS.fork_workflow("source", 5)
    for bad_step in (0, -1, 1.5, "2", True):
        with pytest.raises(DBOSException, match="start_step must be an integer >= 1"):
            DBOS.fork_workflow("source", bad_step)  # type: ignore[arg-type]
    for bad_timeout in (0, -2, "10"):
        with pytest.raises(DBOSException, match="timeout_seconds must be a number > 0"):
            DBOS.fork_workflow("source", 1, timeout_seconds=bad_timeout)  # type: ignore[arg-type]
    with pytest.raises(DBOSException, match="replacement_children"):
        DBOS.fork_workflow("source", 1, replacement_children={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(DBOSException, match="queue_name"):
        DBOS.fork_workflow("source", 1, queue_name="")
    with pytest.raises(TypeError):
        DBOS.fork_workflow("", 1)
    assert [r["workflow_uuid"] for r in system_tables.workflows()] == ["source"]
    assert system_tables.workflow("source")["was_forked_from"] in (0, False)  # type: ignore[index]


def test_fork_inside_a_workflow_is_a_step_with_a_derived_id(
    counted: tuple[Counter[str], Any],
) -> None:
    @DBOS.workflow()
    def forker() -> str:
        return DBOS.fork_workflow("source", 2).workflow_id

    with SetWorkflowID("forker"):
        fork_id = forker()
    assert fork_id == "forker-1"
    assert DBOS.list_workflow_steps("forker")[0]["function_name"] == "DBOS.forkWorkflow"
    assert DBOS.retrieve_workflow(fork_id).get_result() == 9


def test_rewind_reruns_a_finished_workflow_in_place(
    counted: tuple[Counter[str], Any], system_tables: SystemTables
) -> None:
    runs, _ = counted
    created = system_tables.workflow("source")["created_at"]  # type: ignore[index]
    handle = DBOS.rewind_workflow("source", start_step=3)
    assert handle.workflow_id == "source"
    assert handle.get_result() == 9
    assert runs == Counter(one=1, two=1, three=2)
    row = system_tables.workflow("source")
    assert row is not None
    assert (row["status"], row["created_at"], row["queue_name"]) == (
        "SUCCESS", created, "_dbos_internal_queue",
    )  # fmt: skip
    assert [s["function_id"] for s in DBOS.list_workflow_steps("source")] == [1, 2, 3]
    DBOS.rewind_workflow("source").get_result()  # default: from the first step
    assert runs == Counter(one=2, two=2, three=3)


def test_rewind_refuses_active_missing_and_out_of_range(
    counted: tuple[Counter[str], Any], system_tables: SystemTables
) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def busy() -> None:
        release.wait(10)

    with SetWorkflowID("busy"):
        handle = DBOS.start_workflow(busy)
    with pytest.raises(DBOSException, match="cancel it first"):
        DBOS.rewind_workflow("busy")
    release.set()
    handle.get_result()
    with pytest.raises(DBOSNonExistentWorkflowError):
        DBOS.rewind_workflow("missing")
    with pytest.raises(DBOSException, match="highest valid start_step is 4"):
        DBOS.rewind_workflow("source", start_step=9)
    with pytest.raises(DBOSException, match="start_step"):
        DBOS.rewind_workflow("source", start_step=0)
    assert system_tables.workflow("source")["status"] == "SUCCESS"  # type: ignore[index]
    assert len(system_tables.steps("source")) == 3


def test_rewind_of_a_cancelled_workflow_on_a_chosen_queue(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    Queue("rewinds")

    @DBOS.workflow()
    def parked() -> str:
        return "ran"

    with SetWorkflowID("parked"):
        DBOS.enqueue_workflow("unserved", parked)
    DBOS.cancel_workflow("parked")
    assert DBOS.rewind_workflow("parked", queue_name="rewinds").get_result() == "ran"
    assert system_tables.workflow("parked")["queue_name"] == "rewinds"  # type: ignore[index]


def test_fork_and_rewind_async_forms(counted: tuple[Counter[str], Any]) -> None:
    runs, _ = counted

    async def main() -> tuple[int, int]:
        fork = await DBOS.fork_workflow_async("source", 3)
        forked = await fork.get_result()
        rewound = await DBOS.rewind_workflow_async("source", start_step=2)
        return forked, await rewound.get_result()

    assert asyncio.run(main()) == (9, 9)
    assert runs == Counter(one=1, two=2, three=3)
