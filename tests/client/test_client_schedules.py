"""DBOSClient's schedules (spec 7.3): made by name from a process without the code, fired
by DBOS processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from client_support import ClientFactory

from dbos import DBOS, ClientScheduleInput, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException

HERE = Path(__file__).parent
UTC = dt.timezone.utc
TOKYO = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def launched(config: DBOSConfig, clean_dbos: None) -> Iterator[None]:
    @DBOS.workflow(name="fired")
    def fired(fire_time: dt.datetime, context: Any) -> tuple[str, Any]:
        return fire_time.isoformat(), context

    DBOS(config=config)
    DBOS.launch()
    yield


def test_a_client_in_another_process_manages_schedules_that_dbos_fires(
    launched: None, system_database_url: str, pg_schema: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, str(HERE / "client_schedules_process.py"), system_database_url, pg_schema],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    fire_times = [dt.datetime(2030, 1, day, tzinfo=TOKYO).isoformat() for day in (3, 4)]
    assert seen["listed"] == ["by-client", "every-second"]
    assert (seen["paused"], seen["owner"]) == ("PAUSED", "test-app")
    assert seen["backfilled"] == [f"sched-by-client-{t}" for t in fire_times]
    assert seen["results"] == [[t, {"from": "client"}] for t in fire_times]
    assert seen["trigger_id"].startswith("sched-by-client-trigger-")
    assert seen["trigger_context"] == {"from": "client"}
    assert seen["same_id"] is True
    assert seen["applied"] == ["@hourly", "ACTIVE", None]
    assert seen["deleted"] is True
    # The unclaimed every-second schedule the client made is fired by this DBOS process.
    deadline = time.monotonic() + 30
    while not DBOS.list_workflows(schedule_name="every-second"):
        assert time.monotonic() < deadline, "the client's schedule never fired"
        time.sleep(0.02)
    DBOS.delete_schedule("every-second")


def test_client_schedules_are_validated_but_queues_are_not_checked(
    launched: None, make_client: ClientFactory
) -> None:
    client = make_client()

    def create(**overrides: Any) -> None:
        arguments: dict[str, Any] = {
            "schedule_name": "s",
            "workflow_name": "fired",
            "schedule": "* * * * *",
        }
        client.create_schedule(**{**arguments, **overrides})

    with pytest.raises(DBOSException, match="Invalid cron schedule 'often'"):
        create(schedule="often")
    with pytest.raises(DBOSException, match="Invalid timezone 'Atlantis/City'"):
        create(cron_timezone="Atlantis/City")
    with pytest.raises(DBOSException, match="workflow_name must be a non-empty string"):
        create(workflow_name="")
    create(queue_name="declared-by-the-workers", workflow_class_name="Reports")
    with pytest.raises(DBOSException, match="Schedule 's' already exists"):
        create()
    schedule = client.get_schedule("s")
    assert schedule is not None
    assert (schedule["queue_name"], schedule["workflow_class_name"]) == (
        "declared-by-the-workers",
        "Reports",
    )
    entries: list[ClientScheduleInput] = [{"schedule_name": "t", "schedule": "@daily"}]
    with pytest.raises(
        DBOSException, match="Schedule entry 0 is missing required field 'workflow_name'"
    ):
        client.apply_schedules(entries)
    with pytest.raises(DBOSException, match="Schedule 'missing' does not exist"):
        client.trigger_schedule("missing")
    with pytest.raises(DBOSException, match="Schedule 'missing' does not exist"):
        client.backfill_schedule("missing", dt.datetime(2030, 1, 1), dt.datetime(2030, 1, 2))


def test_client_schedules_belong_to_its_application(
    launched: None, make_client: ClientFactory
) -> None:
    other = make_client(application_name="other-app")
    anyone = make_client()
    other.create_schedule(schedule_name="theirs", workflow_name="fired", schedule="@daily")
    other.create_schedule(
        schedule_name="for-us",
        workflow_name="fired",
        schedule="@daily",
        application_name="test-app",
    )
    anyone.create_schedule(schedule_name="unclaimed", workflow_name="fired", schedule="@daily")
    assert [s["schedule_name"] for s in DBOS.list_schedules()] == ["for-us", "unclaimed"]
    assert [s["schedule_name"] for s in other.list_schedules()] == ["theirs", "unclaimed"]
    assert [s["schedule_name"] for s in anyone.list_schedules()] == [
        "for-us",
        "theirs",
        "unclaimed",
    ]
    assert other.get_schedule("for-us") is None
    other.delete_schedule("for-us")  # not its own: left alone
    assert DBOS.get_schedule("for-us") is not None
    anyone.pause_schedule("theirs")  # a client for no one application may change any
    theirs = other.get_schedule("theirs")
    assert theirs is not None and theirs["status"] == "PAUSED"


def test_client_schedule_calls_are_never_checkpointed(
    launched: None, make_client: ClientFactory
) -> None:
    client = make_client()

    @DBOS.workflow()
    def uses_a_client() -> int:
        client.create_schedule(schedule_name="c", workflow_name="fired", schedule="@daily")
        client.trigger_schedule("c")
        return len(client.list_schedules())

    with SetWorkflowID("caller"):
        assert uses_a_client() == 1
    assert DBOS.list_workflow_steps("caller") == []


def test_async_client_schedules(launched: None, make_client: ClientFactory) -> None:
    client = make_client(application_name="test-app")

    async def main() -> dict[str, Any]:
        await client.create_schedule_async(
            schedule_name="a", workflow_name="fired", schedule="0 0 * * *", context=7
        )
        await client.pause_schedule_async("a")
        paused = await client.get_schedule_async("a")
        await client.resume_schedule_async("a")
        handles = await client.backfill_schedule_async(
            "a", dt.datetime(2030, 1, 1), dt.datetime(2030, 1, 2, 1)
        )
        triggered = await client.trigger_schedule_async("a")
        # Both enqueued before either is awaited: one queue poll runs them both.
        backfilled = [await h.get_result(polling_interval_sec=0.05) for h in handles]
        trigger_context = (await triggered.get_result(polling_interval_sec=0.05))[1]
        await client.apply_schedules_async(
            [{"schedule_name": "a", "workflow_name": "fired", "schedule": "@hourly"}]
        )
        listed = await client.list_schedules_async(schedule_name_prefix=["a"], status="ACTIVE")
        await client.delete_schedule_async("a")
        return {
            "paused": None if paused is None else paused["status"],
            "backfilled": backfilled,
            "trigger_context": trigger_context,
            "listed": [(s["schedule_name"], s["schedule"]) for s in listed],
            "gone": await client.get_schedule_async("a"),
        }

    midnight = dt.datetime(2030, 1, 2, tzinfo=UTC).isoformat()
    assert asyncio.run(main()) == {
        "paused": "PAUSED",
        "backfilled": [(midnight, 7)],
        "trigger_context": 7,
        "listed": [("a", "@hourly")],
        "gone": None,
    }


def test_rename_application_moves_its_schedules(launched: None, make_client: ClientFactory) -> None:
    client = make_client()
    for name in ("one", "two"):
        client.create_schedule(
            schedule_name=name, workflow_name="fired", schedule="@daily", application_name="app-a"
        )
    client.create_schedule(schedule_name="stays", workflow_name="fired", schedule="@daily")
    counts = client.rename_application("app-a", "app-b")
    assert counts["schedules"] == 2
    moved = client.list_schedules(application_name="app-b")
    assert [(s["schedule_name"], s["application_name"]) for s in moved] == [
        ("one", "app-b"),
        ("two", "app-b"),
    ]
    assert client.list_schedules(application_name="app-a") == []
