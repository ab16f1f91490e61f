"""Schedules in the database (spec 9.2): create, read, change and fire them through DBOS.

The scheduler runs on a ManualTime clock (schedule_support): a test moves the clock past a
fire time, waits for the tickers to settle, and finds exactly the firings it expects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from schedule_support import T0, ManualTime, running_scheduler, wait_for_running
from system_tables import SystemTables, launch, wait_until

from dbos import DBOS, DBOSConfig, DBOSConfiguredInstance, Queue, ScheduleInput
from dbos.error import DBOSException

UTC = dt.timezone.utc
NEXT_MINUTE = T0 + dt.timedelta(seconds=30)  # 00:01:00, the first per-minute fire time


def register() -> Any:
    """The workflow the schedules here fire, registered before launch; it returns its args."""

    @DBOS.workflow(name="fired")
    def fired(fire_time: dt.datetime, context: Any) -> tuple[str, Any]:
        return fire_time.isoformat(), context

    return fired


@pytest.fixture
def fired(clean_dbos: None, config: DBOSConfig, manual_time: ManualTime) -> Any:
    workflow = register()
    launch(config)
    return workflow


def fire_id(name: str, fire_time: dt.datetime) -> str:
    return f"sched-{name}-{fire_time.isoformat()}"


def fired_ids(system_tables: SystemTables) -> list[str]:
    return [w["workflow_uuid"] for w in system_tables.workflows()]


# ---------------------------------------------------------------------- create and read


def test_created_schedules_are_listed_and_read_back(fired: Any) -> None:
    DBOS.create_schedule(
        schedule_name="nightly",
        workflow_fn=fired,
        schedule="0 2 * * *",
        context={"report": "sales"},
        automatic_backfill=True,
        cron_timezone="Europe/Paris",
    )
    DBOS.create_schedule(schedule_name="hourly", workflow_fn=fired, schedule="@hourly")
    nightly = DBOS.get_schedule("nightly")
    assert nightly is not None
    assert {k: v for k, v in nightly.items() if k != "schedule_id"} == {
        "schedule_name": "nightly",
        "workflow_name": "fired",
        "workflow_class_name": None,
        "schedule": "0 2 * * *",
        "status": "ACTIVE",
        "context": {"report": "sales"},
        "last_fired_at": None,
        "automatic_backfill": True,
        "cron_timezone": "Europe/Paris",
        "queue_name": None,
        "application_name": "test-app",
    }
    assert [s["schedule_name"] for s in DBOS.list_schedules()] == ["hourly", "nightly"]
    assert DBOS.get_schedule("missing") is None


def test_list_filters_take_a_string_or_a_list(fired: Any) -> None:
    @DBOS.workflow(name="other")
    def other(fire_time: dt.datetime, context: Any) -> None:
        return None

    for name, fn in (("a-1", fired), ("a-2", other), ("b-1", fired)):
        DBOS.create_schedule(schedule_name=name, workflow_fn=fn, schedule="@daily")
    DBOS.pause_schedule("a-2")

    def names(**filters: Any) -> list[str]:
        return [s["schedule_name"] for s in DBOS.list_schedules(**filters)]

    assert names(status="PAUSED") == ["a-2"]
    assert names(status=["ACTIVE", "PAUSED"]) == ["a-1", "a-2", "b-1"]
    assert names(workflow_name="fired") == ["a-1", "b-1"]
    assert names(workflow_name=["other", "fired"], status="ACTIVE") == ["a-1", "b-1"]
    assert names(schedule_name_prefix="a-") == ["a-1", "a-2"]
    assert names(schedule_name_prefix=["b-", "a-2"]) == ["a-2", "b-1"]
    assert names(application_name="test-app") == ["a-1", "a-2", "b-1"]
    assert names(application_name=["someone-else"]) == []
    with pytest.raises(DBOSException, match="status must be a string or a list of strings"):
        DBOS.list_schedules(status=3)  # type: ignore[arg-type]


def test_create_refuses_what_cannot_be_scheduled(fired: Any) -> None:
    @DBOS.workflow()
    def unregistered_twin(fire_time: dt.datetime, context: Any) -> None:
        return None

    def not_a_workflow(fire_time: dt.datetime, context: Any) -> None:
        return None

    @DBOS.dbos_class()
    class Configured(DBOSConfiguredInstance):
        @DBOS.workflow()
        def method(self, fire_time: dt.datetime, context: Any) -> None:
            return None

    instance = Configured("config")

    def create(**overrides: Any) -> None:
        arguments: dict[str, Any] = {
            "schedule_name": "s",
            "workflow_fn": fired,
            "schedule": "* * * * *",
        }
        DBOS.create_schedule(**{**arguments, **overrides})

    with pytest.raises(DBOSException, match="Invalid cron schedule 'every day'"):
        create(schedule="every day", workflow_fn=not_a_workflow)  # the cron is checked first
    with pytest.raises(
        DBOSException, match=r"Workflow function '.*not_a_workflow' is not registered"
    ):
        create(workflow_fn=not_a_workflow)
    with pytest.raises(DBOSException, match="configured instance"):
        create(workflow_fn=instance.method)
    with pytest.raises(DBOSException, match="Invalid timezone 'Mars/Base'"):
        create(cron_timezone="Mars/Base")
    with pytest.raises(DBOSException, match="Queue 'nowhere' is not declared"):
        create(queue_name="nowhere")
    with pytest.raises(DBOSException, match="schedule_name must be a non-empty string"):
        create(schedule_name="")
    create()
    with pytest.raises(DBOSException, match="Schedule 's' already exists"):
        create(workflow_fn=unregistered_twin)
    assert [s["schedule_name"] for s in DBOS.list_schedules()] == ["s"]


def test_a_schedule_may_use_a_declared_or_registered_queue(fired: Any) -> None:
    Queue("declared-here")
    DBOS.register_queue("registered")
    DBOS.create_schedule(
        schedule_name="a", workflow_fn=fired, schedule="@daily", queue_name="declared-here"
    )
    DBOS.create_schedule(
        schedule_name="b", workflow_fn=fired, schedule="@daily", queue_name="registered"
    )
    assert [s["queue_name"] for s in DBOS.list_schedules()] == ["declared-here", "registered"]


def test_a_name_another_application_owns_is_refused(
    fired: Any, system_tables: SystemTables
) -> None:
    system_tables.execute(
        "INSERT INTO workflow_schedules (schedule_id, schedule_name, workflow_name, schedule, "
        "context, application_name) VALUES ('x', 'theirs', 'fired', '@daily', 'c', 'other-app')"
    )
    with pytest.raises(DBOSException, match="already registered by application 'other-app'"):
        DBOS.create_schedule(schedule_name="theirs", workflow_fn=fired, schedule="@daily")
    with pytest.raises(DBOSException, match="rename-application"):
        DBOS.apply_schedules(
            [{"schedule_name": "theirs", "workflow_fn": fired, "schedule": "@daily"}]
        )
    assert DBOS.list_schedules() == []  # another application's schedule is not ours to see
    assert DBOS.get_schedule("theirs") is None
    DBOS.delete_schedule("theirs")
    assert len(system_tables.execute("SELECT * FROM workflow_schedules")) == 1


# ---------------------------------------------------------------------- firing


def test_a_schedule_fires_in_its_timezone_with_its_context(
    fired: Any, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    Queue("routed")
    DBOS.create_schedule(
        schedule_name="tz",
        workflow_fn=fired,
        schedule="* * * * *",
        context=["ctx", 1],
        cron_timezone="America/New_York",
        queue_name="routed",
    )
    wait_for_running({"tz"})
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    local = NEXT_MINUTE.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    workflow_id = fire_id("tz", local)
    assert workflow_id == "sched-tz-2029-12-31T19:01:00-05:00"  # the ID carries the offset
    assert DBOS.retrieve_workflow(workflow_id).get_result() == (local.isoformat(), ["ctx", 1])
    row = system_tables.workflow(workflow_id)
    assert row is not None
    assert (row["queue_name"], row["schedule_name"]) == ("routed", "tz")
    assert [w.workflow_id for w in DBOS.list_workflows(schedule_name="tz")] == [workflow_id]
    schedule = DBOS.get_schedule("tz")
    assert schedule is not None and schedule["last_fired_at"] == local.isoformat()


def test_pause_stops_firing_and_resume_starts_it_again(
    fired: Any, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    DBOS.create_schedule(schedule_name="p", workflow_fn=fired, schedule="* * * * *")
    wait_for_running({"p"})
    DBOS.pause_schedule("p")
    assert DBOS.list_schedules(status="PAUSED")[0]["schedule_name"] == "p"
    wait_for_running(set())
    manual_time.settle(0)
    manual_time.advance(90)  # two fire times pass while it is paused
    assert fired_ids(system_tables) == []
    DBOS.resume_schedule("p")
    wait_for_running({"p"})
    manual_time.settle(1)
    manual_time.advance(60)
    manual_time.settle(1)
    assert fired_ids(system_tables) == [fire_id("p", T0 + dt.timedelta(minutes=2, seconds=30))]
    DBOS.pause_schedule("missing")  # nothing to pause: nothing happens
    DBOS.resume_schedule("missing")


def test_a_changed_definition_restarts_the_schedule(
    fired: Any, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    DBOS.create_schedule(schedule_name="c", workflow_fn=fired, schedule="0 * * * *", context=1)
    wait_for_running({"c"})
    old_key = running_scheduler().running()["c"]
    DBOS.apply_schedules(
        [{"schedule_name": "c", "workflow_fn": fired, "schedule": "* * * * *", "context": 2}]
    )
    wait_until(lambda: running_scheduler().running().get("c") not in (None, old_key))
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    assert DBOS.retrieve_workflow(fire_id("c", NEXT_MINUTE)).get_result() == (
        NEXT_MINUTE.isoformat(),
        2,
    )


def test_a_deleted_schedule_stops_firing(
    fired: Any, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    DBOS.create_schedule(schedule_name="d", workflow_fn=fired, schedule="* * * * *")
    wait_for_running({"d"})
    DBOS.delete_schedule("d")
    DBOS.delete_schedule("d")  # already gone: nothing happens
    assert DBOS.get_schedule("d") is None
    wait_for_running(set())
    manual_time.settle(0)
    manual_time.advance(120)
    assert fired_ids(system_tables) == []


def test_schedules_of_other_applications_are_not_fired_here(
    fired: Any, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    for name, owner in (("theirs", "'other-app'"), ("unclaimed", "NULL")):
        system_tables.execute(
            "INSERT INTO workflow_schedules (schedule_id, schedule_name, workflow_name, "
            f"schedule, context, application_name) VALUES (?, ?, 'fired', '* * * * *', ?, {owner})",
            (name, name, DBOS_NONE_CONTEXT),
        )
    wait_for_running({"unclaimed"})
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    assert fired_ids(system_tables) == [fire_id("unclaimed", NEXT_MINUTE)]


# pickle of None as the default serializer stores it: a context written by another tool.
DBOS_NONE_CONTEXT = "gAROLg=="


def test_automatic_backfill_fires_what_was_missed_when_a_schedule_starts(
    fired: Any, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    for name, backfill in (("catch-up", True), ("no-catch-up", False)):
        DBOS.create_schedule(
            schedule_name=name,
            workflow_fn=fired,
            schedule="* * * * *",
            automatic_backfill=backfill,
        )
    wait_for_running({"catch-up", "no-catch-up"})
    manual_time.settle(2)
    manual_time.advance(30)  # both fire at 00:01, which becomes their last fire time
    manual_time.settle(2)
    for name in ("catch-up", "no-catch-up"):
        DBOS.pause_schedule(name)
    wait_for_running(set())
    manual_time.settle(0)
    manual_time.advance(190)  # 00:04:10: 00:02, 00:03 and 00:04 are missed
    for name in ("catch-up", "no-catch-up"):
        DBOS.resume_schedule(name)
    wait_for_running({"catch-up", "no-catch-up"})
    manual_time.settle(2)
    minutes = [NEXT_MINUTE + dt.timedelta(minutes=m) for m in range(4)]
    assert sorted(fired_ids(system_tables)) == sorted(
        [fire_id("catch-up", m) for m in minutes] + [fire_id("no-catch-up", minutes[0])]
    )
    schedule = DBOS.get_schedule("catch-up")
    assert schedule is not None and schedule["last_fired_at"] == minutes[-1].isoformat()


# ---------------------------------------------------------------------- apply


def test_apply_upserts_and_keeps_id_status_and_last_fire(
    fired: Any, manual_time: ManualTime
) -> None:
    DBOS.create_schedule(schedule_name="kept", workflow_fn=fired, schedule="* * * * *")
    wait_for_running({"kept"})
    manual_time.settle(1)
    manual_time.advance(30)
    manual_time.settle(1)
    DBOS.pause_schedule("kept")
    before = DBOS.get_schedule("kept")
    assert before is not None and before["last_fired_at"] == NEXT_MINUTE.isoformat()
    schedules: list[ScheduleInput] = [
        {"schedule_name": "kept", "workflow_fn": fired, "schedule": "@daily", "context": "new"},
        {"schedule_name": "added", "workflow_fn": fired, "schedule": "@hourly"},
    ]
    DBOS.apply_schedules(schedules)
    after = DBOS.get_schedule("kept")
    assert after is not None
    for kept in ("schedule_id", "status", "last_fired_at"):
        assert after[kept] == before[kept]
    assert (after["schedule"], after["context"]) == ("@daily", "new")
    assert [s["schedule_name"] for s in DBOS.list_schedules()] == ["added", "kept"]


def test_apply_checks_every_entry_before_writing(fired: Any) -> None:
    good: ScheduleInput = {"schedule_name": "good", "workflow_fn": fired, "schedule": "@daily"}
    with pytest.raises(
        DBOSException, match="Schedule entry 1 is missing required field 'workflow_fn'"
    ):
        DBOS.apply_schedules([good, {"schedule_name": "bad", "schedule": "@daily"}])
    with pytest.raises(
        DBOSException, match="Schedule entry 0 is missing required field 'schedule'"
    ):
        DBOS.apply_schedules([{"schedule_name": "bad", "workflow_fn": fired}])
    with pytest.raises(DBOSException, match="Invalid cron schedule"):
        DBOS.apply_schedules([good, {**good, "schedule_name": "b", "schedule": "nope"}])
    with pytest.raises(DBOSException, match="unknown fields: scheudle"):
        DBOS.apply_schedules([{**good, "scheudle": "@daily"}])  # type: ignore[typeddict-unknown-key]
    assert DBOS.list_schedules() == []
    asyncio.run(DBOS.apply_schedules_async([good]))
    assert [s["schedule_name"] for s in DBOS.list_schedules()] == ["good"]


# ---------------------------------------------------------------------- backfill and trigger


def test_backfill_enqueues_fire_times_strictly_inside_the_window(fired: Any) -> None:
    DBOS.create_schedule(
        schedule_name="b", workflow_fn=fired, schedule="0 0 * * *", cron_timezone="Asia/Tokyo"
    )
    start = dt.datetime(2030, 1, 1, 15)  # naive: UTC, which is midnight in Tokyo
    end = dt.datetime(2030, 1, 4, 15, tzinfo=UTC)
    handles = DBOS.backfill_schedule("b", start, end)
    tokyo = dt.timezone(dt.timedelta(hours=9))
    # The bounds are midnight on the 2nd and the 5th in Tokyo: fire times, but not inside.
    expected = [dt.datetime(2030, 1, d, tzinfo=tokyo) for d in (3, 4)]
    assert [h.workflow_id for h in handles] == [fire_id("b", t) for t in expected]
    assert [h.get_result() for h in handles] == [(t.isoformat(), None) for t in expected]
    again = DBOS.backfill_schedule("b", start - dt.timedelta(days=1), end)
    assert [h.workflow_id for h in again][1:] == [h.workflow_id for h in handles]
    assert len(DBOS.list_workflows(schedule_name="b")) == 3  # the ones that ran, ran once
    with pytest.raises(DBOSException, match="Schedule 'missing' does not exist"):
        DBOS.backfill_schedule("missing", start, end)


def test_trigger_enqueues_a_firing_now(fired: Any) -> None:
    DBOS.create_schedule(schedule_name="t", workflow_fn=fired, schedule="@yearly", context="c")
    before = dt.datetime.now(UTC)
    handle = DBOS.trigger_schedule("t")
    fire_time, context = handle.get_result()
    assert context == "c"
    assert before - dt.timedelta(seconds=1) <= dt.datetime.fromisoformat(fire_time)
    assert handle.workflow_id == f"sched-t-trigger-{fire_time}"
    assert DBOS.get_workflow_status(handle.workflow_id).schedule_name == "t"  # type: ignore[union-attr]
    with pytest.raises(DBOSException, match="Schedule 'missing' does not exist"):
        DBOS.trigger_schedule("missing")


def test_portable_serialization_coerces_the_fire_time(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime
) -> None:
    from dbos import DBOSPortableJSONSerializer

    @DBOS.workflow(name="typed")
    def typed(fire_time: dt.datetime, context: Any) -> str:
        assert isinstance(fire_time, dt.datetime)
        return type(context).__name__

    launch({**config, "serializer": DBOSPortableJSONSerializer()})
    DBOS.create_schedule(schedule_name="p", workflow_fn=typed, schedule="@daily", context=[1])
    assert DBOS.trigger_schedule("p").get_result() == "list"
    [handle] = DBOS.backfill_schedule("p", T0, T0 + dt.timedelta(days=1))
    assert handle.get_result() == "list"


# ---------------------------------------------------------------------- inside workflows


def test_schedule_calls_in_a_workflow_are_checkpointed_steps(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime, system_tables: SystemTables
) -> None:
    from system_tables import relaunch

    from dbos import SetWorkflowID

    fired = register()
    runs: list[str] = []

    @DBOS.workflow()
    def manager() -> int:
        runs.append("run")
        DBOS.create_schedule(schedule_name="m", workflow_fn=fired, schedule="@daily")
        DBOS.pause_schedule("m")
        DBOS.resume_schedule("m")
        found = DBOS.get_schedule("m")
        listed = DBOS.list_schedules()
        DBOS.delete_schedule("m")
        assert found is not None
        return len(listed)

    launch(config)
    with SetWorkflowID("manager"):
        assert manager() == 1
    names = [s["function_name"] for s in DBOS.list_workflow_steps("manager")]
    assert names == [
        "DBOS.createSchedule", "DBOS.pauseSchedule", "DBOS.resumeSchedule",
        "DBOS.getSchedule", "DBOS.listSchedules", "DBOS.deleteSchedule",
    ]  # fmt: skip
    # A replay returns what was recorded: creating again would raise "already exists".
    DBOS.create_schedule(schedule_name="m", workflow_fn=fired, schedule="@hourly")
    system_tables.force_pending("manager")
    relaunch(config)
    assert DBOS.retrieve_workflow("manager").get_result() == 1
    assert runs == ["run", "run"]
    schedule = DBOS.get_schedule("m")
    assert schedule is not None and schedule["schedule"] == "@hourly"  # the replay left it


def test_apply_backfill_and_trigger_refuse_to_run_in_a_workflow(fired: Any) -> None:
    DBOS.create_schedule(schedule_name="r", workflow_fn=fired, schedule="@daily")

    @DBOS.workflow()
    def refused(call: str) -> None:
        if call == "apply":
            DBOS.apply_schedules(
                [{"schedule_name": "x", "workflow_fn": fired, "schedule": "@daily"}]
            )
        elif call == "backfill":
            DBOS.backfill_schedule("r", T0, T0 + dt.timedelta(days=2))
        else:
            DBOS.trigger_schedule("r")

    for call in ("apply", "backfill", "trigger"):
        with pytest.raises(DBOSException, match="cannot be called from within a workflow"):
            refused(call)
    assert DBOS.list_workflows(schedule_name="r") == []


def test_async_forms_exist_where_the_spec_has_them(fired: Any) -> None:
    async def main() -> list[Any]:
        await DBOS.create_schedule_async(schedule_name="a", workflow_fn=fired, schedule="@daily")
        listed = await DBOS.list_schedules_async(schedule_name_prefix="a")
        found = await DBOS.get_schedule_async("a")
        await DBOS.delete_schedule_async("a")
        gone = await DBOS.get_schedule_async("a")
        return [[s["schedule_name"] for s in listed], found is not None, gone]

    assert asyncio.run(main()) == [["a"], True, None]
    for missing in ("pause_schedule_async", "resume_schedule_async", "backfill_schedule_async"):
        assert not hasattr(DBOS, missing)
    assert not hasattr(DBOS, "trigger_schedule_async")
    with pytest.raises(RuntimeError, match="create_schedule_async"):

        async def sync_in_loop() -> None:
            DBOS.create_schedule(schedule_name="b", workflow_fn=fired, schedule="@daily")

        asyncio.run(sync_in_loop())


def test_class_and_static_methods_can_be_scheduled(
    clean_dbos: None, config: DBOSConfig, manual_time: ManualTime
) -> None:
    @DBOS.dbos_class("Billing")
    class Billing:
        @classmethod
        @DBOS.workflow(name="Billing.by_class")
        def by_class(cls, fire_time: dt.datetime, context: Any) -> str:
            return f"{cls.__name__} {context}"

        @staticmethod
        @DBOS.workflow(name="Billing.by_static")
        def by_static(fire_time: dt.datetime, context: Any) -> str:
            return f"static {context}"

    launch(config)
    DBOS.create_schedule(
        schedule_name="cls", workflow_fn=Billing.by_class, schedule="@daily", context=1
    )
    DBOS.create_schedule(
        schedule_name="static", workflow_fn=Billing.by_static, schedule="@daily", context=2
    )
    stored = {s["schedule_name"]: s for s in DBOS.list_schedules()}
    assert [(s["workflow_name"], s["workflow_class_name"]) for s in stored.values()] == [
        ("Billing.by_class", "Billing"),
        ("Billing.by_static", "Billing"),
    ]
    assert DBOS.trigger_schedule("cls").get_result() == "Billing 1"
    assert DBOS.trigger_schedule("static").get_result() == "static 2"
