"""SchedulerService: fires @DBOS.scheduled functions and the schedules in the database (spec 9).

Every schedule is fired by a ticker thread of its own, which waits for the cron's next fire
time plus a jitter, enqueues that firing (``_runtime/schedule_firing.py``) and waits again.
A ticker fires each fire time after it started; it never catches up on fire times from
before (spec 9.1), unless a database schedule asks for automatic backfill.

- ``@DBOS.scheduled`` functions get a ticker each at launch, evaluated in UTC.
- Database schedules are kept by one loop thread. It reads the schedules of this
  application and the unclaimed ones every polling interval (every second during the first
  minute after launch, and at once when this process changes a schedule), starts a ticker
  for each ACTIVE schedule, stops the tickers of schedules deleted or paused, and restarts
  those whose definition changed. A schedule with ``automatic_backfill`` that has fired
  before first fires what it missed since then, when its ticker starts.

Time comes from a ScheduleTime, so tests move it by hand and see each firing happen at a fire
time they chose, without waiting for a real clock. It is not the runtime's Clock because a
ticker also waits for a time, and a test's clock must release those waits as it moves.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dbos._core.cron import (
    UTC,
    fire_times_between,
    jitter_seconds,
    next_fire_time,
    resolve_timezone,
    scheduled_workflow_id,
)
from dbos._core.schedule_rules import ACTIVE, ScheduleFilter
from dbos._core.settings import Settings
from dbos._runtime.runtime import Runtime
from dbos._runtime.schedule_firing import enqueue_firing, fire_schedule
from dbos._runtime.schedules import decode_context
from dbos._storage.schedules import ScheduleRecord

logger = logging.getLogger("dbos")
# The loop reads the schedules this often at first, so that schedules created by other
# processes around a deployment start firing promptly (spec 9.2).
STARTUP_POLLING_INTERVAL_SEC = 1.0
STARTUP_WINDOW_SEC = 60.0
# A real-time wait re-reads the clock at least this often, in case the clock was changed.
LONGEST_WAIT_SEC = 60.0


class ScheduleTime(Protocol):
    """Where the scheduler reads the time and waits for fire times."""

    def now(self) -> dt.datetime:
        """The current time, aware, in UTC."""
        ...

    def wait_until(self, stop: threading.Event, when: dt.datetime) -> bool:
        """Wait until ``when``; True if ``stop`` was set first (then do not fire)."""
        ...


class RealTime:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    def wait_until(self, stop: threading.Event, when: dt.datetime) -> bool:
        while True:
            remaining = (when - self.now()).total_seconds()
            if remaining <= 0:
                return stop.is_set()
            if stop.wait(min(remaining, LONGEST_WAIT_SEC)):
                return True


@dataclass
class SchedulerTiming:
    """How often the loop reads the schedules, the time source, and the jitter's draw."""

    polling_interval_sec: float = 30.0
    startup_polling_interval_sec: float = STARTUP_POLLING_INTERVAL_SEC
    startup_window_sec: float = STARTUP_WINDOW_SEC
    time: ScheduleTime = field(default_factory=RealTime)
    jitter_fraction: Callable[[], float] = random.random


def timing_for(settings: Settings) -> SchedulerTiming:
    """The timing a launched DBOS uses (tests replace this function to drive the clock)."""
    return SchedulerTiming(polling_interval_sec=settings.scheduler_polling_interval_sec)


class _Ticker:
    """One thread firing one cron: ``fire(fire_time)`` at each fire time after it starts."""

    def __init__(
        self,
        label: str,
        cron: str,
        tz: dt.tzinfo,
        fire: Callable[[dt.datetime], Any],
        timing: SchedulerTiming,
        *,
        backfill_from: dt.datetime | None = None,
        key: tuple[Any, ...] = (),
    ) -> None:
        self.label = label
        self.key = key  # what the loop compares to see whether the schedule changed
        self._cron, self._tz, self._fire, self._timing = cron, tz, fire, timing
        self._backfill_from = backfill_from
        self.stop_event = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"dbos-schedule-{label}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        clock, stop = self._timing.time, self.stop_event
        after = clock.now()
        if self._backfill_from is not None:
            for missed in fire_times_between(self._cron, self._backfill_from, after, self._tz):
                if stop.is_set():
                    return
                self._fire_safely(missed)
        while not stop.is_set():
            fire_time = next_fire_time(self._cron, after, self._tz)
            if fire_time is None:
                logger.warning(
                    "Schedule %s will not fire again: its cron has no fire time left", self.label
                )
                return
            wait = (fire_time - clock.now()).total_seconds()
            jitter = jitter_seconds(wait, self._timing.jitter_fraction())
            if clock.wait_until(stop, fire_time + dt.timedelta(seconds=jitter)):
                return
            self._fire_safely(fire_time)
            after = fire_time

    def _fire_safely(self, fire_time: dt.datetime) -> None:
        try:
            self._fire(fire_time)
        except Exception:
            if not self.stop_event.is_set():  # a shutdown closes the database under it
                logger.exception("Schedule %s could not fire at %s", self.label, fire_time)


def _last_fired(record: ScheduleRecord) -> dt.datetime | None:
    """Where an automatic backfill starts: the schedule's last fire time, if it has one."""
    if not record.definition.automatic_backfill or record.last_fired_at is None:
        return None
    try:
        return dt.datetime.fromisoformat(record.last_fired_at)
    except ValueError:
        logger.warning("Schedule %s: unreadable last_fired_at", record.definition.schedule_name)
        return None


class SchedulerService:
    def __init__(self, rt: Runtime, timing: SchedulerTiming | None = None) -> None:
        self._rt = rt
        self._timing = timing or timing_for(rt.settings)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._decorated: list[_Ticker] = []
        self._tickers: dict[str, _Ticker] = {}  # database schedules, by name
        self._refused: set[tuple[Any, ...]] = set()  # schedules that cannot fire, logged once
        self._loop: threading.Thread | None = None

    def start(self) -> None:
        if self._loop is not None:
            return
        registry = self._rt.registry
        for name, cron in registry.scheduled.items():
            info = registry.get(name)
            if info is None or info.method_kind == "instance":
                logger.error("Cannot schedule %s: not a workflow function or static method", name)
                continue
            ticker = _Ticker(
                name, cron, UTC, self._decorated_firing(name, info.class_name), self._timing
            )
            self._decorated.append(ticker)
            ticker.start()
        self._loop = threading.Thread(target=self._run, name="dbos-scheduler", daemon=True)
        self._loop.start()

    def wake(self) -> None:
        """A schedule changed in this process: read the schedules now."""
        self._wake.set()

    def running(self) -> dict[str, tuple[Any, ...]]:
        """The database schedules being fired: name -> (schedule ID, definition signature)."""
        with self._lock:
            return {name: ticker.key for name, ticker in self._tickers.items()}

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        loop, self._loop = self._loop, None
        if loop is not None and loop is not threading.current_thread():
            loop.join(timeout)
        with self._lock:
            tickers = [*self._decorated, *self._tickers.values()]
            self._decorated, self._tickers = [], {}
        for ticker in tickers:
            ticker.stop()
        deadline = time.monotonic() + timeout
        for ticker in tickers:
            ticker.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ @DBOS.scheduled

    def _decorated_firing(self, name: str, class_name: str | None) -> Callable[[dt.datetime], str]:
        rt, clock = self._rt, self._timing.time

        def fire(fire_time: dt.datetime) -> str:
            return enqueue_firing(
                rt,
                workflow_name=name,
                class_name=class_name,
                queue_name=None,
                application_name=rt.app_name,
                workflow_id=scheduled_workflow_id(name, fire_time),
                args=(fire_time, clock.now()),
            )

        return fire

    # ------------------------------------------------------------------ database schedules

    def _run(self) -> None:
        started = time.monotonic()
        timing = self._timing
        while not self._stop.is_set():
            try:
                self._reconcile()
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("Could not read the schedules; retrying")
            in_startup = time.monotonic() - started < timing.startup_window_sec
            interval = (
                timing.startup_polling_interval_sec if in_startup else timing.polling_interval_sec
            )
            self._wake.wait(interval)
            self._wake.clear()

    def _reconcile(self) -> None:
        rt = self._rt
        records = rt.db.schedules.list(ScheduleFilter(scope_app=rt.app_name))
        wanted = {r.definition.schedule_name: r for r in records if r.status == ACTIVE}
        with self._lock:
            if self._stop.is_set():
                return
            for name, ticker in list(self._tickers.items()):
                record = wanted.get(name)
                if record is None or _key(record) != ticker.key:
                    ticker.stop()  # it may finish a firing under way, then it ends
                    del self._tickers[name]
            for name, record in wanted.items():
                if name not in self._tickers:
                    started = self._database_ticker(record)
                    if started is not None:
                        self._tickers[name] = started
                        started.start()

    def _database_ticker(self, record: ScheduleRecord) -> _Ticker | None:
        d = record.definition
        try:  # a row written by a tool that did not check it
            tz = resolve_timezone(d.cron_timezone)
            next_fire_time(d.schedule, self._timing.time.now(), tz)
        except Exception as exc:
            if _key(record) not in self._refused:
                self._refused.add(_key(record))
                logger.error("Schedule %s cannot fire: %s", d.schedule_name, exc)
            return None
        rt, schedule_id = self._rt, record.schedule_id
        schedule_context = decode_context(rt, d.context)

        def fire(fire_time: dt.datetime) -> None:
            fire_schedule(rt, d, fire_time, schedule_context)
            rt.db.schedules.set_last_fired(schedule_id, fire_time.isoformat())

        return _Ticker(
            d.schedule_name,
            d.schedule,
            tz,
            fire,
            self._timing,
            backfill_from=_last_fired(record),
            key=_key(record),
        )


def _key(record: ScheduleRecord) -> tuple[Any, ...]:
    return (record.schedule_id, record.definition.signature())
