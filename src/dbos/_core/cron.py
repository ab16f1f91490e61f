"""Cron arithmetic for schedules: checking a cron, its fire times, their workflow IDs, jitter.

Pure: every function is given the times it works from and reads no clock. Crons are read by
croniter with the seconds field first (spec 9.1): 5 fields are minute, hour, day, month and
weekday; 6 fields put seconds in front (``"* * * * * *"`` fires every second); 7 add a year.
``@daily``-style aliases and names such as ``MON-FRI`` are accepted.

Fire times are computed in the schedule's timezone, so a daily 09:00 stays at 09:00 local
time across daylight-saving changes, and its workflow ID carries the local UTC offset.
Resolving a timezone name reads the IANA database, which zoneinfo loads once and caches:
it is constant data, like the cron grammar, not state this module depends on.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

from croniter import CroniterBadDateError, croniter

UTC = dt.timezone.utc
# The longest a scheduler waits past a fire time, so that many processes firing the same
# schedule do not all hit the database at the same instant (spec 9.1).
MAX_JITTER_SECONDS = 10.0


class InvalidCron(ValueError):
    """A cron expression croniter cannot read."""


class InvalidTimezone(ValueError):
    """A timezone name that is not in the IANA database."""


def check_cron(expression: object) -> str:
    """``expression`` if it is a cron DBOS can fire; InvalidCron otherwise."""
    if not isinstance(expression, str) or not croniter.is_valid(
        expression, second_at_beginning=True
    ):
        raise InvalidCron(f"Invalid cron schedule {expression!r}")
    return expression


def resolve_timezone(name: str | None) -> dt.tzinfo:
    """The timezone called ``name`` (None: UTC); InvalidTimezone if there is none."""
    if name is None:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidTimezone(f"Invalid timezone {name!r}") from exc


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC; a naive one is taken to be in UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def next_fire_time(expression: str, after: dt.datetime, tz: dt.tzinfo = UTC) -> dt.datetime | None:
    """The first fire time strictly after ``after`` (aware), as an aware time in ``tz``.

    None when there is none: a cron can be well formed and never fire again (a year gone
    by, or the 30th of February).
    """
    try:
        fire: dt.datetime = croniter(
            expression, after.astimezone(tz), second_at_beginning=True
        ).get_next(dt.datetime)
    except CroniterBadDateError:
        return None
    return fire


def fire_times_between(
    expression: str, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo = UTC
) -> Iterator[dt.datetime]:
    """Fire times strictly after ``start`` and strictly before ``end``, in ``tz``.

    Naive bounds are in UTC (spec 9.2, backfill).
    """
    limit = as_utc(end)
    cursor = croniter(expression, as_utc(start).astimezone(tz), second_at_beginning=True)
    while True:
        try:
            fire: dt.datetime = cursor.get_next(dt.datetime)
        except CroniterBadDateError:  # no fire time left at all
            return
        if fire >= limit:
            return
        yield fire


def jitter_seconds(sleep_seconds: float, fraction: float) -> float:
    """How long past its fire time a scheduler fires: ``fraction`` (in [0, 1)) of the cap.

    The cap is a tenth of the wait, at most MAX_JITTER_SECONDS (spec 9.1).
    """
    return fraction * min(max(sleep_seconds, 0.0) / 10.0, MAX_JITTER_SECONDS)


def scheduled_workflow_id(name: str, fire_time: dt.datetime) -> str:
    """The workflow ID of one firing: the same in every process, so it runs once."""
    return f"sched-{name}-{fire_time.isoformat()}"


def triggered_workflow_id(name: str, now_utc: dt.datetime) -> str:
    """The workflow ID of a firing asked for by trigger_schedule at ``now_utc``."""
    return f"sched-{name}-trigger-{now_utc.isoformat()}"
