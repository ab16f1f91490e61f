"""DBOS.enqueue_workflow_with_options: enqueue by workflow name, as a client builds the row."""

from __future__ import annotations

import asyncio
import json

import pytest
from system_tables import SystemTables

from dbos import (
    DBOS,
    DBOSConfiguredInstance,
    DBOSContextSetAuth,
    EnqueueOptions,
    Queue,
    SetEnqueueOptions,
    SetWorkflowAttributes,
    SetWorkflowID,
    SetWorkflowTimeout,
)
from dbos.error import DBOSException, DBOSNotAuthorizedError, DBOSWorkflowIDInUseError


def test_a_workflow_enqueued_by_name_waits_unversioned_and_runs_when_served(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def add(a: int, b: int) -> int:
        return a + b

    options: EnqueueOptions = {"workflow_name": add.__qualname__, "queue_name": "by-name"}
    with SetWorkflowID("by-name"):
        handle = DBOS.enqueue_workflow_with_options(options, 2, b=3)
    row = system_tables.workflow("by-name")
    assert row is not None
    assert (row["status"], row["queue_name"], row["recovery_attempts"]) == (
        "ENQUEUED",
        "by-name",
        0,
    )
    assert (row["application_version"], row["executor_id"], row["priority"]) == (None, None, 0)
    assert row["application_name"] == "test-app"
    Queue("by-name", polling_interval_sec=0.05)
    assert handle.get_result() == 5
    row = system_tables.workflow("by-name")
    assert row is not None and row["application_version"] == DBOS.application_version


def test_options_make_the_row(dbos: type[DBOS], system_tables: SystemTables) -> None:
    options: EnqueueOptions = {
        "workflow_name": "not.registered.here",
        "queue_name": "elsewhere",
        "workflow_id": "optioned",
        "app_version": "v-pinned",
        "workflow_timeout": 2.5,
        "deduplication_id": "dedup",
        "priority": 7,
        "max_recovery_attempts": 3,
        "authenticated_user": "ann",
        "authenticated_roles": ["reader"],
        "class_name": "Cls",
        "instance_name": "inst",
        "attributes": {"team": "blue"},
        "application_name": "other-app",
        "otel_context": {"traceparent": "00-abc-def-01"},
    }
    handle = DBOS.enqueue_workflow_with_options(options, 1)
    assert handle.workflow_id == "optioned"
    row = system_tables.workflow("optioned")
    assert row is not None
    assert {k: row[k] for k in ("name", "queue_name", "application_version", "priority")} == {
        "name": "not.registered.here",
        "queue_name": "elsewhere",
        "application_version": "v-pinned",
        "priority": 7,
    }
    assert (row["workflow_timeout_ms"], row["workflow_deadline_epoch_ms"]) == (2500, None)
    assert (row["deduplication_id"], row["application_name"]) == ("dedup", "other-app")
    assert (row["authenticated_user"], json.loads(row["authenticated_roles"])) == (
        "ann",
        ["reader"],
    )
    assert (row["class_name"], row["config_name"]) == ("Cls", "inst")
    attributes = row["attributes"]
    attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
    assert attributes == {"team": "blue", "dbos.otelContext": {"traceparent": "00-abc-def-01"}}


def test_ambient_settings_fill_in_unset_options(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    base: EnqueueOptions = {"workflow_name": "wf", "queue_name": "unserved"}
    with (
        SetWorkflowID("ambient"),
        SetEnqueueOptions(priority=4, app_version="v-ambient", delay_seconds=3600),
        SetWorkflowTimeout(9),
        SetWorkflowAttributes({"from": "context"}),
        DBOSContextSetAuth("bob", ["ops"]),
    ):
        DBOS.enqueue_workflow_with_options(base)
        # An option that is set wins over the ambient value.
        DBOS.enqueue_workflow_with_options({**base, "workflow_id": "explicit", "priority": 1})
    row = system_tables.workflow("ambient")
    assert row is not None
    assert (row["status"], row["priority"], row["application_version"]) == (
        "DELAYED",
        4,
        "v-ambient",
    )
    assert row["delay_until_epoch_ms"] is not None and row["workflow_timeout_ms"] == 9000
    assert (row["authenticated_user"], row["parent_workflow_id"]) == ("bob", None)
    explicit = system_tables.workflow("explicit")
    assert explicit is not None and explicit["priority"] == 1


def test_enqueue_with_options_inside_a_workflow_is_a_child_enqueued_once(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("by-name-children", polling_interval_sec=0.05)

    @DBOS.workflow()
    def child(x: int) -> int:
        return x * 10

    @DBOS.workflow()
    def parent() -> int:
        options: EnqueueOptions = {"workflow_name": child.__qualname__, "queue_name": queue.name}
        return int(DBOS.enqueue_workflow_with_options(options, 4).get_result())

    with SetWorkflowID("parent"):
        assert parent() == 40
    with SetWorkflowID("parent"):
        assert parent() == 40
    child_row = system_tables.workflow("parent-1")
    assert child_row is not None and child_row["parent_workflow_id"] == "parent"
    assert child_row["recovery_attempts"] == 1  # enqueued and run once
    assert [
        (s["function_name"], s["child_workflow_id"]) for s in system_tables.steps("parent")
    ] == [
        (child.__qualname__, "parent-1"),
        ("DBOS.getResult", "parent-1"),
    ]


def test_a_method_is_enqueued_by_class_and_instance_name(dbos: type[DBOS]) -> None:
    queue = Queue("by-name-methods", polling_interval_sec=0.05)

    @DBOS.dbos_class()
    class Greeter(DBOSConfiguredInstance):
        @DBOS.workflow()
        def greet(self, who: str) -> str:
            return f"{self.config_name} greets {who}"

    Greeter("polite")
    options: EnqueueOptions = {
        "workflow_name": f"{Greeter.__qualname__}.greet",
        "queue_name": queue.name,
        "class_name": Greeter.__qualname__,
        "instance_name": "polite",
    }
    assert DBOS.enqueue_workflow_with_options(options, "you").get_result() == "polite greets you"


def test_roles_given_in_options_are_checked_when_the_workflow_is_dequeued(
    dbos: type[DBOS],
) -> None:
    queue = Queue("by-name-roles", polling_interval_sec=0.05)

    @DBOS.required_roles(["admin"])
    @DBOS.workflow()
    def guarded() -> str | None:
        return DBOS.assumed_role

    options: EnqueueOptions = {"workflow_name": guarded.__qualname__, "queue_name": queue.name}
    denied = DBOS.enqueue_workflow_with_options({**options, "authenticated_roles": ["guest"]})
    with DBOSContextSetAuth(None, None):  # no ambient authentication to fill in
        anonymous = DBOS.enqueue_workflow_with_options(options)
    admitted = DBOS.enqueue_workflow_with_options(
        {**options, "authenticated_user": "root", "authenticated_roles": ["admin"]}
    )
    with pytest.raises(DBOSNotAuthorizedError, match="not authenticated for any"):
        denied.get_result()
    with pytest.raises(DBOSNotAuthorizedError, match="without authentication"):
        anonymous.get_result()
    assert admitted.get_result() == "admin"
    assert denied.get_status().status == "ERROR"


def test_portable_serialization_by_name(dbos: type[DBOS], system_tables: SystemTables) -> None:
    queue = Queue("by-name-portable", polling_interval_sec=0.05)

    @DBOS.workflow()
    def echo(values: list[int]) -> int:
        return sum(values)

    options: EnqueueOptions = {
        "workflow_name": echo.__qualname__,
        "queue_name": queue.name,
        "workflow_id": "portable",
        "serialization_type": "portable",
    }
    assert DBOS.enqueue_workflow_with_options(options, [1, 2, 3]).get_result() == 6
    row = system_tables.workflow("portable")
    assert row is not None and row["serialization"] == "portable_json"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"queue_name": "q"}, DBOSException, "workflow_name"),
        ({"workflow_name": "wf"}, DBOSException, "queue_name"),
        ({"workflow_name": "wf", "queue_name": "q", "workflow_id": " "}, DBOSException, "_id"),
        ({"workflow_name": "wf", "queue_name": "q", "priority": 0}, Exception, "Invalid priority"),
        ({"workflow_name": "wf", "queue_name": "q", "delay_seconds": -1}, DBOSException, "delay"),
        ({"workflow_name": "wf", "queue_name": "q", "colour": "red"}, DBOSException, "colour"),
        (
            {"workflow_name": "wf", "queue_name": "q", "deduplication_id": "d",
             "queue_partition_key": "k"},
            DBOSException,
            "Deduplication is not supported for partitioned queues",
        ),
        (
            {"workflow_name": "wf", "queue_name": "q", "duplication_policy": "return-existing"},
            DBOSException,
            "deduplication_id",
        ),
        ({"workflow_name": "wf", "queue_name": "q", "attributes": {"x": object()}}, DBOSException,
         "Invalid"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_before_anything_is_written(
    dbos: type[DBOS],
    system_tables: SystemTables,
    options: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        DBOS.enqueue_workflow_with_options(options)  # type: ignore[arg-type]
    assert system_tables.workflows() == []


def test_the_async_twin_enqueues_by_name(dbos: type[DBOS]) -> None:
    queue = Queue("by-name-async", polling_interval_sec=0.05)

    @DBOS.workflow()
    async def triple(x: int) -> int:
        return x * 3

    async def main() -> int:
        options: EnqueueOptions = {"workflow_name": triple.__qualname__, "queue_name": queue.name}
        handle = await DBOS.enqueue_workflow_with_options_async(options, 5)
        return int(await handle.get_result())

    assert asyncio.run(main()) == 15


def test_an_existing_workflow_id_is_returned_or_refused_by_reuse_policy(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    options: EnqueueOptions = {"workflow_name": "wf", "queue_name": "unserved", "workflow_id": "w"}
    assert DBOS.enqueue_workflow_with_options(options, 1).workflow_id == "w"
    assert DBOS.enqueue_workflow_with_options(options, 2).workflow_id == "w"  # idempotent
    with pytest.raises(DBOSWorkflowIDInUseError):
        DBOS.enqueue_workflow_with_options({**options, "workflow_id_reuse_policy": "reject"})
    with pytest.raises(DBOSException, match="workflow_id_reuse_policy"):
        DBOS.enqueue_workflow_with_options({**options, "workflow_id_reuse_policy": "maybe"})  # type: ignore[typeddict-item]
    assert [w["workflow_uuid"] for w in system_tables.workflows()] == ["w"]
