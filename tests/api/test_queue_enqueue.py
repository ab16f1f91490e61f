"""Enqueueing beyond the basics: deduplication with "return-existing", enqueue by workflow
name with options, and the partition-key rules checked before anything is written."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from system_tables import SystemTables

from dbos import DBOS, DBOSConfig, Queue, SetEnqueueOptions, SetWorkflowID
from dbos.error import DBOSException, DBOSQueueDeduplicatedError

RETURN_EXISTING = "return-existing"


def test_return_existing_hands_back_the_holder_of_the_deduplication_id(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("dedup-return")
    gate = threading.Event()

    @DBOS.workflow()
    def hold(x: int) -> int:
        gate.wait(10)
        return x

    with SetEnqueueOptions(deduplication_id="one", duplication_policy=RETURN_EXISTING):
        first = queue.enqueue(hold, 1)
        with SetWorkflowID("discarded"):
            second = queue.enqueue(hold, 2)
    assert second.workflow_id == first.workflow_id
    assert system_tables.workflow("discarded") is None  # the caller's arguments are dropped
    gate.set()
    assert second.get_result() == 1
    # Once the holder finished, the ID is free and the next enqueue is a new workflow.
    with SetEnqueueOptions(deduplication_id="one", duplication_policy=RETURN_EXISTING):
        third = queue.enqueue(hold, 3)
    assert third.workflow_id != first.workflow_id
    assert third.get_result() == 3


def test_return_existing_inside_a_workflow_records_the_holder_as_its_child(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("dedup-child")
    gate = threading.Event()

    @DBOS.workflow()
    def hold(x: int) -> int:
        gate.wait(10)
        return x

    @DBOS.workflow()
    def parent() -> str:
        with SetEnqueueOptions(deduplication_id="shared", duplication_policy=RETURN_EXISTING):
            return queue.enqueue(hold, 99).workflow_id

    with SetWorkflowID("holder"), SetEnqueueOptions(deduplication_id="shared"):
        queue.enqueue(hold, 1)
    with SetWorkflowID("parent"):
        assert parent() == "holder"
    gate.set()
    assert DBOS.retrieve_workflow("holder").get_result() == 1
    steps = system_tables.steps("parent")
    assert [(s["function_name"], s["child_workflow_id"]) for s in steps] == [
        (hold.__qualname__, "holder")
    ]
    with SetWorkflowID("parent"):  # a replay returns the recorded holder, enqueues nothing
        assert parent() == "holder"
    assert system_tables.workflow("parent-1") is None


def test_a_refused_deduplication_inside_a_workflow_is_raised_again_on_replay(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("dedup-refused")
    gate = threading.Event()

    @DBOS.workflow()
    def hold() -> None:
        gate.wait(10)

    @DBOS.workflow()
    def parent() -> str:
        with SetEnqueueOptions(deduplication_id="taken"):
            try:
                queue.enqueue(hold)
            except DBOSQueueDeduplicatedError as exc:
                return str(exc)
        return "enqueued"

    with SetEnqueueOptions(deduplication_id="taken"):
        holder = queue.enqueue(hold)
    with SetWorkflowID("refused"):
        first = parent()
    gate.set()
    holder.get_result()
    with SetWorkflowID("refused"):  # the ID is free now, yet the replay is refused again
        assert parent() == first
    assert "deduplicated" in first


def test_return_existing_needs_a_queue_and_a_deduplication_id(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("dedup-bad")

    @DBOS.workflow()
    def work() -> int:
        return 1

    with SetEnqueueOptions(duplication_policy=RETURN_EXISTING):
        with pytest.raises(DBOSException, match="deduplication_id"):
            queue.enqueue(work)
        with pytest.raises(DBOSException, match="deduplication_id"):
            work()
    with pytest.raises(DBOSException, match="duplication_policy"):
        SetEnqueueOptions(deduplication_id="d", duplication_policy="keep-both")  # type: ignore[arg-type]
    assert system_tables.workflows() == []


def test_a_burst_of_enqueues_is_announced_to_other_processes_with_few_notices(
    dbos: type[DBOS], backend: str, config: DBOSConfig
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no notifications: other processes find work by polling")

    @DBOS.workflow()
    def idle(i: int) -> int:
        return i

    queue = "burst-" + uuid.uuid4().hex  # the channel is shared by every schema
    url = config["system_database_url"]
    assert url is not None
    with psycopg.connect(url, autocommit=True) as other_process:
        other_process.execute("LISTEN dbos_queue_channel")
        for i in range(30):
            DBOS.enqueue_workflow(queue, idle, i)
        last_enqueued = time.monotonic()
        heard: list[float] = []
        deadline = last_enqueued + 1.0
        while (left := deadline - time.monotonic()) > 0:
            for notice in other_process.notifies(timeout=left, stop_after=1):
                if notice.payload == queue:
                    heard.append(time.monotonic())
    assert 1 <= len(heard) < 30  # not one notice per enqueue
    assert max(heard) >= last_enqueued  # and the last enqueues were announced too
