"""DBOS.sleep: the wake time is a checkpoint, so replays and recoveries do not sleep again."""

from __future__ import annotations

import json
import threading
import time

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException


def test_sleep_records_its_wake_time_as_a_dbos_sleep_step(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def napper() -> float:
        started = time.monotonic()
        DBOS.sleep(0.05)
        return time.monotonic() - started

    with SetWorkflowID("nap"):
        slept = napper()
    assert slept >= 0.045
    rows = system_tables.steps("nap")
    assert [(r["function_id"], r["function_name"]) for r in rows] == [(1, "DBOS.sleep")]
    row = rows[0]
    assert row["serialization"] == "portable_json"
    wake_at = json.loads(row["output"])
    assert isinstance(wake_at, float)
    # The wake time is epoch seconds, ~0.05 s after the step started; completed_at is it in ms.
    assert 0.04 <= wake_at - row["started_at_epoch_ms"] / 1000 <= 5
    assert row["completed_at_epoch_ms"] == int(wake_at * 1000)
    assert row["error"] is None


def test_calling_a_completed_workflow_again_does_not_sleep_again(dbos: type[DBOS]) -> None:
    duration = [0.01]

    @DBOS.workflow()
    def napper() -> str:
        DBOS.sleep(duration[0])
        return "rested"

    with SetWorkflowID("nap-once"):
        assert napper() == "rested"

    duration[0] = 3600  # a body that ran again would sleep for an hour
    done = threading.Event()
    results: list[str] = []

    def call_again() -> None:
        with SetWorkflowID("nap-once"):
            results.append(napper())
        done.set()

    threading.Thread(target=call_again, daemon=True).start()
    assert done.wait(10)
    assert results == ["rested"]


def test_recovery_sleeps_only_until_the_recorded_wake_time(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    duration = [0.01]
    after_sleep: list[int] = []

    @DBOS.workflow()
    def napper() -> str:
        DBOS.sleep(duration[0])
        after_sleep.append(1)
        return "rested"

    launch(config)
    with SetWorkflowID("nap-recover"):
        assert napper() == "rested"
    system_tables.force_pending("nap-recover")
    duration[0] = 3600  # only a recovery that ignored the recorded wake time would wait this
    relaunch(config)

    row = system_tables.wait_for_status("nap-recover", {"SUCCESS", "ERROR"})
    assert row["status"] == "SUCCESS"
    assert after_sleep == [1, 1]
    assert [r["function_name"] for r in system_tables.steps("nap-recover")] == ["DBOS.sleep"]


def test_sleep_outside_a_workflow_raises(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSException, match="within a workflow"):
        DBOS.sleep(0.01)


def test_sleep_inside_a_step_is_refused(dbos: type[DBOS]) -> None:
    @DBOS.step()
    def naps() -> None:
        DBOS.sleep(0.01)

    @DBOS.workflow()
    def wf() -> None:
        naps()

    with pytest.raises(AssertionError):
        wf()


def test_sleep_of_zero_or_less_returns_at_once_and_records_nothing(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def after() -> int | None:
        return DBOS.step_id

    @DBOS.workflow()
    def wf() -> int | None:
        DBOS.sleep(0)
        DBOS.sleep(-5)
        return after()

    with SetWorkflowID("no-nap"):
        assert wf() == 1
    assert [r["function_name"] for r in system_tables.steps("no-nap")] == [after.__qualname__]
    DBOS.sleep(0)  # outside a workflow too: nothing to record, nothing to refuse
