"""DBOS.set_event / get_event / get_all_events: values a workflow publishes for anyone."""

from __future__ import annotations

import asyncio

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException

FINISHED = {"SUCCESS", "ERROR"}


def test_an_event_set_by_a_workflow_is_read_from_outside(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def publisher() -> None:
        DBOS.set_event("progress", 1)
        DBOS.set_event("progress", 2)  # the latest value wins
        DBOS.set_event("empty", None)

    with SetWorkflowID("publisher"):
        publisher()
    assert DBOS.get_event("publisher", "progress", timeout_seconds=0) == 2
    assert DBOS.get_event("publisher", "empty", timeout_seconds=0) is None
    assert DBOS.get_all_events("publisher") == {"progress": 2, "empty": None}
    assert [r["function_name"] for r in system_tables.steps("publisher")] == ["DBOS.setEvent"] * 3
    history = system_tables.execute(
        "SELECT function_id, key FROM workflow_events_history WHERE workflow_uuid = ? "
        "ORDER BY function_id",
        ("publisher",),
    )
    assert [(r["function_id"], r["key"]) for r in history] == [
        (1, "progress"),
        (2, "progress"),
        (3, "empty"),
    ]


def test_get_event_waits_for_the_event(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def slow_publisher() -> None:
        DBOS.recv("go", timeout_seconds=10)
        DBOS.set_event("ready", "yes")

    handle = DBOS.start_workflow(slow_publisher)
    DBOS.send(handle.workflow_id, None, "go")
    assert DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=10) == "yes"
    handle.get_result()


def test_get_event_returns_none_on_timeout_even_for_a_missing_workflow(dbos: type[DBOS]) -> None:
    assert DBOS.get_event("no-such-workflow", "key", timeout_seconds=0.05) is None
    assert DBOS.get_event("no-such-workflow", "key", timeout_seconds=0) is None
    assert DBOS.get_all_events("no-such-workflow") == {}


def test_set_event_from_a_step_is_not_checkpointed(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def publishing_step() -> None:
        DBOS.set_event("from-step", "step value")

    @DBOS.workflow()
    def workflow() -> None:
        publishing_step()

    with SetWorkflowID("step-publisher"):
        workflow()
    assert DBOS.get_event("step-publisher", "from-step", timeout_seconds=0) == "step value"
    steps = system_tables.steps("step-publisher")
    assert len(steps) == 1 and steps[0]["function_name"].endswith("publishing_step")
    (history,) = system_tables.execute("SELECT function_id FROM workflow_events_history")
    assert history["function_id"] == 1  # the step's own function ID


def test_set_event_outside_a_workflow_is_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(
        DBOSException, match=r"set_event\(\) must be called from within a workflow or step"
    ):
        DBOS.set_event("key", "value")


def test_get_event_inside_a_workflow_is_checkpointed_and_replayed(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def publisher() -> None:
        DBOS.set_event("v", "first")

    @DBOS.workflow()
    def reader() -> object:
        return DBOS.get_event("pub", "v", timeout_seconds=0)

    launch(config)
    with SetWorkflowID("pub"):
        publisher()
    with SetWorkflowID("reader"):
        assert reader() == "first"
    system_tables.execute(
        "UPDATE workflow_events_history SET value = ? WHERE key = 'v'", ("changed",)
    )
    system_tables.force_pending("reader")
    relaunch(config)
    assert system_tables.wait_for_status("reader", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("reader") == "first"  # replayed from the checkpoint
    names = [(r["function_id"], r["function_name"]) for r in system_tables.steps("reader")]
    assert names == [(1, "DBOS.getEvent")]  # found at once: no timeout row at ID 2


def test_get_event_that_times_out_in_a_workflow_records_none_and_its_deadline(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def impatient() -> object:
        return DBOS.get_event("nobody", "v", timeout_seconds=0.05)

    with SetWorkflowID("impatient"):
        assert impatient() is None
    names = [(r["function_id"], r["function_name"]) for r in system_tables.steps("impatient")]
    assert names == [(1, "DBOS.getEvent"), (2, "DBOS.sleep")]


def test_get_all_events_inside_a_workflow_is_a_step(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def lister() -> dict[str, object]:
        DBOS.set_event("a", 1)
        return DBOS.get_all_events(DBOS.workflow_id or "")

    with SetWorkflowID("lister"):
        assert lister() == {"a": 1}
    assert [r["function_name"] for r in system_tables.steps("lister")] == [
        "DBOS.setEvent",
        "DBOS.get_events",
    ]


def test_bad_arguments_are_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(TypeError):
        DBOS.get_event("", "key")
    with pytest.raises(TypeError):
        DBOS.get_event("wf", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DBOS.get_event("wf", "key", timeout_seconds="soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DBOS.get_all_events(None)  # type: ignore[arg-type]

    @DBOS.workflow()
    def bad_key() -> None:
        DBOS.set_event(7, "value")  # type: ignore[arg-type]

    with pytest.raises(TypeError):
        bad_key()


def test_async_events(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def async_publisher() -> None:
        await DBOS.recv_async("go", timeout_seconds=10)
        await DBOS.set_event_async("k", "async value")

    async def main() -> tuple[object, dict[str, object]]:
        handle = await DBOS.start_workflow_async(async_publisher)
        waiting = asyncio.ensure_future(
            DBOS.get_event_async(handle.workflow_id, "k", timeout_seconds=10)
        )
        await DBOS.send_async(handle.workflow_id, None, "go")
        value = await waiting
        await handle.get_result()
        return value, await DBOS.get_all_events_async(handle.workflow_id)

    assert asyncio.run(main()) == ("async value", {"k": "async value"})
