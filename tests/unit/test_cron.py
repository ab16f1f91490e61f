"""Cron arithmetic and schedule rules in the pure core (spec 9): no database, no clock."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbos._core.cron import (
    MAX_JITTER_SECONDS,
    UTC,
    InvalidCron,
    InvalidTimezone,
    as_utc,
    check_cron,
    fire_times_between,
    jitter_seconds,
    next_fire_time,
    resolve_timezone,
    scheduled_workflow_id,
    triggered_workflow_id,
)
from dbos._core.schedule_rules import (
    InvalidSchedule,
    ScheduleDefinition,
    build_schedule_filter,
    check_required_fields,
    check_schedule_fields,
)

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
T0 = dt.datetime(2030, 1, 1, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    "cron",
    [
        "* * * * *",  # 5 fields: minute first
        "*/5 * * * * *",  # 6 fields: seconds first
        "0 0 12 1 1 * 2031",  # 7 fields: a year last
        "@daily",
        "@hourly",
        "@yearly",
        "0 9 * * MON-FRI",
        "0 9 * JAN,JUL sun",
    ],
)
def test_crons_dbos_accepts(cron: str) -> None:
    assert check_cron(cron) == cron


@pytest.mark.parametrize(
    "cron", ["", "   ", "bad", "* * * *", "61 * * * *", "* * * * * * * *", "@sometimes", None, 5]
)
def test_crons_dbos_refuses_are_value_errors(cron: object) -> None:
    with pytest.raises(InvalidCron, match="Invalid cron schedule") as refused:
        check_cron(cron)
    assert isinstance(refused.value, ValueError)


def test_six_fields_put_seconds_first_and_seven_add_a_year() -> None:
    assert next_fire_time("* * * * * *", T0) == T0 + dt.timedelta(seconds=1)
    assert next_fire_time("30 * * * * *", T0) == T0 + dt.timedelta(seconds=30)
    assert next_fire_time("* * * * *", T0) == T0 + dt.timedelta(minutes=1)
    assert next_fire_time("0 0 0 1 1 * 2032", T0) == dt.datetime(2032, 1, 1, tzinfo=UTC)


def test_next_fire_time_is_strictly_after() -> None:
    on_a_fire_time = dt.datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    assert next_fire_time("* * * * *", on_a_fire_time) == on_a_fire_time + dt.timedelta(minutes=1)
    just_before = on_a_fire_time - dt.timedelta(microseconds=1)
    assert next_fire_time("* * * * *", just_before) == on_a_fire_time


def test_weekday_names_and_aliases_fire_when_they_say() -> None:
    # T0 is a Tuesday; the next weekday 09:00 is that same day.
    assert next_fire_time("0 9 * * MON-FRI", T0) == dt.datetime(2030, 1, 1, 9, tzinfo=UTC)
    saturday = dt.datetime(2030, 1, 5, 10, tzinfo=UTC)
    assert next_fire_time("0 9 * * MON-FRI", saturday) == dt.datetime(2030, 1, 7, 9, tzinfo=UTC)
    assert next_fire_time("@daily", T0 + dt.timedelta(hours=1)) == T0 + dt.timedelta(days=1)


def test_fire_times_are_computed_in_the_schedules_timezone() -> None:
    fire = next_fire_time("0 9 * * *", T0, NEW_YORK)
    assert fire.utcoffset() == dt.timedelta(hours=-5)
    assert (fire.hour, as_utc(fire).hour) == (9, 14)
    # Across the spring change, 09:00 stays 09:00 local: one hour less in UTC.
    before = dt.datetime(2030, 3, 9, 15, tzinfo=UTC)  # 10:00 on the eve, in New York
    after = next_fire_time("0 9 * * *", before, NEW_YORK)
    assert after.isoformat() == "2030-03-10T09:00:00-04:00"


def test_fire_times_between_are_strictly_inside_the_window() -> None:
    start, end = T0, T0 + dt.timedelta(minutes=3)
    fires = list(fire_times_between("* * * * *", start, end))
    assert fires == [T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=2)]
    assert list(fire_times_between("* * * * *", start, start)) == []
    assert list(fire_times_between("* * * * *", end, start)) == []


def test_naive_window_bounds_are_utc() -> None:
    naive_start, naive_end = dt.datetime(2030, 1, 1), dt.datetime(2030, 1, 1, 0, 2, 30)
    assert list(fire_times_between("* * * * *", naive_start, naive_end)) == [
        T0 + dt.timedelta(minutes=1),
        T0 + dt.timedelta(minutes=2),
    ]
    # Bounds in another zone mean the same instants.
    shifted = list(
        fire_times_between(
            "* * * * *", naive_start.replace(tzinfo=UTC).astimezone(NEW_YORK), naive_end
        )
    )
    assert [as_utc(f) for f in shifted] == [
        T0 + dt.timedelta(minutes=1),
        T0 + dt.timedelta(minutes=2),
    ]


def test_window_fire_times_carry_the_schedules_offset() -> None:
    fires = list(fire_times_between("0 0 * * *", T0, T0 + dt.timedelta(days=2), NEW_YORK))
    assert [f.isoformat() for f in fires] == [
        "2030-01-01T00:00:00-05:00",
        "2030-01-02T00:00:00-05:00",
    ]


@given(
    sleep=st.floats(min_value=-10, max_value=1e6, allow_nan=False),
    fraction=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_jitter_is_within_a_tenth_of_the_wait_and_ten_seconds(
    sleep: float, fraction: float
) -> None:
    jitter = jitter_seconds(sleep, fraction)
    assert 0 <= jitter <= min(max(sleep, 0) / 10, MAX_JITTER_SECONDS)


def test_jitter_extremes() -> None:
    assert jitter_seconds(60, 0.0) == 0
    assert jitter_seconds(60, 0.5) == 3
    assert jitter_seconds(3600, 0.999) == pytest.approx(9.99)


def test_workflow_ids_name_the_schedule_and_the_fire_time() -> None:
    fire = dt.datetime(2030, 1, 1, 9, tzinfo=NEW_YORK)
    assert scheduled_workflow_id("daily", fire) == "sched-daily-2030-01-01T09:00:00-05:00"
    assert scheduled_workflow_id("f", T0) == "sched-f-2030-01-01T00:00:00+00:00"
    now = dt.datetime(2030, 1, 1, 0, 0, 1, 500, tzinfo=UTC)
    assert triggered_workflow_id("s", now) == "sched-s-trigger-2030-01-01T00:00:01.000500+00:00"


def test_timezones_resolve_by_iana_name() -> None:
    assert resolve_timezone(None) is UTC
    assert resolve_timezone("Europe/Paris") == zoneinfo.ZoneInfo("Europe/Paris")
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(InvalidTimezone, match="Invalid timezone"):
            resolve_timezone(bad)


def test_schedule_fields_are_checked_name_cron_then_timezone() -> None:
    check_schedule_fields("ok", "* * * * *", "Asia/Tokyo")
    with pytest.raises(InvalidSchedule, match="schedule_name must be a non-empty string"):
        check_schedule_fields("", "* * * * *", None)
    with pytest.raises(InvalidSchedule, match="Invalid cron schedule 'nope'"):
        check_schedule_fields("ok", "nope", "Nowhere/Land")
    with pytest.raises(InvalidSchedule, match="Invalid timezone 'Nowhere/Land'"):
        check_schedule_fields("ok", "* * * * *", "Nowhere/Land")
    with pytest.raises(InvalidSchedule, match="Invalid timezone"):
        check_schedule_fields("ok", "* * * * *", 5)


def test_apply_entries_name_the_missing_field_by_position() -> None:
    required = ("schedule_name", "workflow_fn", "schedule")
    complete = {"schedule_name": "a", "workflow_fn": print, "schedule": "@daily"}
    check_required_fields([complete], required)
    with pytest.raises(
        InvalidSchedule, match="Schedule entry 1 is missing required field 'schedule'"
    ):
        check_required_fields(
            [complete, {"schedule_name": "b", "workflow_fn": print}],
            required,
        )
    with pytest.raises(
        InvalidSchedule, match="Schedule entry 0 is missing required field 'workflow_fn'"
    ):
        check_required_fields([{"schedule_name": "a", "schedule": "@daily"}], required)
    with pytest.raises(InvalidSchedule, match="Schedule entry 0 must be a dict"):
        check_required_fields(["a"], required)  # type: ignore[list-item]


def test_list_filters_take_a_string_or_a_list() -> None:
    f = build_schedule_filter("me", status="ACTIVE", workflow_name=["a", "b", "a"])
    assert (f.statuses, f.workflow_names, f.scope_app) == (("ACTIVE",), ("a", "b"), "me")
    named = build_schedule_filter("me", application_name="them", schedule_name_prefix="x-")
    assert (named.application_names, named.name_prefixes, named.scope_app) == (
        ("them",),
        ("x-",),
        None,  # an explicit application filter is not scoped further
    )
    with pytest.raises(InvalidSchedule, match="status must be a string or a list of strings"):
        build_schedule_filter(None, status=3)


def test_the_signature_covers_what_restarts_a_schedule() -> None:
    base = ScheduleDefinition("s", "wf", None, "@daily", "ctx", False, None, None, "app")
    same = ScheduleDefinition("s", "wf", None, "@daily", "ctx", True, None, None, None)
    assert base.signature() == same.signature()  # backfill and owner do not restart it
    for changed in (
        ScheduleDefinition("s", "wf2", None, "@daily", "ctx"),
        ScheduleDefinition("s", "wf", "C", "@daily", "ctx"),
        ScheduleDefinition("s", "wf", None, "@hourly", "ctx"),
        ScheduleDefinition("s", "wf", None, "@daily", "ctx2"),
        ScheduleDefinition("s", "wf", None, "@daily", "ctx", cron_timezone="UTC"),
        ScheduleDefinition("s", "wf", None, "@daily", "ctx", queue_name="q"),
    ):
        assert changed.signature() != base.signature()


def test_a_cron_with_no_fire_time_left_has_no_next_fire_time() -> None:
    for never_again in ("0 0 0 1 1 * 2020", "0 0 30 2 *"):  # a past year; the 30th of February
        assert check_cron(never_again) == never_again  # well formed, all the same
        assert next_fire_time(never_again, T0) is None
        assert list(fire_times_between(never_again, T0, T0 + dt.timedelta(days=400))) == []
