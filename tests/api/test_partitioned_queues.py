"""Partitioned queues: limits held per partition key, and the partition-key rules."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from system_tables import SystemTables, wait_until

from dbos import DBOS, Queue, SetEnqueueOptions, SetWorkflowID
from dbos.error import DBOSException


class PartitionGauge:
    """How many workflows of each partition run at once, and the most there ever were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.total_peak = 0

    def enter(self, key: str) -> None:
        with self.lock:
            self.now[key] += 1
            self.peak[key] = max(self.peak[key], self.now[key])
            self.total_peak = max(self.total_peak, sum(self.now.values()))

    def leave(self, key: str) -> None:
        with self.lock:
            self.now[key] -= 1

    def running(self) -> int:
        with self.lock:
            return sum(self.now.values())


def enqueue_in(queue: Queue, key: str, func: object, *args: object) -> object:
    with SetEnqueueOptions(queue_partition_key=key):
        return queue.enqueue(func, *args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [
        {"partition_concurrency": 1},
        {"partition_worker_concurrency": 1},
        {"concurrency": 1, "partition_queue": True},  # the legacy mode: limits per partition
    ],
)
def test_each_partition_runs_one_at_a_time_while_partitions_run_side_by_side(
    dbos: type[DBOS], settings: dict[str, object]
) -> None:
    queue = Queue("per-key", **settings)  # type: ignore[arg-type]
    gauge, release = PartitionGauge(), threading.Event()

    @DBOS.step()
    def hold(key: str) -> None:
        gauge.enter(key)
        try:
            release.wait(10)
        finally:
            gauge.leave(key)

    @DBOS.workflow()
    def job(key: str, i: int) -> str:
        hold(key)
        return f"{key}{i}"

    handles = [enqueue_in(queue, key, job, key, i) for i in range(3) for key in ("a", "b", "c")]
    wait_until(lambda: gauge.running() == 3)  # one per partition, the rest wait their turn
    release.set()
    results = sorted(h.get_result() for h in handles)  # type: ignore[attr-defined]
    assert results == sorted(f"{key}{i}" for i in range(3) for key in "abc")
    assert dict(gauge.peak) == {"a": 1, "b": 1, "c": 1}


def test_a_global_limit_still_bounds_a_partitioned_queue(dbos: type[DBOS]) -> None:
    queue = Queue("capped", global_concurrency=2, partition_concurrency=2)
    gauge, release = PartitionGauge(), threading.Event()

    @DBOS.step()
    def hold(key: str) -> None:
        gauge.enter(key)
        try:
            release.wait(10)
        finally:
            gauge.leave(key)

    @DBOS.workflow()
    def job(key: str) -> None:
        hold(key)

    handles = [enqueue_in(queue, key, job, key) for key in "abcd"]
    wait_until(lambda: gauge.running() == 2)
    release.set()
    for handle in handles:
        handle.get_result()  # type: ignore[attr-defined]
    assert gauge.total_peak == 2


def test_partition_keys_are_checked_against_the_declared_queue_before_any_row(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    partitioned = Queue("partitioned", partition_concurrency=1)
    plain = Queue("plain")

    @DBOS.workflow()
    def work() -> int:
        return 1

    with pytest.raises(DBOSException, match="without a partition key"):
        partitioned.enqueue(work)
    with SetEnqueueOptions(queue_partition_key="k"):
        with pytest.raises(DBOSException, match="partition-enabled queue"):
            plain.enqueue(work)
    with SetEnqueueOptions(queue_partition_key="k", deduplication_id="d"):
        for queue in (partitioned, plain):
            with pytest.raises(DBOSException, match="Deduplication is not supported"):
                queue.enqueue(work)
        with pytest.raises(DBOSException, match="Deduplication is not supported"):
            DBOS.enqueue_workflow("anything", work)
    assert system_tables.workflows() == []


def test_enqueue_by_queue_name_leaves_partition_keys_unchecked(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    Queue("plain-by-name", polling_interval_sec=0.05)

    @DBOS.workflow()
    def work() -> int:
        return 1

    # A key on a queue without partitions is stored and ignored: the row still runs.
    with SetWorkflowID("keyed"), SetEnqueueOptions(queue_partition_key="k"):
        handle = DBOS.enqueue_workflow("plain-by-name", work)
    assert handle.get_result() == 1
    row = system_tables.workflow("keyed")
    assert row is not None and row["queue_partition_key"] == "k"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"partition_queue": True, "partition_concurrency": 1}, "partition_queue"),
        ({"partition_queue": True, "global_concurrency": 1}, "partition_queue"),
        ({"partition_concurrency": 0}, "positive"),
        ({"partition_limiter": {"limit": 1}}, "partition_limiter"),
        ({"worker_concurrency": 1, "partition_worker_concurrency": 2}, "worker_concurrency"),
        ({"global_concurrency": 1, "partition_concurrency": 2}, "partition_concurrency"),
    ],
)
def test_invalid_partition_settings_are_refused(
    clean_dbos: None, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Queue("bad-partitions", **kwargs)  # type: ignore[arg-type]
