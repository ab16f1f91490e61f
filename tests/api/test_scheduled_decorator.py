"""@DBOS.scheduled (spec 9.1): a workflow fired on a cron, from launch on, once per fire time.

The scheduler runs on a ManualTime clock (schedule_support), so every firing happens at a
fire time the test chose; the exactly-once test across processes is in tests/e2e.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest
from schedule_support import T0, ManualTime, wait_for_running
from system_tables import SystemTables, launch

from dbos import DBOS, DBOSConfig, DBOSConfiguredInstance, DBOSPortableJSONSerializer, SetWorkflowID
from dbos._services import scheduler
from dbos.error import DBOSException

INTERNAL_QUEUE = "_dbos_internal_queue"


def fire_id(name: str, fire_time: dt.datetime) -> str:
    return f"sched-{name}-{fire_time.isoformat()}"


def test_scheduled_workflows_fire_at_each_fire_time_after_launch(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    @DBOS.scheduled("* * * * *")
    @DBOS.workflow(name="every_minute")
    def every_minute(scheduled_time: dt.datetime, actual_time: dt.datetime) -> str:
        return f"{scheduled_time.isoformat()} {actual_time.isoformat()}"

    @DBOS.scheduled("*/20 * * * * *")  # seconds first: at :00, :20 and :40
    @DBOS.workflow(name="every_twenty_seconds")
    async def every_twenty_seconds(scheduled_time: dt.datetime, actual_time: dt.datetime) -> str:
        await asyncio.sleep(0)
        return scheduled_time.isoformat()

    launch(config)
    manual_time.settle(2)
    manual_time.advance(30)  # T0 + 30 s = 00:01:00
    manual_time.settle(2)
    minute = dt.datetime(2030, 1, 1, 0, 1, tzinfo=dt.timezone.utc)
    assert DBOS.retrieve_workflow(fire_id("every_minute", minute)).get_result() == (
        f"{minute.isoformat()} {minute.isoformat()}"  # actual_time: the clock when it fired
    )
    manual_time.advance(60)
    manual_time.settle(2)
    ids = sorted(w["workflow_uuid"] for w in system_tables.workflows())
    twenty = [T0 + dt.timedelta(seconds=s) for s in (10, 30, 50, 70, 90)]
    assert ids == sorted(
        [fire_id("every_minute", minute), fire_id("every_minute", minute + dt.timedelta(minutes=1))]
        + [fire_id("every_twenty_seconds", t) for t in twenty]
    )  # the fire time before launch (00:00:00, 00:00:20) was not backfilled
    for t in twenty:
        assert DBOS.retrieve_workflow(fire_id("every_twenty_seconds", t)).get_result() == (
            t.isoformat()
        )
    row = system_tables.workflow(fire_id("every_minute", minute))
    assert row is not None
    assert (row["queue_name"], row["application_name"]) == (INTERNAL_QUEUE, "test-app")
    assert row["application_version"] == DBOS.application_version


def test_a_fire_time_whose_workflow_exists_is_not_run_again(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime
) -> None:
    runs: list[dt.datetime] = []

    @DBOS.scheduled("* * * * *")
    @DBOS.workflow(name="counted")
    def counted(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
        runs.append(scheduled_time)

    launch(config)
    minute = T0 + dt.timedelta(seconds=30)
    with SetWorkflowID(fire_id("counted", minute)):  # as another process would have
        counted(minute, minute)
    manual_time.settle(1)
    manual_time.advance(90)
    manual_time.settle(1)
    DBOS.retrieve_workflow(fire_id("counted", minute + dt.timedelta(minutes=1))).get_result()
    assert runs == [minute, minute + dt.timedelta(minutes=1)]


def test_firings_go_to_the_latest_application_version(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    @DBOS.scheduled("* * * * *")
    @DBOS.workflow(name="versioned")
    def versioned(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
        return None

    launch(config)
    system_tables.execute(
        "INSERT INTO application_versions (version_id, version_name, version_timestamp, "
        "created_at, application_name) VALUES ('v', 'newer', ?, 0, 'test-app')",
        (2**52,),
    )
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    row = system_tables.workflow(fire_id("versioned", T0 + dt.timedelta(seconds=30)))
    assert row is not None and row["application_version"] == "newer"


def test_class_methods_can_be_scheduled(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime
) -> None:
    @DBOS.dbos_class()
    class Reports:
        @classmethod
        @DBOS.scheduled("* * * * *")
        @DBOS.workflow()
        def nightly(cls, scheduled_time: dt.datetime, actual_time: dt.datetime) -> str:
            return f"{cls.__name__} {scheduled_time.minute}"

    launch(config)
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    name = Reports.nightly.__qualname__
    handle = DBOS.retrieve_workflow(fire_id(name, T0 + dt.timedelta(seconds=30)))
    assert handle.get_result() == "Reports 1"


def test_portable_serialization_delivers_datetimes(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime
) -> None:
    seen: list[tuple[type, type]] = []

    @DBOS.scheduled("* * * * *")
    @DBOS.workflow(name="portable")
    def portable(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
        seen.append((type(scheduled_time), type(actual_time)))

    launch({**config, "serializer": DBOSPortableJSONSerializer()})
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    DBOS.retrieve_workflow(fire_id("portable", T0 + dt.timedelta(seconds=30))).get_result()
    assert seen == [(dt.datetime, dt.datetime)]


def test_jitter_delays_a_firing_by_at_most_a_tenth_of_the_wait(
    clean_dbos: None,
    config: DBOSConfig,
    manual_time: ManualTime,
    system_tables: SystemTables,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def half_jitter(settings: object) -> scheduler.SchedulerTiming:
        return scheduler.SchedulerTiming(time=manual_time, jitter_fraction=lambda: 0.5)

    monkeypatch.setattr(scheduler, "timing_for", half_jitter)

    @DBOS.scheduled("* * * * *")
    @DBOS.workflow(name="jittered")
    def jittered(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
        return None

    launch(config)
    manual_time.settle(1)
    manual_time.advance(30)  # the fire time, but the jitter is half of 30 s / 10
    manual_time.settle(1)
    assert system_tables.workflows() == []
    manual_time.advance(1.5)
    manual_time.settle(1)
    assert [w["workflow_uuid"] for w in system_tables.workflows()] == [
        fire_id("jittered", T0 + dt.timedelta(seconds=30))
    ]


def test_decoration_refuses_bad_crons_and_non_workflows(clean_dbos: None) -> None:
    for cron in ("not a cron", "* * * *", "70 * * * *", ""):
        with pytest.raises(ValueError, match="Invalid cron schedule"):
            DBOS.scheduled(cron)
    with pytest.raises(DBOSException, match=r"on top of @DBOS\.workflow"):

        @DBOS.scheduled("@daily")
        def plain(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
            return None

    with pytest.raises(DBOSException, match="configured instances cannot be scheduled"):

        class Configured(DBOSConfiguredInstance):
            @DBOS.scheduled("@daily")
            @DBOS.workflow()
            def method(self, scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
                return None


def test_each_schedule_has_a_thread_from_launch_until_destroy(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime
) -> None:
    @DBOS.scheduled("* * * * *")
    @DBOS.workflow(name="threaded")
    def threaded(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
        return None

    def scheduler_threads() -> set[str]:
        return {t.name for t in threading.enumerate() if t.name.startswith("dbos-schedule")}

    assert scheduler_threads() == set()
    launch(config)
    DBOS.create_schedule(schedule_name="stored", workflow_fn=threaded, schedule="@daily")
    wait_for_running({"stored"})
    assert scheduler_threads() == {
        "dbos-scheduler",
        "dbos-schedule-threaded",
        "dbos-schedule-stored",
    }
    DBOS.destroy()
    assert scheduler_threads() == set()
