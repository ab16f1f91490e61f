"""Listing workflows, queued workflows and steps: every filter, paging, payloads, scoping."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from system_tables import SystemTables

from dbos import DBOS, Queue, SetWorkflowAttributes, SetWorkflowID, WorkflowStatusString
from dbos.error import DBOSException


def ids(statuses: list[Any]) -> list[str]:
    return [s.workflow_id for s in statuses]


def set_created_at(system_tables: SystemTables, order: list[str]) -> None:
    """Spread creation times 1 s apart in this order, so ordering tests cannot tie."""
    for index, workflow_id in enumerate(order):
        system_tables.execute(
            "UPDATE workflow_status SET created_at = ? WHERE workflow_uuid = ?",
            (1_700_000_000_000 + index * 1000, workflow_id),
        )


@pytest.fixture
def three(dbos: type[DBOS], system_tables: SystemTables) -> dict[str, Any]:
    """Three finished workflows: two of `greet` (one failed), one of `other`."""

    @DBOS.workflow()
    def greet(name: str) -> str:
        if name == "bad":
            raise ValueError("no bad names")
        return f"hello {name}"

    @DBOS.workflow()
    def other() -> int:
        return 7

    with SetWorkflowID("wf-a"):
        greet("ann")
    with SetWorkflowID("wf-b"), pytest.raises(ValueError):
        greet("bad")
    with SetWorkflowID("wf_c"):
        other()
    set_created_at(system_tables, ["wf-a", "wf-b", "wf_c"])
    return {"greet": greet, "other": other}


def test_list_workflows_returns_every_field_of_every_workflow(three: dict[str, Any]) -> None:
    listed = DBOS.list_workflows()
    assert ids(listed) == ["wf-a", "wf-b", "wf_c"]
    a, b, c = listed
    assert (a.status, a.name, a.input, a.output, a.error) == (
        "SUCCESS", three["greet"].__qualname__, {"args": ("ann",), "kwargs": {}}, "hello ann",
        None,
    )  # fmt: skip
    assert b.status == "ERROR" and isinstance(b.error, ValueError) and b.output is None
    assert (c.name, c.output, c.app_version) == (
        three["other"].__qualname__,
        7,
        DBOS.application_version,
    )
    assert a.created_at == 1_700_000_000_000 and a.updated_at is not None
    assert a.completed_at is not None and a.executor_id == "local"
    assert (a.queue_name, a.forked_from, a.was_forked_from, a.parent_workflow_id) == (
        None, None, False, None,
    )  # fmt: skip
    assert a.application_name == "test-app" and a.recovery_attempts == 1


def test_list_filters_by_status_name_and_id_accepting_lists(three: dict[str, Any]) -> None:
    assert ids(DBOS.list_workflows(status="ERROR")) == ["wf-b"]
    assert ids(DBOS.list_workflows(status=WorkflowStatusString.SUCCESS)) == ["wf-a", "wf_c"]
    assert ids(DBOS.list_workflows(status=["ERROR", "SUCCESS"])) == ["wf-a", "wf-b", "wf_c"]
    greet = three["greet"].__qualname__
    assert ids(DBOS.list_workflows(name=greet)) == ["wf-a", "wf-b"]
    assert ids(DBOS.list_workflows(name=greet, status="SUCCESS")) == ["wf-a"]
    assert ids(DBOS.list_workflows(workflow_ids=["wf_c", "wf-a", "missing"])) == ["wf-a", "wf_c"]
    assert DBOS.list_workflows(workflow_ids=[]) == []
    assert DBOS.list_workflows(status=[]) == []


def test_list_orders_by_creation_and_pages(three: dict[str, Any]) -> None:
    assert ids(DBOS.list_workflows(sort_desc=True)) == ["wf_c", "wf-b", "wf-a"]
    assert ids(DBOS.list_workflows(limit=2)) == ["wf-a", "wf-b"]
    assert ids(DBOS.list_workflows(limit=2, offset=2)) == ["wf_c"]
    assert ids(DBOS.list_workflows(offset=1)) == ["wf-b", "wf_c"]
    assert ids(DBOS.list_workflows(limit=1, sort_desc=True, offset=1)) == ["wf-b"]
    assert DBOS.list_workflows(limit=0) == []


def test_time_filters_take_iso_strings_inclusive(
    three: dict[str, Any], system_tables: SystemTables
) -> None:
    # 1_700_000_001_000 ms is 2023-11-14T22:13:21Z, the second workflow's creation time.
    second = "2023-11-14T22:13:21Z"
    assert ids(DBOS.list_workflows(start_time=second)) == ["wf-b", "wf_c"]
    assert ids(DBOS.list_workflows(end_time=second)) == ["wf-a", "wf-b"]
    assert ids(DBOS.list_workflows(start_time=second, end_time="2023-11-14T22:13:21+00:00")) == [
        "wf-b"
    ]
    assert ids(DBOS.list_workflows(end_time="2023-11-14T23:13:20+01:00")) == ["wf-a"]
    system_tables.execute(
        "UPDATE workflow_status SET completed_at = 5000, started_at_epoch_ms = 4000"
    )
    system_tables.execute(
        "UPDATE workflow_status SET completed_at = 9000, started_at_epoch_ms = 8000 "
        "WHERE workflow_uuid = 'wf_c'"
    )
    assert ids(DBOS.list_workflows(completed_after="1970-01-01T00:00:06")) == ["wf_c"]
    assert ids(DBOS.list_workflows(completed_before="1970-01-01T00:00:05")) == ["wf-a", "wf-b"]
    assert ids(DBOS.list_workflows(dequeued_after="1970-01-01T00:00:08Z")) == ["wf_c"]
    assert ids(DBOS.list_workflows(dequeued_before="1970-01-01T00:00:07Z")) == ["wf-a", "wf-b"]


def test_prefix_matches_literally_escaping_like_characters(three: dict[str, Any]) -> None:
    assert ids(DBOS.list_workflows(workflow_id_prefix="wf-")) == ["wf-a", "wf-b"]
    assert ids(DBOS.list_workflows(workflow_id_prefix="wf_")) == ["wf_c"]  # "_" is no wildcard
    assert DBOS.list_workflows(workflow_id_prefix="wf%") == []
    assert ids(DBOS.list_workflows(workflow_id_prefix="")) == ["wf-a", "wf-b", "wf_c"]


def test_load_input_and_load_output_skip_payloads(three: dict[str, Any]) -> None:
    a, b = DBOS.list_workflows(name=three["greet"].__qualname__, load_input=False)
    assert a.input is None and a.output == "hello ann"
    a, b = DBOS.list_workflows(name=three["greet"].__qualname__, load_output=False)
    assert a.input == {"args": ("ann",), "kwargs": {}}
    assert (a.output, b.error, b.status) == (None, None, "ERROR")


def test_identity_filters_user_version_executor_parent_fork(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child() -> None:
        return None

    @DBOS.workflow()
    def parent() -> None:
        child()

    with SetWorkflowID("parent"):
        parent()
    system_tables.execute(
        "UPDATE workflow_status SET authenticated_user = 'alice', application_version = 'v9', "
        "executor_id = 'exec-2', forked_from = 'orig', was_forked_from = ? "
        "WHERE workflow_uuid = 'parent'",
        (True,),
    )
    assert ids(DBOS.list_workflows(user="alice")) == ["parent"]
    assert ids(DBOS.list_workflows(app_version=["v9"])) == ["parent"]
    assert ids(DBOS.list_workflows(executor_id="exec-2")) == ["parent"]
    assert ids(DBOS.list_workflows(forked_from="orig")) == ["parent"]
    assert ids(DBOS.list_workflows(was_forked_from=True)) == ["parent"]
    assert ids(DBOS.list_workflows(was_forked_from=False)) == ["parent-1"]
    assert ids(DBOS.list_workflows(parent_workflow_id="parent")) == ["parent-1"]
    assert ids(DBOS.list_workflows(has_parent=True)) == ["parent-1"]
    assert ids(DBOS.list_workflows(has_parent=False)) == ["parent"]


def test_schedule_name_filter(dbos: type[DBOS], system_tables: SystemTables) -> None:
    @DBOS.workflow()
    def tick() -> None:
        return None

    with SetWorkflowID("scheduled"):
        tick()
    tick()
    system_tables.execute(
        "UPDATE workflow_status SET schedule_name = 'nightly' WHERE workflow_uuid = 'scheduled'"
    )
    assert ids(DBOS.list_workflows(schedule_name="nightly")) == ["scheduled"]
    assert DBOS.list_workflows(schedule_name=["hourly"]) == []


def test_attributes_filter_is_json_containment_on_postgres_and_refused_on_sqlite(
    dbos: type[DBOS], backend: str
) -> None:
    @DBOS.workflow()
    def tagged() -> None:
        return None

    with SetWorkflowID("tagged"), SetWorkflowAttributes({"team": "a", "tier": {"level": 2}}):
        tagged()
    with SetWorkflowID("plain"):
        tagged()
    if backend == "sqlite":
        with pytest.raises(DBOSException, match="attributes"):
            DBOS.list_workflows(attributes={"team": "a"})
        return
    assert ids(DBOS.list_workflows(attributes={"team": "a"})) == ["tagged"]
    assert ids(DBOS.list_workflows(attributes={"tier": {"level": 2}})) == ["tagged"]
    assert DBOS.list_workflows(attributes={"team": "b"}) == []
    assert DBOS.list_workflows(workflow_ids=["tagged"])[0].attributes == {
        "team": "a", "tier": {"level": 2},
    }  # fmt: skip


def test_application_scoping_sees_own_and_unclaimed_rows(
    three: dict[str, Any], system_tables: SystemTables
) -> None:
    system_tables.execute(
        "UPDATE workflow_status SET application_name = 'other-app' WHERE workflow_uuid = 'wf-a'"
    )
    system_tables.execute(
        "UPDATE workflow_status SET application_name = NULL WHERE workflow_uuid = 'wf-b'"
    )
    assert ids(DBOS.list_workflows()) == ["wf-b", "wf_c"]
    # An ID is a global address; an explicit application filter replaces the default scope.
    assert ids(DBOS.list_workflows(workflow_ids=["wf-a"])) == ["wf-a"]
    assert ids(DBOS.list_workflows(application_name="other-app")) == ["wf-a"]
    assert DBOS.list_workflows(workflow_ids=["wf-a"], application_name="test-app") == []


def test_list_queued_workflows_shows_unfinished_queued_work(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("held", worker_concurrency=1)
    release = threading.Event()

    @DBOS.workflow()
    def hold(i: int) -> int:
        release.wait(10)
        return i

    handles = [queue.enqueue(hold, i) for i in range(3)]
    system_tables.wait_for_status(handles[0].workflow_id, {"PENDING"})
    queued = DBOS.list_queued_workflows()
    assert sorted(ids(queued)) == sorted(h.workflow_id for h in handles)
    assert {s.status for s in queued} == {"PENDING", "ENQUEUED"}
    assert ids(DBOS.list_queued_workflows(status="PENDING")) == [handles[0].workflow_id]
    assert DBOS.list_queued_workflows(queue_name="elsewhere") == []
    assert len(DBOS.list_workflows(queues_only=True, queue_name="held")) == 3
    release.set()
    assert [h.get_result() for h in handles] == [0, 1, 2]
    assert DBOS.list_queued_workflows() == []
    assert len(DBOS.list_queued_workflows(status="SUCCESS")) == 3


def test_list_workflow_steps_reports_each_operation(dbos: type[DBOS]) -> None:
    @DBOS.step()
    def ok() -> str:
        return "fine"

    @DBOS.step()
    def fails() -> None:
        raise KeyError("oops")

    @DBOS.workflow()
    def child() -> int:
        return 3

    @DBOS.workflow()
    def flow() -> None:
        ok()
        try:
            fails()
        except KeyError:
            pass
        child()
        DBOS.sleep(0.01)

    with SetWorkflowID("stepped"):
        flow()
    steps = DBOS.list_workflow_steps("stepped")
    assert [s["function_id"] for s in steps] == [1, 2, 3, 4, 5]
    assert [s["function_name"] for s in steps] == [
        ok.__qualname__, fails.__qualname__, child.__qualname__, "DBOS.getResult", "DBOS.sleep",
    ]  # fmt: skip
    assert steps[0]["output"] == "fine" and steps[0]["error"] is None
    assert isinstance(steps[1]["error"], KeyError) and steps[1]["output"] is None
    assert steps[2]["child_workflow_id"] == "stepped-3" and steps[3]["output"] == 3
    assert all(s["started_at_epoch_ms"] <= s["completed_at_epoch_ms"] for s in steps)
    paged = DBOS.list_workflow_steps("stepped", limit=2, offset=1, load_output=False)
    assert [(s["function_id"], s["output"], s["error"]) for s in paged] == [
        (2, None, None), (3, None, None),
    ]  # fmt: skip
    assert DBOS.list_workflow_steps("no-such-workflow") == []


def test_list_calls_inside_a_workflow_are_checkpointed_steps(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def observer() -> tuple[int, int, int]:
        listed = DBOS.list_workflows(workflow_ids=["observer"])
        queued = DBOS.list_queued_workflows()
        steps = DBOS.list_workflow_steps("observer")
        return len(listed), len(queued), len(steps)

    with SetWorkflowID("observer"):
        assert observer() == (1, 0, 2)
    names = [s["function_name"] for s in DBOS.list_workflow_steps("observer")]
    assert names == ["DBOS.listWorkflows", "DBOS.listQueuedWorkflows", "DBOS.listWorkflowSteps"]
    recorded = DBOS.list_workflow_steps("observer")[2]["output"]
    assert [s["function_name"] for s in recorded] == names[:2]


def test_async_forms_return_the_same_as_sync(three: dict[str, Any]) -> None:
    async def main() -> tuple[Any, ...]:
        return (
            await DBOS.list_workflows_async(status="SUCCESS"),
            await DBOS.list_queued_workflows_async(),
            await DBOS.list_workflow_steps_async("wf-a"),
        )

    listed, queued, steps = asyncio.run(main())
    assert ids(listed) == ["wf-a", "wf_c"] and queued == [] and steps == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "RUNNING"}, "Invalid workflow status 'RUNNING'"),
        ({"status": 3}, "status must be a string or a list of strings"),
        ({"name": ["ok", 1]}, "name must be a string or a list of strings"),
        ({"start_time": "yesterday"}, "start_time must be an ISO-8601 time"),
        ({"end_time": 12}, "end_time must be an ISO-8601 string"),
        ({"limit": -1}, "limit must be an integer >= 0"),
        ({"offset": 1.5}, "offset must be an integer >= 0"),
        ({"sort_desc": "yes"}, "sort_desc must be True or False"),
        ({"has_parent": 1}, "has_parent must be True, False or None"),
        ({"attributes": ["a"]}, "attributes must be a dict"),
        ({"workflow_id_prefix": 5}, "workflow_id_prefix must be a string"),
    ],
)
def test_invalid_filters_raise_dbos_exception(
    three: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DBOSException, match=message):
        DBOS.list_workflows(**kwargs)


def test_invalid_step_listing_arguments(three: dict[str, Any]) -> None:
    with pytest.raises(DBOSException, match="limit must be an integer >= 0"):
        DBOS.list_workflow_steps("wf-a", limit=-2)
    with pytest.raises(TypeError):
        DBOS.list_workflow_steps("")
