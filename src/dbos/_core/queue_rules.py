"""Queue settings: which combinations of limits are valid, and what a dequeue may take."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
