"""Queue settings: which combinations of limits are valid, and what a dequeue may take."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)

MAX_PRIORITY = 2**31 - 1


@dataclass(frozen=True)
class QueueLimits:
    """A queue's flow control, validated."""

    global_concurrency: int | None = None
    worker_concurrency: int | None = None
    limiter: dict[str, Any] | None = None
    partition_concurrency: int | None = None
    partition_worker_concurrency: int | None = None
    partition_limiter: dict[str, Any] | None = None
    polling_interval_sec: float = 1.0
    priority_enabled: bool = False
    partition_queue: bool = False

    @property
    def partitioned(self) -> bool:
        return self.partition_queue or any(
            v is not None
            for v in (
                self.partition_concurrency,
                self.partition_worker_concurrency,
                self.partition_limiter,
            )
        )


@dataclass(frozen=True)
class PartitionLimits:
    """The limits each partition of a partitioned queue is held to, separately."""

    concurrency: int | None = None  # PENDING rows in the partition, across all processes
    worker_concurrency: int | None = None  # running in this process
    limiter: dict[str, Any] | None = None

    @property
    def shared(self) -> bool:
        """Whether some limit is counted in the database, across processes."""
        return self.concurrency is not None or self.limiter is not None


def split_limits(limits: QueueLimits) -> tuple[QueueLimits, PartitionLimits | None]:
    """A queue's limits as (queue-wide, per-partition); None for a queue without partitions.

    In the legacy ``partition_queue`` mode, concurrency, worker concurrency and the limiter
    all apply per partition and nothing applies queue-wide.
    """
    if limits.partition_queue:
        per_partition = PartitionLimits(
            limits.global_concurrency, limits.worker_concurrency, limits.limiter
        )
        return QueueLimits(polling_interval_sec=limits.polling_interval_sec), per_partition
    if not limits.partitioned:
        return limits, None
    per_partition = PartitionLimits(
        limits.partition_concurrency, limits.partition_worker_concurrency, limits.partition_limiter
    )
    queue_wide = replace(
        limits,
        partition_concurrency=None,
        partition_worker_concurrency=None,
        partition_limiter=None,
    )
    return queue_wide, per_partition


def partition_room(
    limits: PartitionLimits, running_here: int, pending: int, started_in_window: int
) -> int | None:
    """How many more workflows one partition may start now; None when nothing limits it."""
    rooms = []
    if limits.worker_concurrency is not None:
        rooms.append(limits.worker_concurrency - running_here)
    if limits.concurrency is not None:
        rooms.append(limits.concurrency - pending)
    if limits.limiter is not None:
        rooms.append(int(limits.limiter["limit"]) - started_in_window)
    return None if not rooms else max(0, min(rooms))


def share_budget(total: int, rooms: Sequence[tuple[K, int | None]]) -> dict[K, int]:
    """Deal ``total`` claims across partitions, one each in turn, never past a room.

    Partitions are served in the order given (the caller shuffles them, so that no
    partition is always first); a room of None means no per-partition limit.
    """
    shares: dict[K, int] = {}
    dealing = [(key, room) for key, room in rooms if room is None or room > 0]
    while total > 0 and dealing:
        still_open = []
        for key, room in dealing:
            if total == 0:
                break
            shares[key] = shares.get(key, 0) + 1
            total -= 1
            if room is None or shares[key] < room:
                still_open.append((key, room))
        dealing = still_open
    return shares


def _positive(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _limiter(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or "limit" not in value or "period" not in value:
        raise ValueError(f"{name} must be a dict with both 'limit' and 'period'")
    _positive(f"{name} limit", value["limit"])
    period = value["period"]
    if not isinstance(period, (int, float)) or not math.isfinite(period) or period <= 0:
        raise ValueError(f"{name} period must be a positive number of seconds")


def validate_limits(
    *,
    concurrency: int | None = None,
    global_concurrency: int | None = None,
    **limits: Any,
) -> QueueLimits:
    """The limits of spec 4.1, checked; raises ValueError naming the broken rule."""
    if concurrency is not None and global_concurrency is not None:
        raise ValueError("concurrency is a deprecated alias of global_concurrency: set only one")
    total = global_concurrency if global_concurrency is not None else concurrency
    q = QueueLimits(global_concurrency=total, **limits)
    for name in ("global_concurrency", "worker_concurrency"):
        _positive(name, getattr(q, name))
    for name in ("partition_concurrency", "partition_worker_concurrency"):
        _positive(name, getattr(q, name))
    _limiter("limiter", q.limiter)
    _limiter("partition_limiter", q.partition_limiter)
    interval = q.polling_interval_sec
    if not isinstance(interval, (int, float)) or not math.isfinite(interval) or interval <= 0:
        raise ValueError("polling_interval_sec must be a positive number")
    if q.partition_queue and (
        q.partition_concurrency or q.partition_worker_concurrency or q.partition_limiter
    ):
        raise ValueError("partition_queue cannot be combined with the partition_* limits")
    if q.partition_queue and global_concurrency is not None:
        raise ValueError("partition_queue cannot be combined with global_concurrency")
    _ordered(q)
    return q


def revalidate(limits: QueueLimits) -> QueueLimits:
    """Check settings changed one at a time (a setter) against their siblings."""
    return validate_limits(
        # Through the alias: in the legacy partition_queue mode it is the per-partition limit.
        concurrency=limits.global_concurrency,
        worker_concurrency=limits.worker_concurrency,
        limiter=limits.limiter,
        partition_concurrency=limits.partition_concurrency,
        partition_worker_concurrency=limits.partition_worker_concurrency,
        partition_limiter=limits.partition_limiter,
        polling_interval_sec=limits.polling_interval_sec,
        priority_enabled=limits.priority_enabled,
        partition_queue=limits.partition_queue,
    )


ON_CONFLICT_MODES = ("update_if_latest_version", "always_update", "never_update")


def overwrites_on_conflict(on_conflict: str, runs_latest_version: bool) -> bool:
    """Whether registering a queue whose name is already registered overwrites its settings.

    "update_if_latest_version" keeps an old version, still running during a rolling
    deploy, from reverting the settings the new version registered.
    """
    if on_conflict not in ON_CONFLICT_MODES:
        raise ValueError(
            f"on_conflict must be one of {', '.join(ON_CONFLICT_MODES)}, got {on_conflict!r}"
        )
    if on_conflict == "update_if_latest_version":
        return runs_latest_version
    return on_conflict == "always_update"


def _ordered(q: QueueLimits) -> None:
    def at_most(small: int | None, big: int | None, message: str) -> None:
        if small is not None and big is not None and small > big:
            raise ValueError(message)

    at_most(
        q.partition_worker_concurrency,
        q.partition_concurrency,
        "partition_concurrency must be greater than or equal to partition_worker_concurrency",
    )
    at_most(
        q.partition_worker_concurrency,
        q.worker_concurrency,
        "worker_concurrency must be greater than or equal to partition_worker_concurrency",
    )
    at_most(
        q.worker_concurrency,
        q.global_concurrency,
        "concurrency must be greater than or equal to worker_concurrency",
    )
    at_most(
        q.partition_concurrency,
        q.global_concurrency,
        "concurrency must be greater than or equal to partition_concurrency",
    )
    at_most(
        q.partition_worker_concurrency,
        q.global_concurrency,
        "concurrency must be greater than or equal to partition_worker_concurrency",
    )


def enqueue_violation(
    queue_name: str,
    limits: QueueLimits | None,
    partition_key: str | None,
    deduplication_id: str | None,
) -> str | None:
    """Why an enqueue onto ``queue_name`` is refused, or None if it is fine.

    ``limits`` are the queue's when they are checked locally (a queue declared in this
    process); None skips the partition checks, as for queues configured in the database,
    whose settings may change before the workflow is dequeued.
    """
    if partition_key is not None and deduplication_id is not None:
        return "Deduplication is not supported for partitioned queues"
    if limits is None:
        return None
    if limits.partitioned and partition_key is None:
        return (
            f"A workflow cannot be enqueued on partitioned queue {queue_name} "
            "without a partition key"
        )
    if not limits.partitioned and partition_key is not None:
        return (
            "You can only use a partition key on a partition-enabled queue. "
            f"Key {partition_key} was used with non-partitioned queue {queue_name}"
        )
    return None


def claim_budget(
    limits: QueueLimits, batch: int, running_here: int, pending_everywhere: int | None
) -> int:
    """How many workflows one dequeue may claim (0: none)."""
    budget = batch
    if limits.worker_concurrency is not None:
        budget = min(budget, limits.worker_concurrency - running_here)
    if limits.global_concurrency is not None and pending_everywhere is not None:
        budget = min(budget, limits.global_concurrency - pending_everywhere)
    return max(0, budget)


def check_priority(priority: object) -> int:
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not 1 <= priority <= MAX_PRIORITY
    ):
        raise Exception(
            f"Invalid priority {priority}. Priority must be between 1 and {MAX_PRIORITY}."
        )
    return priority
