"""Step retry arithmetic: how many attempts, and how long to wait between them."""

from __future__ import annotations

MAX_RETRY_INTERVAL_SECONDS = 3600.0


def attempts_allowed(retries_allowed: bool, max_attempts: int) -> int:
    """A step that does not retry gets exactly one attempt, whatever max_attempts says."""
    return max(1, max_attempts) if retries_allowed else 1


def retry_delay_seconds(interval_seconds: float, backoff_rate: float, failed_attempt: int) -> float:
    """Wait after the 0-based ``failed_attempt``: exponential, capped at an hour."""
    try:
        delay = interval_seconds * backoff_rate**failed_attempt
    except OverflowError:  # far past the cap long before a float overflows
        return MAX_RETRY_INTERVAL_SECONDS
    return min(delay, MAX_RETRY_INTERVAL_SECONDS)


def exceeds_recovery_limit(recovery_attempts: int, max_recovery_attempts: int | None) -> bool:
    """Dead-letter rule: the original run plus ``max`` recoveries are allowed, then no more.

    ``recovery_attempts`` is counted on each dequeue claim, so it reaches ``max + 2`` on the
    claim that would be the (max+1)-th recovery.
    """
    if max_recovery_attempts is None:
        return False
    return recovery_attempts > max_recovery_attempts + 1
