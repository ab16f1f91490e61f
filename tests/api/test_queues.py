"""Queues: declaring, enqueueing, priority, concurrency limits, deduplication."""

from __future__ import annotations

import threading

import pytest
from system_tables import SystemTables, wait_until

from dbos import DBOS, Queue, SetEnqueueOptions, SetWorkflowID
from dbos.error import DBOSException, DBOSQueueDeduplicatedError


class Gauge:
    """Counts how many workflows run at once, and the most there ever were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def test_an_enqueued_workflow_runs_and_counts_one_attempt(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("work")

    @DBOS.workflow()
    def double(x: int) -> int:
        return x * 2

    with SetWorkflowID("queued"):
        handle = queue.enqueue(double, 21)
    assert handle.get_result() == 42
    row = system_tables.workflow("queued")
    assert row is not None
    assert (row["status"], row["queue_name"], row["recovery_attempts"]) == ("SUCCESS", "work", 1)
    assert row["started_at_epoch_ms"] is not None


def test_worker_concurrency_bounds_how_many_run_at_once(dbos: type[DBOS]) -> None:
    queue = Queue("bounded", worker_concurrency=2)
    gauge, release = Gauge(), threading.Event()

    @DBOS.step()
    def hold() -> None:
        with gauge:
            release.wait(10)

    @DBOS.workflow()
    def held(i: int) -> int:
        hold()
        return i

    handles = [queue.enqueue(held, i) for i in range(6)]
    wait_until(lambda: gauge.now == 2)  # both slots taken while four wait their turn
    release.set()
    assert [h.get_result() for h in handles] == list(range(6))
    assert gauge.peak == 2


def test_global_concurrency_bounds_how_many_are_pending(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("global", global_concurrency=1)
    gauge = Gauge()

    @DBOS.step()
    def hold() -> None:
        with gauge:
            threading.Event().wait(0.02)

    @DBOS.workflow()
    def held(i: int) -> int:
        hold()
        return i

    handles = [queue.enqueue(held, i) for i in range(4)]
    assert [h.get_result() for h in handles] == list(range(4))
    assert gauge.peak == 1


def test_lower_priority_numbers_run_first_and_unprioritised_run_before_all(
    dbos: type[DBOS],
) -> None:
    queue = Queue("prioritised", worker_concurrency=1)
    order: list[int] = []
    gate = threading.Event()

    @DBOS.workflow()
    def record(i: int) -> None:
        gate.wait(10)
        order.append(i)

    first = queue.enqueue(record, -1)  # occupies the only slot while the rest are enqueued
    handles = []
    for i, priority in enumerate([5, 0, 3, 3, 1]):
        if priority:
            with SetEnqueueOptions(priority=priority):
                handles.append(queue.enqueue(record, i))
        else:
            handles.append(queue.enqueue(record, i))
    gate.set()
    first.get_result()
    for handle in handles:
        handle.get_result()
    assert order == [-1, 1, 4, 2, 3, 0]


def test_a_taken_deduplication_id_is_refused_until_its_holder_finishes(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("dedup")
    gate = threading.Event()

    @DBOS.workflow()
    def hold(x: int) -> int:
        gate.wait(10)
        return x

    with SetEnqueueOptions(deduplication_id="only-one"):
        holder = queue.enqueue(hold, 1)
        with SetWorkflowID("second"), pytest.raises(DBOSQueueDeduplicatedError) as refused:
            queue.enqueue(hold, 2)
    assert str(refused.value) == (
        "DBOS Error 12: Workflow second was deduplicated due to an existing workflow in "
        "queue dedup with deduplication ID only-one."
    )
    assert system_tables.workflow("second") is None
    gate.set()
    assert holder.get_result() == 1
    with SetEnqueueOptions(deduplication_id="only-one"):
        assert queue.enqueue(hold, 3).get_result() == 3


def test_queue_only_options_on_a_direct_call_are_refused_before_any_row(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def direct() -> int:
        return 1

    for options in ({"priority": 3}, {"deduplication_id": "d"}, {"queue_partition_key": "k"}):
        with SetEnqueueOptions(**options), pytest.raises(DBOSException, match="not being enqueued"):  # type: ignore[arg-type]
            direct()
    assert system_tables.workflows() == []
    with SetWorkflowID("pinned"), SetEnqueueOptions(app_version="v-pinned"):
        assert direct() == 1
    assert system_tables.workflow("pinned")["application_version"] == "v-pinned"  # type: ignore[index]


def test_enqueueing_inside_a_workflow_is_a_child_that_a_replay_does_not_enqueue_again(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("children")

    @DBOS.workflow()
    def child(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    def parent() -> int:
        return int(queue.enqueue(child, 1).get_result())

    with SetWorkflowID("parent"):
        assert parent() == 2
    with SetWorkflowID("parent"):
        assert parent() == 2
    children = [w for w in system_tables.workflows() if w["parent_workflow_id"] == "parent"]
    assert [c["workflow_uuid"] for c in children] == ["parent-1"]
    assert [s["function_name"] for s in system_tables.steps("parent")] == [
        child.__qualname__,
        "DBOS.getResult",
    ]


def test_a_workflow_enqueued_on_an_undeclared_queue_waits(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def idle() -> None:
        return None

    with SetWorkflowID("waiting"):
        DBOS.enqueue_workflow("nobody-serves-this", idle)
    row = system_tables.workflow("waiting")
    assert row is not None and (row["status"], row["recovery_attempts"]) == ("ENQUEUED", 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 2, "global_concurrency": 2}, "alias"),
        ({"worker_concurrency": 3, "global_concurrency": 2}, "worker_concurrency"),
        ({"limiter": {"limit": 1}}, "limiter"),
        ({"worker_concurrency": 0}, "positive"),
        ({"polling_interval_sec": 0}, "polling_interval_sec"),
        ({"partition_concurrency": 1, "partition_worker_concurrency": 2}, "partition"),
    ],
)
def test_invalid_queue_settings_are_refused(
    clean_dbos: None, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Queue("bad", **kwargs)  # type: ignore[arg-type]


def test_declaring_a_queue_twice_is_refused(clean_dbos: None) -> None:
    Queue("twice")
    with pytest.raises(Exception, match="Queue twice has already been declared"):
        Queue("twice")


def test_invalid_priorities_are_refused() -> None:
    for bad in (0, -100, 2**31):
        with pytest.raises(Exception, match="Invalid priority"):
            SetEnqueueOptions(priority=bad)


def test_the_limiter_starts_at_most_limit_workflows_in_any_window(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("limited", limiter={"limit": 2, "period": 0.4})

    @DBOS.workflow()
    def quick(i: int) -> int:
        return i

    handles = [queue.enqueue(quick, i) for i in range(6)]
    assert [h.get_result() for h in handles] == list(range(6))
    starts = sorted(
        system_tables.workflow(h.workflow_id)["started_at_epoch_ms"]  # type: ignore[index]
        for h in handles
    )
    # A full limit starts at once; the (i+2)-th start waits for the i-th to leave the window.
    assert starts[1] - starts[0] < 400
    for i in range(len(starts) - 2):
        assert starts[i + 2] - starts[i] >= 400


def test_a_delayed_workflow_joins_its_queue_when_due(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("later", polling_interval_sec=0.05)

    @DBOS.workflow()
    def stamped() -> int:
        return 7

    with SetWorkflowID("delayed"), SetEnqueueOptions(delay_seconds=0.3):
        handle = queue.enqueue(stamped)
    row = system_tables.workflow("delayed")
    assert row is not None and row["status"] == "DELAYED"
    assert handle.get_result() == 7
    row = system_tables.workflow("delayed")
    assert row is not None
    assert row["started_at_epoch_ms"] >= row["delay_until_epoch_ms"]


def test_set_workflow_delay_moves_only_a_delayed_workflow(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("moved", polling_interval_sec=0.05)

    @DBOS.workflow()
    def later() -> int:
        return 1

    with SetWorkflowID("far"), SetEnqueueOptions(delay_seconds=3600):
        handle = queue.enqueue(later)
    DBOS.set_workflow_delay("far", delay_seconds=0)
    assert handle.get_result() == 1
    DBOS.set_workflow_delay("far", delay_until_epoch_ms=2**40)  # finished: nothing changes
    assert system_tables.workflow("far")["status"] == "SUCCESS"  # type: ignore[index]
    for bad in ({}, {"delay_seconds": 1, "delay_until_epoch_ms": 1}, {"delay_seconds": -1}):
        with pytest.raises(DBOSException):
            DBOS.set_workflow_delay("far", **bad)  # type: ignore[arg-type]


def test_unversioned_rows_run_on_the_latest_version_and_pinned_ones_only_on_theirs(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def versioned() -> str:
        return "ran"

    # Enqueued by name onto a queue nobody serves yet, so the rows can be edited first.
    with SetWorkflowID("elsewhere"), SetEnqueueOptions(app_version="some-other-version"):
        DBOS.enqueue_workflow("versions", versioned)
    with SetWorkflowID("unversioned"):
        handle = DBOS.enqueue_workflow("versions", versioned)
    system_tables.execute(
        "UPDATE workflow_status SET application_version = NULL WHERE workflow_uuid = ?",
        ("unversioned",),
    )
    Queue("versions", polling_interval_sec=0.05)  # now this process serves it
    assert handle.get_result() == "ran"  # this process is the latest (only) version
    row = system_tables.workflow("elsewhere")
    assert row is not None and row["status"] == "ENQUEUED"
