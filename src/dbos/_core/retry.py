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


# Transactions retry serialization failures and lost connections without limit: the first
# wait is a millisecond (most conflicts clear at once), growing by half each time up to 2 s.
TRANSACTION_RETRY_FIRST_SECONDS = 0.001
TRANSACTION_RETRY_BACKOFF = 1.5
TRANSACTION_RETRY_MAX_SECONDS = 2.0


def transaction_retry_delay_seconds(failed_attempt: int) -> float:
    """Wait after the 0-based ``failed_attempt`` of a transaction: 1 ms, x1.5, capped at 2 s."""
    try:
        delay = TRANSACTION_RETRY_FIRST_SECONDS * TRANSACTION_RETRY_BACKOFF**failed_attempt
    except OverflowError:
        return TRANSACTION_RETRY_MAX_SECONDS
    return min(delay, TRANSACTION_RETRY_MAX_SECONDS)
