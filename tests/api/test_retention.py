"""Garbage collection, global timeouts, attributes and application versions."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from system_tables import SystemTables

from dbos import DBOS, SetWorkflowAttributes, SetWorkflowID
from dbos.error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSException,
    DBOSNonExistentWorkflowError,
)


@pytest.fixture
def history(dbos: type[DBOS], system_tables: SystemTables) -> dict[str, Any]:
    """Ten finished workflows created at t = 0, 10, ..., 90 (ms), each with a step, plus an
    old ENQUEUED one at t = 5 and one of another application at t = 15."""

    @DBOS.step()
    def work(i: int) -> int:
        return i

    @DBOS.workflow()
    def finished(i: int) -> int:
        return work(i)

    @DBOS.workflow()
    def waiting() -> None:
        return None

    for i in range(10):
        with SetWorkflowID(f"done-{i}"):
            finished(i)
        system_tables.execute(
            "UPDATE workflow_status SET created_at = ? WHERE workflow_uuid = ?",
            (i * 10, f"done-{i}"),
        )
    with SetWorkflowID("old-but-queued"):
        DBOS.enqueue_workflow("unserved", waiting)
    with SetWorkflowID("foreign"):
        finished(99)
    system_tables.execute(
        "UPDATE workflow_status SET created_at = 5 WHERE workflow_uuid = 'old-but-queued'"
    )
    system_tables.execute(
        "UPDATE workflow_status SET created_at = 15, application_name = 'other-app' "
        "WHERE workflow_uuid = 'foreign'"
    )
    return {"finished": finished}


def remaining(system_tables: SystemTables) -> list[str]:
    return [r["workflow_uuid"] for r in system_tables.workflows()]


def test_gc_deletes_finished_workflows_before_the_cutoff_in_batches(
    history: dict[str, Any], system_tables: SystemTables
) -> None:
    deleted = DBOS.garbage_collect(cutoff_epoch_timestamp_ms=45, batch_size=2)
    assert deleted == 5  # t = 0 to 40; not the active one, nor another application's
    assert remaining(system_tables) == [
        "old-but-queued", "foreign", "done-5", "done-6", "done-7", "done-8", "done-9",
    ]  # fmt: skip
    assert {s["workflow_uuid"] for s in system_tables.all_steps()} == {
        "done-5", "done-6", "done-7", "done-8", "done-9", "foreign",
    }  # fmt: skip


def test_gc_rows_threshold_keeps_the_newest_rows(
    history: dict[str, Any], system_tables: SystemTables
) -> None:
    # This application sees 11 rows; keeping the newest 3 moves the cutoff to t = 70.
    assert DBOS.garbage_collect(rows_threshold=3) == 7
    assert remaining(system_tables) == ["old-but-queued", "foreign", "done-7", "done-8", "done-9"]
    # Both bounds: the later cutoff wins.
    assert DBOS.garbage_collect(cutoff_epoch_timestamp_ms=85, rows_threshold=3) == 2
    assert remaining(system_tables) == ["old-but-queued", "foreign", "done-9"]


def test_gc_never_deletes_active_workflows_nor_waits_for_running_ones(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def running() -> str:
        release.wait(10)
        return "survived"

    with SetWorkflowID("running"):
        handle = DBOS.start_workflow(running)
    system_tables.execute("UPDATE workflow_status SET created_at = 1")
    assert DBOS.garbage_collect(cutoff_epoch_timestamp_ms=10**15) == 0
    release.set()
    assert handle.get_result() == "survived"
    assert DBOS.garbage_collect(cutoff_epoch_timestamp_ms=10**15) == 1
    assert remaining(system_tables) == []


def test_gc_without_bounds_deletes_nothing_and_refuses_bad_arguments(
    history: dict[str, Any], system_tables: SystemTables
) -> None:
    assert DBOS.garbage_collect() == 0
    assert len(remaining(system_tables)) == 12
    with pytest.raises(DBOSException, match="rows_threshold must be an integer >= 1"):
        DBOS.garbage_collect(rows_threshold=0)
    with pytest.raises(DBOSException, match="batch_size must be an integer >= 1"):
        DBOS.garbage_collect(cutoff_epoch_timestamp_ms=5, batch_size=0)
    with pytest.raises(DBOSException, match="cutoff_epoch_timestamp_ms"):
        DBOS.garbage_collect(cutoff_epoch_timestamp_ms="2024-01-01")  # type: ignore[arg-type]
    assert len(remaining(system_tables)) == 12


def test_global_timeout_cancels_active_workflows_created_by_the_cutoff(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    started, release = threading.Event(), threading.Event()

    @DBOS.step()
    def wait_here() -> None:
        started.set()
        release.wait(10)

    @DBOS.workflow()
    def slow() -> None:
        wait_here()
        wait_here()

    @DBOS.workflow()
    def waiting() -> None:
        return None

    with SetWorkflowID("slow"):
        handle = DBOS.start_workflow(slow)
    assert started.wait(10)
    for name in ("old-queued", "new-queued"):
        with SetWorkflowID(name):
            DBOS.enqueue_workflow("unserved", waiting)
    system_tables.execute(
        "UPDATE workflow_status SET created_at = 100 WHERE workflow_uuid IN ('slow', 'old-queued')"
    )
    system_tables.execute(
        "UPDATE workflow_status SET created_at = 300 WHERE workflow_uuid = 'new-queued'"
    )
    assert DBOS.global_timeout(200) == 2
    release.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    statuses = {r["workflow_uuid"]: r["status"] for r in system_tables.workflows()}
    assert statuses == {"slow": "CANCELLED", "old-queued": "CANCELLED", "new-queued": "ENQUEUED"}
    with pytest.raises(DBOSException, match="cutoff_epoch_timestamp_ms"):
        DBOS.global_timeout(None)  # type: ignore[arg-type]


def test_update_workflow_attributes_replaces_merges_and_clears(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def tagged() -> None:
        return None

    with SetWorkflowID("tagged"), SetWorkflowAttributes({"a": 1, "b": {"x": 1}}):
        tagged()

    def attributes() -> Any:
        status = DBOS.get_workflow_status("tagged")
        assert status is not None
        return status.attributes

    DBOS.update_workflow_attributes("tagged", {"b": {"y": 2}, "c": 3}, merge=True)
    assert attributes() == {"a": 1, "b": {"y": 2}, "c": 3}  # top-level keys only
    DBOS.update_workflow_attributes("tagged", {"z": 0})
    assert attributes() == {"z": 0}
    DBOS.update_workflow_attributes("tagged", None, merge=True)
    assert attributes() == {"z": 0}
    DBOS.update_workflow_attributes("tagged", None)
    assert attributes() is None
    DBOS.update_workflow_attributes("tagged", {"new": True}, merge=True)
    assert attributes() == {"new": True}


def test_update_workflow_attributes_refuses_bad_input(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def tagged() -> None:
        return None

    with SetWorkflowID("tagged"), SetWorkflowAttributes({"keep": 1}):
        tagged()
    with pytest.raises(DBOSNonExistentWorkflowError):
        DBOS.update_workflow_attributes("missing", {"a": 1})
    for bad in (["a"], {"a": object()}, {1: "a"}):
        with pytest.raises(DBOSException, match="attributes must be"):
            DBOS.update_workflow_attributes("tagged", bad)  # type: ignore[arg-type]
    with pytest.raises(DBOSException, match="merge must be True or False"):
        DBOS.update_workflow_attributes("tagged", {"a": 1}, merge="yes")  # type: ignore[arg-type]
    status = DBOS.get_workflow_status("tagged")
    assert status is not None and status.attributes == {"keep": 1}


def test_application_versions_list_latest_and_promote(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    current = DBOS.application_version
    system_tables.execute(
        "INSERT INTO application_versions (version_id, version_name, version_timestamp, "
        "created_at, application_name) VALUES ('old-id', 'v-old', 1, 1, 'test-app'), "
        "('free-id', 'v-free', 2, 2, NULL), ('foreign-id', 'v-foreign', 3, 3, 'other-app')"
    )
    versions = DBOS.list_application_versions()
    assert [v["version_name"] for v in versions] == [current, "v-free", "v-old"]
    assert DBOS.get_latest_application_version()["version_name"] == current
    DBOS.set_latest_application_version("v-old")
    latest = DBOS.get_latest_application_version()
    assert (latest["version_name"], latest["created_at"]) == ("v-old", 1)
    assert latest["version_timestamp"] > versions[0]["version_timestamp"] - 1
    DBOS.set_latest_application_version("v-free")  # promotion claims an unclaimed version
    latest = DBOS.get_latest_application_version()
    assert (latest["version_name"], latest["application_name"]) == ("v-free", "test-app")
    with pytest.raises(DBOSException, match="Unknown application version"):
        DBOS.set_latest_application_version("v-foreign")
    with pytest.raises(DBOSException, match="version_name"):
        DBOS.set_latest_application_version("")


def test_no_registered_version_raises(dbos: type[DBOS], system_tables: SystemTables) -> None:
    system_tables.execute("DELETE FROM application_versions")
    assert DBOS.list_application_versions() == []
    with pytest.raises(DBOSException, match="No application versions"):
        DBOS.get_latest_application_version()


def test_async_forms(history: dict[str, Any], system_tables: SystemTables) -> None:
    async def main() -> tuple[Any, ...]:
        await DBOS.update_workflow_attributes_async("done-9", {"k": "v"})
        deleted = await DBOS.garbage_collect_async(cutoff_epoch_timestamp_ms=25)
        cancelled = await DBOS.global_timeout_async(10)
        versions = await DBOS.list_application_versions_async()
        latest = await DBOS.get_latest_application_version_async()
        await DBOS.set_latest_application_version_async(latest["version_name"])
        return deleted, cancelled, versions, latest

    deleted, cancelled, versions, latest = asyncio.run(main())
    assert (deleted, cancelled) == (3, 1)
    assert versions[0] == latest
    assert system_tables.workflow("done-9")["attributes"] in ('{"k": "v"}', {"k": "v"})  # type: ignore[index]
