"""Cancel, resume and delete: single and many, children, running workflows, bad input."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID
from dbos.error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSException,
    DBOSNonExistentWorkflowError,
)


class Gate:
    """A workflow body that blocks between its steps until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.after: list[str] = []


@pytest.fixture
def gated(dbos: type[DBOS]) -> tuple[Gate, Any]:
    gate = Gate()

    @DBOS.step()
    def first() -> str:
        return "one"

    @DBOS.step()
    def second() -> str:
        gate.after.append("second")
        return "two"

    @DBOS.workflow()
    def two_steps() -> str:
        try:
            first()
            gate.reached.set()
            gate.release.wait(10)
            return first() + second()
        finally:
            gate.finished.set()

    return gate, two_steps


def test_cancel_stops_a_running_workflow_at_its_next_step(
    gated: tuple[Gate, Any], system_tables: SystemTables
) -> None:
    gate, two_steps = gated
    with SetWorkflowID("running"):
        handle = DBOS.start_workflow(two_steps)
    assert gate.reached.wait(10)
    DBOS.cancel_workflow("running")
    row = system_tables.workflow("running")
    assert row is not None
    assert (row["status"], row["queue_name"], row["completed_at"] is not None) == (
        "CANCELLED", None, True,
    )  # fmt: skip
    gate.release.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    assert gate.after == []  # stopped before its next step ran
    assert [s["function_id"] for s in DBOS.list_workflow_steps("running")] == [1]
    assert system_tables.workflow("running")["status"] == "CANCELLED"  # type: ignore[index]


def test_resume_continues_a_cancelled_workflow_from_its_last_step(
    gated: tuple[Gate, Any], system_tables: SystemTables
) -> None:
    gate, two_steps = gated
    with SetWorkflowID("resumed"):
        handle = DBOS.start_workflow(two_steps)
    assert gate.reached.wait(10)
    DBOS.cancel_workflow("resumed")
    gate.release.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    app_version = system_tables.workflow("resumed")["application_version"]  # type: ignore[index]
    resumed = DBOS.resume_workflow("resumed")
    assert resumed.get_result() == "onetwo"
    row = system_tables.workflow("resumed")
    assert row is not None
    assert (row["status"], row["queue_name"], row["application_version"]) == (
        "SUCCESS", "_dbos_internal_queue", app_version,
    )  # fmt: skip
    assert gate.after == ["second"]
    # Resuming a finished workflow changes nothing; the old handle sees the result.
    again = DBOS.resume_workflow("resumed")
    assert again.get_result() == "onetwo" == handle.get_result()
    assert gate.after == ["second"]


def test_cancel_after_the_last_step_keeps_the_workflow_cancelled(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    finished_steps, release = threading.Event(), threading.Event()

    @DBOS.step()
    def only() -> int:
        return 1

    @DBOS.workflow()
    def late() -> int:
        value = only()
        finished_steps.set()
        release.wait(10)
        return value

    with SetWorkflowID("late"):
        handle = DBOS.start_workflow(late)
    assert finished_steps.wait(10)
    DBOS.cancel_workflow("late")
    release.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    assert system_tables.workflow("late")["status"] == "CANCELLED"  # type: ignore[index]


def test_cancel_leaves_finished_workflows_and_ignores_unknown_ids(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def done() -> int:
        return 5

    with SetWorkflowID("done"):
        done()
    before = system_tables.workflow("done")
    DBOS.cancel_workflows(["done", "never-existed"])
    assert system_tables.workflow("done") == before
    DBOS.cancel_workflow("never-existed")
    assert system_tables.workflow("never-existed") is None


def test_cancel_of_an_enqueued_workflow_frees_its_queue_and_dedup_id(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def queued() -> None:
        return None

    # A queue nobody serves here: the row stays ENQUEUED until cancelled.
    with SetWorkflowID("waiting"):
        DBOS.enqueue_workflow("unserved", queued)
    system_tables.execute(
        "UPDATE workflow_status SET deduplication_id = 'd1' WHERE workflow_uuid = 'waiting'"
    )
    DBOS.cancel_workflow("waiting")
    row = system_tables.workflow("waiting")
    assert row is not None
    assert (row["status"], row["queue_name"], row["deduplication_id"]) == ("CANCELLED", None, None)
    resumed = DBOS.resume_workflow("waiting")
    assert resumed.get_result() is None


def test_cancel_children_cancels_every_descendant(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def leaf() -> None:
        return None

    @DBOS.workflow()
    def middle() -> None:
        DBOS.enqueue_workflow("unserved", leaf)

    @DBOS.workflow()
    def root() -> None:
        DBOS.enqueue_workflow("unserved", middle)

    with SetWorkflowID("root"):
        DBOS.enqueue_workflow("unserved", root)
    with SetWorkflowID("other"):
        DBOS.enqueue_workflow("unserved", leaf)
    # Run the chain by hand on a served queue: root -> root-1 (middle) -> root-1-1 (leaf).
    for workflow_id in ("root", "root-1"):
        DBOS.resume_workflow(workflow_id).get_result()
    statuses = {r["workflow_uuid"]: r["status"] for r in system_tables.workflows()}
    assert statuses == {
        "root": "SUCCESS", "root-1": "SUCCESS", "root-1-1": "ENQUEUED", "other": "ENQUEUED",
    }  # fmt: skip
    DBOS.cancel_workflow("root", cancel_children=True)
    statuses = {r["workflow_uuid"]: r["status"] for r in system_tables.workflows()}
    assert statuses == {
        "root": "SUCCESS", "root-1": "SUCCESS", "root-1-1": "CANCELLED", "other": "ENQUEUED",
    }  # fmt: skip


def test_resume_of_unknown_ids_raises_before_changing_anything(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def queued() -> None:
        return None

    with SetWorkflowID("cancelled-one"):
        DBOS.enqueue_workflow("unserved", queued)
    DBOS.cancel_workflow("cancelled-one")
    with pytest.raises(DBOSNonExistentWorkflowError, match="missing-1, missing-2"):
        DBOS.resume_workflows(["missing-1", "cancelled-one", "missing-2"])
    assert system_tables.workflow("cancelled-one")["status"] == "CANCELLED"  # type: ignore[index]
    with pytest.raises(DBOSNonExistentWorkflowError):
        DBOS.resume_workflow("missing")


def test_resume_workflows_puts_each_on_the_given_queue(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    Queue("resumes")

    @DBOS.workflow()
    def queued(i: int) -> int:
        return i * 10

    for i in range(3):
        with SetWorkflowID(f"r{i}"):
            DBOS.enqueue_workflow("unserved", queued, i)
    DBOS.cancel_workflows(["r0", "r1", "r2"])
    handles = DBOS.resume_workflows(["r0", "r1", "r2"], queue_name="resumes")
    assert [h.get_result() for h in handles] == [0, 10, 20]
    rows = system_tables.workflows()
    assert {(r["queue_name"], r["recovery_attempts"]) for r in rows} == {("resumes", 1)}


def test_resume_revives_a_dead_lettered_workflow(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def fragile() -> str:
        return "alive"

    with SetWorkflowID("dlq"):
        fragile()
    system_tables.execute(
        "UPDATE workflow_status SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', output = NULL, "
        "recovery_attempts = 101 WHERE workflow_uuid = 'dlq'"
    )
    assert DBOS.resume_workflow("dlq").get_result() == "alive"
    assert system_tables.workflow("dlq")["recovery_attempts"] == 1  # type: ignore[index]


def test_delete_removes_the_workflow_and_everything_recorded(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def step() -> int:
        return 1

    @DBOS.workflow()
    def child() -> None:
        step()

    @DBOS.workflow()
    def parent() -> None:
        step()
        child()

    with SetWorkflowID("parent"):
        parent()
    with SetWorkflowID("kept"):
        parent()
    system_tables.execute(
        "INSERT INTO workflow_events_history (workflow_uuid, function_id, key, value) "
        "VALUES ('parent', 99, 'k', 'v')"
    )
    DBOS.delete_workflow("parent")
    assert system_tables.workflow("parent") is None
    assert system_tables.steps("parent") == []
    assert system_tables.execute("SELECT * FROM workflow_events") == []
    assert system_tables.workflow("parent-2") is not None  # children stay unless asked
    DBOS.delete_workflows(["kept", "unknown"], delete_children=True)
    remaining = [r["workflow_uuid"] for r in system_tables.workflows()]
    assert remaining == ["parent-2"]
    assert system_tables.all_steps() == [
        s for s in system_tables.all_steps() if s["workflow_uuid"] == "parent-2"
    ]


def test_deleting_a_running_workflow_stops_it(gated: tuple[Gate, Any]) -> None:
    gate, two_steps = gated
    with SetWorkflowID("doomed"):
        DBOS.start_workflow(two_steps)
    assert gate.reached.wait(10)
    DBOS.delete_workflow("doomed")
    gate.release.set()
    assert gate.finished.wait(10)
    assert gate.after == []  # its next step did not run
    assert DBOS.get_workflow_status("doomed") is None
    assert DBOS.list_workflow_steps("doomed") == []


def test_management_calls_inside_a_workflow_run_once_and_replay(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    calls: list[str] = []

    @DBOS.workflow()
    def target() -> None:
        return None

    @DBOS.workflow()
    def manager() -> int:
        calls.append("run")
        DBOS.cancel_workflow("target")
        DBOS.resume_workflow("target")
        DBOS.update_workflow_attributes("target", {"seen": True})
        DBOS.delete_workflow("gone")
        return len(DBOS.list_workflows(workflow_ids=["target"]))

    launch(config)  # after registering: recovery runs only this code version's workflows
    with SetWorkflowID("target"):
        DBOS.enqueue_workflow("unserved", target)
    with SetWorkflowID("manager"):
        assert manager() == 1
    names = [s["function_name"] for s in DBOS.list_workflow_steps("manager")]
    assert names == [
        "DBOS.cancelWorkflow", "DBOS.resumeWorkflow", "DBOS.updateWorkflowAttributes",
        "DBOS.deleteWorkflow", "DBOS.listWorkflows",
    ]  # fmt: skip
    # A replay returns what was recorded, even though the database now says otherwise.
    DBOS.get_result("target")
    DBOS.delete_workflow("target")
    system_tables.force_pending("manager")
    relaunch(config)
    assert DBOS.get_result("manager") == 1
    assert calls == ["run", "run"]
    assert system_tables.workflow("target") is None  # the recorded resume did not run again


def test_async_forms(dbos: type[DBOS], system_tables: SystemTables) -> None:
    @DBOS.workflow()
    def queued(i: int) -> int:
        return i

    for name in ("x1", "x2", "x3"):
        with SetWorkflowID(name):
            DBOS.enqueue_workflow("unserved", queued, 1)

    async def main() -> Any:
        await DBOS.cancel_workflow_async("x1")
        await DBOS.cancel_workflows_async(["x2", "x3"])
        handle = await DBOS.resume_workflow_async("x1")
        handles = await DBOS.resume_workflows_async(["x2"])
        results = [await handle.get_result(), await handles[0].get_result()]
        await DBOS.delete_workflow_async("x1")
        await DBOS.delete_workflows_async(["x2"])
        return results

    assert asyncio.run(main()) == [1, 1]
    assert [(r["workflow_uuid"], r["status"]) for r in system_tables.workflows()] == [
        ("x3", "CANCELLED")
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda: DBOS.cancel_workflow(""),
        lambda: DBOS.cancel_workflow(5),  # type: ignore[arg-type]
        lambda: DBOS.cancel_workflows("not-a-list"),  # type: ignore[arg-type]
        lambda: DBOS.resume_workflows([None]),  # type: ignore[list-item]
        lambda: DBOS.delete_workflows("x"),  # type: ignore[arg-type]
    ],
)
def test_bad_ids_raise_type_error(dbos: type[DBOS], call: Any) -> None:
    with pytest.raises(TypeError):
        call()


def test_bad_options_raise_dbos_exception(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def wf() -> None:
        return None

    with SetWorkflowID("exists"):
        wf()
    with pytest.raises(DBOSException, match="queue_name must be a non-empty string"):
        DBOS.resume_workflow("exists", queue_name="")
    with pytest.raises(DBOSException, match="cancel_children must be True or False"):
        DBOS.cancel_workflow("exists", cancel_children="yes")  # type: ignore[arg-type]
    with pytest.raises(DBOSException, match="delete_children must be True or False"):
        DBOS.delete_workflow("exists", delete_children=1)  # type: ignore[arg-type]
    assert DBOS.get_workflow_status("exists") is not None


def test_an_async_workflow_checkpoints_its_management_calls(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def target() -> None:
        return None

    @DBOS.workflow()
    async def manager() -> int:
        await DBOS.cancel_workflow_async("target")
        listed = await DBOS.list_workflows_async(status="CANCELLED")
        await DBOS.delete_workflows_async(["target"])
        return len(listed)

    with SetWorkflowID("target"):
        DBOS.enqueue_workflow("unserved", target)

    async def main() -> int:
        with SetWorkflowID("async-manager"):
            return await manager()

    assert asyncio.run(main()) == 1
    names = [s["function_name"] for s in DBOS.list_workflow_steps("async-manager")]
    assert names == ["DBOS.cancelWorkflow", "DBOS.listWorkflows", "DBOS.deleteWorkflow"]
    assert system_tables.workflow("target") is None
