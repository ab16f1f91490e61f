"""Test support for schedules: a clock the test moves by hand, and a fixture that installs it.

The scheduler's tickers read the time and wait for fire times through ``ManualTime``, so a
test decides exactly when each fire time comes: ``advance`` moves the clock, ``settle``
waits (with a deadline) until every live ticker has fired what was due and is waiting for a
fire time still ahead. No test sleeps for a cron.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from dbos._api.state import state
from dbos._services import scheduler
from dbos._services.scheduler import SchedulerService, SchedulerTiming

UTC = dt.timezone.utc
# Half a minute past a minute, so a per-minute cron's first fire time is 30 seconds ahead.
T0 = dt.datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
SETTLE_TIMEOUT_SEC = 20.0


class ManualTime:
    """A ScheduleTime that only moves when the test says so."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._cond = threading.Condition()
        # Each waiting ticker: its stop event and the time it waits for.
        self._sleepers: dict[int, tuple[threading.Event, dt.datetime]] = {}

    def now(self) -> dt.datetime:
        with self._cond:
            return self._now

    def wait_until(self, stop: threading.Event, when: dt.datetime) -> bool:
        me = threading.get_ident()
        with self._cond:
            self._sleepers[me] = (stop, when)
            self._cond.notify_all()
            try:
                while self._now < when and not stop.is_set():
                    self._cond.wait(0.01)  # a stop event cannot notify this condition
                return stop.is_set()
            finally:
                del self._sleepers[me]
                self._cond.notify_all()

    def advance(self, seconds: float) -> None:
        with self._cond:
            self._now += dt.timedelta(seconds=seconds)
            self._cond.notify_all()

    def settle(self, tickers: int) -> None:
        """Wait until exactly ``tickers`` live tickers wait for a fire time still ahead."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_SEC
        with self._cond:
            while True:
                waiting = sum(
                    1
                    for stop, when in self._sleepers.values()
                    if not stop.is_set() and when > self._now
                )
                if waiting == tickers:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{waiting} tickers waiting, expected {tickers}")
                self._cond.wait(min(left, 0.05))


def install_manual_time(monkeypatch: pytest.MonkeyPatch) -> ManualTime:
    """Schedulers launched from now on run on a clock at T0 that only the test moves."""
    clock = ManualTime(T0)

    def timing(settings: object) -> SchedulerTiming:
        return SchedulerTiming(
            polling_interval_sec=0.05,
            startup_polling_interval_sec=0.05,
            time=clock,
            jitter_fraction=lambda: 0.0,
        )

    monkeypatch.setattr(scheduler, "timing_for", timing)
    return clock


def running_scheduler() -> SchedulerService:
    service = getattr(state.instance, "_scheduler", None)
    assert isinstance(service, SchedulerService)
    return service


def wait_for_running(names: set[str]) -> None:
    """Wait (with a deadline) until the scheduler fires exactly the schedules ``names``."""
    service = running_scheduler()
    deadline = time.monotonic() + SETTLE_TIMEOUT_SEC
    while set(service.running()) != names:
        if time.monotonic() > deadline:
            pytest.fail(f"scheduler runs {sorted(service.running())}, expected {sorted(names)}")
        time.sleep(0.01)
