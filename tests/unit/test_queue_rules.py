"""Queue rules in the pure core: partition limits, sharing a claim among partitions, and the
checks made before a workflow is enqueued."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbos._core.queue_rules import (
    PartitionLimits,
    QueueLimits,
    enqueue_violation,
    overwrites_on_conflict,
    partition_room,
    revalidate,
    share_budget,
    split_limits,
    validate_limits,
)

rooms_strategy = st.lists(
    st.tuples(st.integers(0, 50), st.one_of(st.none(), st.integers(0, 10))),
    unique_by=lambda pair: pair[0],
    max_size=30,
)


@given(total=st.integers(0, 200), rooms=rooms_strategy)
def test_a_shared_budget_never_exceeds_the_total_or_any_room(
    total: int, rooms: list[tuple[int, int | None]]
) -> None:
    shares = share_budget(total, rooms)
    assert sum(shares.values()) <= total
    room_of = dict(rooms)
    for key, share in shares.items():
        assert share > 0
        limit = room_of[key]
        assert limit is None or share <= limit


@given(total=st.integers(0, 200), rooms=rooms_strategy)
def test_a_shared_budget_is_spent_while_some_partition_has_room(
    total: int, rooms: list[tuple[int, int | None]]
) -> None:
    shares = share_budget(total, rooms)
    capacity = sum(1_000 if room is None else room for _, room in rooms)
    assert sum(shares.values()) == min(total, capacity)


@given(total=st.integers(0, 200), keys=st.integers(1, 30))
def test_unlimited_partitions_get_shares_that_differ_by_at_most_one(total: int, keys: int) -> None:
    shares = share_budget(total, [(k, None) for k in range(keys)])
    counts = [shares.get(k, 0) for k in range(keys)]
    assert max(counts) - min(counts) <= 1
    # Partitions are served in the order given: the earlier ones get the odd claims.
    assert counts == sorted(counts, reverse=True)


def test_partition_room_is_the_tightest_limit() -> None:
    limits = PartitionLimits(concurrency=3, worker_concurrency=2, limiter={"limit": 5, "period": 1})
    assert partition_room(limits, running_here=0, pending=0, started_in_window=0) == 2
    assert partition_room(limits, running_here=0, pending=2, started_in_window=0) == 1
    assert partition_room(limits, running_here=0, pending=0, started_in_window=5) == 0
    assert partition_room(limits, running_here=5, pending=0, started_in_window=0) == 0
    assert partition_room(PartitionLimits(), running_here=9, pending=9, started_in_window=9) is None


def test_split_limits_moves_the_legacy_limits_into_each_partition() -> None:
    legacy = validate_limits(
        concurrency=2, worker_concurrency=1, limiter={"limit": 4, "period": 2}, partition_queue=True
    )
    queue_wide, per_partition = split_limits(legacy)
    assert (queue_wide.global_concurrency, queue_wide.worker_concurrency, queue_wide.limiter) == (
        None,
        None,
        None,
    )
    assert per_partition == PartitionLimits(2, 1, {"limit": 4, "period": 2})


def test_split_limits_keeps_queue_wide_limits_beside_partition_limits() -> None:
    limits = validate_limits(global_concurrency=10, partition_concurrency=2)
    queue_wide, per_partition = split_limits(limits)
    assert queue_wide.global_concurrency == 10 and queue_wide.partition_concurrency is None
    assert per_partition == PartitionLimits(concurrency=2)
    assert split_limits(QueueLimits(worker_concurrency=3)) == (
        QueueLimits(worker_concurrency=3),
        None,
    )


def test_enqueue_violations() -> None:
    partitioned = validate_limits(partition_concurrency=1)
    plain = QueueLimits()
    assert enqueue_violation("q", partitioned, "k", None) is None
    assert enqueue_violation("q", plain, None, "d") is None
    assert enqueue_violation("q", None, "k", None) is None  # unchecked: configured elsewhere
    assert "without a partition key" in (enqueue_violation("q", partitioned, None, None) or "")
    assert "partition-enabled" in (enqueue_violation("q", plain, "k", None) or "")
    for limits in (partitioned, plain, None):
        assert enqueue_violation("q", limits, "k", "d") == (
            "Deduplication is not supported for partitioned queues"
        )


def test_on_conflict_decides_whether_a_registration_overwrites() -> None:
    assert overwrites_on_conflict("always_update", runs_latest_version=False) is True
    assert overwrites_on_conflict("never_update", runs_latest_version=True) is False
    assert overwrites_on_conflict("update_if_latest_version", runs_latest_version=True) is True
    assert overwrites_on_conflict("update_if_latest_version", runs_latest_version=False) is False
    with pytest.raises(ValueError, match="on_conflict"):
        overwrites_on_conflict("sometimes", runs_latest_version=True)


def test_revalidate_checks_a_changed_setting_against_the_others() -> None:
    limits = validate_limits(global_concurrency=4, worker_concurrency=2)
    assert revalidate(replace(limits, worker_concurrency=4)).worker_concurrency == 4
    with pytest.raises(ValueError, match="worker_concurrency"):
        revalidate(replace(limits, global_concurrency=1))
    legacy = validate_limits(concurrency=2, partition_queue=True)
    assert revalidate(replace(legacy, global_concurrency=5)).global_concurrency == 5
