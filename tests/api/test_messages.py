"""DBOS.send / send_bulk / recv: durable messages between workflows, oldest first."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import (
    DBOS,
    DBOSConfig,
    SendMessage,
    SetWorkflowID,
    SetWorkflowTimeout,
    WorkflowSerializationFormat,
)
from dbos.error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSWorkflowConflictIDError,
)

FINISHED = {"SUCCESS", "ERROR"}


def _receiver(topic: str | None = None, count: int = 1, timeout: float = 10):  # type: ignore[no-untyped-def]
    @DBOS.workflow(name=f"receiver-{uuid.uuid4().hex[:6]}")
    def receiver() -> list[object]:
        return [DBOS.recv(topic, timeout_seconds=timeout) for _ in range(count)]

    return receiver


def test_a_message_sent_from_outside_reaches_a_waiting_recv(dbos: type[DBOS]) -> None:
    receiver = _receiver("greeting")
    handle = DBOS.start_workflow(receiver)
    DBOS.send(handle.workflow_id, {"hello": "world"}, "greeting")
    assert handle.get_result() == [{"hello": "world"}]


def test_messages_are_received_oldest_first_and_per_topic(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def mailbox() -> tuple[list[object], list[object]]:
        DBOS.recv("go", timeout_seconds=10)
        a = [DBOS.recv("a", timeout_seconds=0) for _ in range(3)]
        b = [DBOS.recv(None, timeout_seconds=0) for _ in range(2)]
        return a, b

    handle = DBOS.start_workflow(mailbox)
    for i in range(3):
        DBOS.send(handle.workflow_id, f"a{i}", "a")
        DBOS.send(handle.workflow_id, f"none{i}")
    DBOS.send(handle.workflow_id, "go", "go")
    assert handle.get_result() == (["a0", "a1", "a2"], ["none0", "none1"])


def test_recv_times_out_with_none_and_records_both_function_ids(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def lonely() -> object:
        return DBOS.recv("nothing", timeout_seconds=0.05)

    with SetWorkflowID("lonely"):
        assert lonely() is None
    names = [(r["function_id"], r["function_name"]) for r in system_tables.steps("lonely")]
    assert names == [(1, "DBOS.recv"), (2, "DBOS.sleep")]


def test_recv_that_finds_its_message_records_no_timeout_row(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def ready() -> object:
        DBOS.recv("go", timeout_seconds=10)  # IDs 1 (and 2 if it had to wait)
        return DBOS.recv("data", timeout_seconds=10)  # IDs 3 and 4

    handle = DBOS.start_workflow(ready)
    DBOS.send(handle.workflow_id, "early", "data")  # there before the second recv runs
    DBOS.send(handle.workflow_id, None, "go")
    assert handle.get_result() == "early"
    rows = {r["function_id"]: r["function_name"] for r in system_tables.steps(handle.workflow_id)}
    assert rows[1] == rows[3] == "DBOS.recv"
    assert 4 not in rows  # the second recv's timeout was never needed


def test_a_message_of_none_is_delivered_as_none(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def gets_none() -> list[object]:
        return [DBOS.recv(timeout_seconds=10), DBOS.recv(timeout_seconds=10)]

    handle = DBOS.start_workflow(gets_none)
    DBOS.send(handle.workflow_id, None)
    DBOS.send(handle.workflow_id, "after")
    assert handle.get_result() == [None, "after"]


def test_send_from_a_workflow_is_a_checkpointed_step_sent_exactly_once(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    receiver = _receiver(count=1, timeout=0.2)

    @DBOS.workflow()
    def sender(destination: str) -> None:
        DBOS.send(destination, "once")

    launch(config)  # workflows registered first: recovery must find them
    target = DBOS.start_workflow(receiver)
    with SetWorkflowID("sender"):
        sender(target.workflow_id)
    system_tables.force_pending("sender")
    relaunch(config)  # recovery replays the workflow: the recorded send is skipped
    assert system_tables.wait_for_status("sender", FINISHED)["status"] == "SUCCESS"
    assert [r["function_name"] for r in system_tables.steps("sender")] == ["DBOS.send"]
    rows = system_tables.execute(
        "SELECT * FROM notifications WHERE destination_uuid = ?", (target.workflow_id,)
    )
    assert len(rows) == 1


def test_an_idempotency_key_delivers_one_message_however_often_it_is_sent(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    receiver = _receiver(count=2, timeout=0.3)
    handle = DBOS.start_workflow(receiver)
    for _ in range(3):
        DBOS.send(handle.workflow_id, "paid", idempotency_key="payment-1")
    assert handle.get_result() == ["paid", None]
    rows = system_tables.execute("SELECT message_uuid FROM notifications")
    assert [r["message_uuid"] for r in rows] == [f"payment-1::{handle.workflow_id}"]


def test_sending_to_a_missing_workflow_raises_and_writes_nothing(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    with pytest.raises(DBOSNonExistentWorkflowError) as caught:
        DBOS.send("nobody", "hello")
    assert caught.value.workflow_id == "nobody"
    assert "destination" in str(caught.value)
    assert system_tables.execute("SELECT * FROM notifications") == []


def test_a_failed_send_from_a_workflow_leaves_no_checkpoint(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def bad_sender() -> str:
        try:
            DBOS.send("nobody", "hello")
        except DBOSNonExistentWorkflowError:
            return "refused"
        return "sent"

    with SetWorkflowID("bad-sender"):
        assert bad_sender() == "refused"
    assert system_tables.steps("bad-sender") == []


def test_recv_outside_a_workflow_is_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSException, match=r"recv\(\) must be called from within a workflow"):
        DBOS.recv("topic", timeout_seconds=0)


def test_recv_inside_a_step_is_refused(dbos: type[DBOS]) -> None:
    @DBOS.step()
    def step_that_receives() -> object:
        return DBOS.recv(timeout_seconds=0)

    @DBOS.workflow()
    def workflow() -> object:
        return step_that_receives()

    with pytest.raises(DBOSException, match="must be called from within a workflow"):
        workflow()


def test_two_concurrent_recvs_on_one_topic_conflict(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def double_reader() -> tuple[str, object]:
        # Tasks start in creation order: the first registers its wait before the second runs.
        first = asyncio.create_task(DBOS.recv_async("t", timeout_seconds=10))
        second = asyncio.create_task(DBOS.recv_async("t", timeout_seconds=10))
        try:
            await second
            outcome = "no conflict"
        except DBOSWorkflowConflictIDError:
            outcome = "conflict"
        await DBOS.send_async(DBOS.workflow_id or "", "for the first", "t")
        return outcome, await first

    assert asyncio.run(double_reader()) == ("conflict", "for the first")


def test_bad_arguments_are_refused_before_anything_is_written(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    receiver = _receiver(timeout=0.1)
    handle = DBOS.start_workflow(receiver)
    with pytest.raises(TypeError):
        DBOS.send("", "x")
    with pytest.raises(TypeError):
        DBOS.send(handle.workflow_id, "x", topic=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DBOS.send(handle.workflow_id, "x", idempotency_key="")
    with pytest.raises(TypeError):
        DBOS.send_bulk(["not a message"])  # type: ignore[list-item]
    with pytest.raises(DBOSException, match="send_bulk received duplicate idempotency keys"):
        DBOS.send_bulk(
            [
                SendMessage(handle.workflow_id, 1, idempotency_key="k"),
                SendMessage(handle.workflow_id, 2, idempotency_key="k"),
            ]
        )
    assert system_tables.execute("SELECT * FROM notifications") == []
    assert handle.get_result() == [None]


def test_send_bulk_delivers_every_message_in_one_step(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    first = DBOS.start_workflow(_receiver("x", count=2))
    second = DBOS.start_workflow(_receiver(None, count=1))

    @DBOS.workflow()
    def broadcaster() -> None:
        DBOS.send_bulk(
            [
                SendMessage(first.workflow_id, "one", "x"),
                SendMessage(second.workflow_id, "solo"),
                SendMessage(first.workflow_id, "two", "x", idempotency_key="k2"),
            ]
        )

    with SetWorkflowID("broadcaster"):
        broadcaster()
    assert first.get_result() == ["one", "two"]
    assert second.get_result() == ["solo"]
    assert [r["function_name"] for r in system_tables.steps("broadcaster")] == ["DBOS.send_bulk"]
    DBOS.send_bulk([])  # an empty batch is a no-op


def test_send_bulk_with_a_missing_destination_sends_nothing(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    handle = DBOS.start_workflow(_receiver(count=1, timeout=0.1))
    with pytest.raises(DBOSNonExistentWorkflowError) as caught:
        DBOS.send_bulk([SendMessage(handle.workflow_id, "a"), SendMessage("ghost", "b")])
    assert caught.value.workflow_id == "ghost"
    assert system_tables.execute("SELECT * FROM notifications") == []
    assert handle.get_result() == [None]


def test_portable_serialization_stores_json(dbos: type[DBOS], system_tables: SystemTables) -> None:
    handle = DBOS.start_workflow(_receiver(count=1))
    DBOS.send(handle.workflow_id, {"n": 1}, serialization_type=WorkflowSerializationFormat.PORTABLE)
    assert handle.get_result() == [{"n": 1}]
    (row,) = system_tables.execute("SELECT message, serialization FROM notifications")
    assert row["serialization"] == "portable_json"
    assert row["message"] == '{"n":1}' or row["message"] == '{"n": 1}'


def test_send_to_forks_reaches_the_forks_of_the_destination(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    original = DBOS.start_workflow(_receiver(count=1, timeout=0.5))
    original.get_result()
    # A fork is a new workflow whose forked_from names its source; make two generations.
    for child, parent in (("fork-1", original.workflow_id), ("fork-2", "fork-1")):
        system_tables.execute(
            "INSERT INTO workflow_status (workflow_uuid, status, name, forked_from, "
            "created_at, updated_at) VALUES (?, 'ENQUEUED', 'x', ?, 0, 0)",
            (child, parent),
        )
    DBOS.send(original.workflow_id, "to all", send_to_forks=True, idempotency_key="k")
    rows = system_tables.execute(
        "SELECT destination_uuid, message_uuid FROM notifications ORDER BY destination_uuid"
    )
    assert sorted((r["destination_uuid"], r["message_uuid"]) for r in rows) == sorted(
        [
            ("fork-1", "k::fork-1"),
            ("fork-2", "k::fork-2"),
            (original.workflow_id, f"k::{original.workflow_id}"),
        ]
    )


def test_async_send_and_recv(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def async_receiver() -> object:
        return await DBOS.recv_async("t", timeout_seconds=10)

    async def main() -> object:
        handle = await DBOS.start_workflow_async(async_receiver)
        await DBOS.send_async(handle.workflow_id, "async hello", "t")
        await DBOS.send_bulk_async([])
        return await handle.get_result()

    assert asyncio.run(main()) == "async hello"


def test_sync_send_inside_an_event_loop_points_to_the_async_twin(dbos: type[DBOS]) -> None:
    async def misuse() -> None:
        DBOS.send("x", "y")

    with pytest.raises(RuntimeError, match=r"Use await send_async"):
        asyncio.run(misuse())


def test_a_workflow_timeout_ends_a_recv_that_is_waiting(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def waits_too_long() -> object:
        return DBOS.recv("never", timeout_seconds=60)

    with SetWorkflowTimeout(0.2):
        handle = DBOS.start_workflow(waits_too_long)
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    assert system_tables.workflow(handle.workflow_id)["status"] == "CANCELLED"  # type: ignore[index]
