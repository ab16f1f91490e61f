"""Retry and recovery-limit arithmetic: attempts, backoff delays, the dead-letter rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbos._core.retry import (
    MAX_RETRY_INTERVAL_SECONDS,
    attempts_allowed,
    exceeds_recovery_limit,
    retry_delay_seconds,
    transaction_retry_delay_seconds,
)

intervals = st.floats(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------- attempts


@given(st.integers(min_value=-5, max_value=1_000))
def test_a_step_without_retries_gets_exactly_one_attempt(max_attempts: int) -> None:
    assert attempts_allowed(False, max_attempts) == 1


@given(st.integers(min_value=1, max_value=1_000))
def test_a_retrying_step_gets_max_attempts(max_attempts: int) -> None:
    assert attempts_allowed(True, max_attempts) == max_attempts


@pytest.mark.parametrize("max_attempts", [0, -1])
def test_a_retrying_step_always_gets_at_least_one_attempt(max_attempts: int) -> None:
    assert attempts_allowed(True, max_attempts) == 1


# ---------------------------------------------------------------- delays


def test_delays_follow_the_documented_defaults() -> None:
    # interval_seconds=1.0, backoff_rate=2.0: 1, 2, 4, 8 ...
    assert [retry_delay_seconds(1.0, 2.0, i) for i in range(5)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_delays_are_capped_at_an_hour() -> None:
    assert retry_delay_seconds(1.0, 2.0, 11) == 2048.0
    assert retry_delay_seconds(1.0, 2.0, 12) == MAX_RETRY_INTERVAL_SECONDS == 3600.0
    assert retry_delay_seconds(5_000.0, 1.0, 0) == 3600.0


def test_a_zero_interval_never_waits() -> None:
    assert [retry_delay_seconds(0.0, 2.0, i) for i in range(4)] == [0.0] * 4


@given(intervals, rates)
def test_the_first_retry_waits_the_interval(interval: float, rate: float) -> None:
    assert retry_delay_seconds(interval, rate, 0) == min(interval, MAX_RETRY_INTERVAL_SECONDS)


@given(intervals, rates, st.integers(min_value=0, max_value=60))
def test_delays_stay_between_zero_and_the_cap(interval: float, rate: float, attempt: int) -> None:
    assert 0.0 <= retry_delay_seconds(interval, rate, attempt) <= MAX_RETRY_INTERVAL_SECONDS


@given(intervals, st.floats(min_value=1, max_value=100), st.integers(min_value=0, max_value=60))
def test_delays_never_shrink_when_the_backoff_rate_is_at_least_one(
    interval: float, rate: float, attempt: int
) -> None:
    assert retry_delay_seconds(interval, rate, attempt) <= retry_delay_seconds(
        interval, rate, attempt + 1
    )


@given(intervals, st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=60))
def test_delays_never_grow_when_the_backoff_rate_is_below_one(
    interval: float, rate: float, attempt: int
) -> None:
    assert retry_delay_seconds(interval, rate, attempt + 1) <= retry_delay_seconds(
        interval, rate, attempt
    )


@pytest.mark.parametrize(("rate", "attempt"), [(2.0, 1_100), (10.0, 400), (2, 1_100)])
def test_very_late_attempts_still_wait_the_cap(rate: float, attempt: int) -> None:
    assert retry_delay_seconds(1.0, rate, attempt) == MAX_RETRY_INTERVAL_SECONDS


# ---------------------------------------------------------------- recovery limit


@given(st.integers(min_value=0, max_value=10**9))
def test_unlimited_recovery_never_dead_letters(recovery_attempts: int) -> None:
    assert exceeds_recovery_limit(recovery_attempts, None) is False


def test_three_recoveries_are_allowed_and_the_fourth_dead_letters() -> None:
    # The original run is attempt 1; each recovery claim adds one.
    assert [exceeds_recovery_limit(n, 3) for n in range(1, 6)] == [False] * 4 + [True]


def test_zero_recoveries_allows_only_the_original_run() -> None:
    assert exceeds_recovery_limit(1, 0) is False
    assert exceeds_recovery_limit(2, 0) is True


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_010))
def test_the_limit_is_exceeded_exactly_past_max_plus_one(maximum: int, attempts: int) -> None:
    assert exceeds_recovery_limit(attempts, maximum) is (attempts >= maximum + 2)


# ---------------------------------------------------------------- transaction retries


def test_transaction_retries_start_at_a_millisecond_and_grow_by_half() -> None:
    assert transaction_retry_delay_seconds(0) == pytest.approx(0.001)
    assert transaction_retry_delay_seconds(1) == pytest.approx(0.0015)
    assert transaction_retry_delay_seconds(2) == pytest.approx(0.00225)


@given(st.integers(min_value=0, max_value=100_000))
def test_transaction_retry_delays_never_shrink_and_stop_at_two_seconds(attempt: int) -> None:
    delay = transaction_retry_delay_seconds(attempt)
    assert 0.001 <= delay <= 2.0
    assert transaction_retry_delay_seconds(attempt + 1) >= delay


def test_transaction_retries_reach_the_cap_after_a_few_dozen_attempts() -> None:
    assert transaction_retry_delay_seconds(18) < 2.0
    assert transaction_retry_delay_seconds(19) == 2.0
