"""Streams: write_stream / close_stream / read_stream / read_stream_offset and their endings."""

from __future__ import annotations

import asyncio

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import (
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSStreamNondeterminismError,
    DBOSStreamTimeoutError,
)

FINISHED = {"SUCCESS", "ERROR"}


def test_a_closed_stream_is_read_in_order_including_none(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def writer() -> None:
        for value in ["a", None, {"b": 2}]:
            DBOS.write_stream("out", value)
        DBOS.close_stream("out")

    with SetWorkflowID("writer"):
        writer()
    assert list(DBOS.read_stream("writer", "out")) == ["a", None, {"b": 2}]
    assert list(DBOS.read_stream("writer", "out", offset=2)) == [{"b": 2}]
    names = [r["function_name"] for r in system_tables.steps("writer")]
    assert names == ["DBOS.writeStream"] * 3 + ["DBOS.closeStream"]
    rows = system_tables.execute('SELECT "offset", function_id FROM streams ORDER BY "offset"')
    assert [(r["offset"], r["function_id"]) for r in rows] == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_a_reader_gets_values_while_the_writer_runs(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def live_writer() -> None:
        for i in range(3):
            DBOS.recv("next", timeout_seconds=10)
            DBOS.write_stream("live", i)
        DBOS.close_stream("live")

    handle = DBOS.start_workflow(live_writer)
    reader = DBOS.read_stream(handle.workflow_id, "live", timeout_seconds=10)
    seen = []
    for _ in range(3):
        DBOS.send(handle.workflow_id, None, "next")
        seen.append(next(reader))
    assert seen == [0, 1, 2]
    assert list(reader) == []


def test_a_stream_ends_when_its_writer_finishes_without_closing(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def forgetful() -> None:
        DBOS.write_stream("s", 1)
        DBOS.write_stream("s", 2)

    handle = DBOS.start_workflow(forgetful)
    handle.get_result()
    assert list(DBOS.read_stream(handle.workflow_id, "s")) == [1, 2]


def test_a_write_from_a_step_is_appended_without_a_checkpoint(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def produce() -> None:
        DBOS.write_stream("s", "from step")
        DBOS.write_stream("s", "again")

    @DBOS.workflow()
    def workflow() -> None:
        produce()
        DBOS.close_stream("s")

    with SetWorkflowID("step-writer"):
        workflow()
    assert list(DBOS.read_stream("step-writer", "s")) == ["from step", "again"]
    rows = system_tables.execute('SELECT function_id FROM streams ORDER BY "offset"')
    assert [r["function_id"] for r in rows] == [1, 1, 2]


def test_write_stream_outside_a_workflow_is_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSException, match=r"write_stream\(\) must be called from within"):
        DBOS.write_stream("s", 1)
    with pytest.raises(DBOSException, match=r"close_stream\(\) must be called from within"):
        DBOS.close_stream("s")


def test_reading_a_missing_workflow_raises(dbos: type[DBOS]) -> None:
    with pytest.raises(DBOSNonExistentWorkflowError):
        list(DBOS.read_stream("nobody", "s"))


def test_the_timeout_applies_to_each_value(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def stalls() -> None:
        DBOS.write_stream("s", "first")
        DBOS.recv("never", timeout_seconds=30)

    handle = DBOS.start_workflow(stalls)
    reader = DBOS.read_stream(handle.workflow_id, "s", timeout_seconds=0.05)
    assert next(reader) == "first"
    with pytest.raises(DBOSStreamTimeoutError) as caught:
        next(reader)
    assert caught.value.workflow_id == handle.workflow_id
    assert caught.value.key == "s"
    DBOS.send(handle.workflow_id, None, "never")
    handle.get_result()


def test_read_stream_offset_waits_for_one_value_and_raises_past_the_end(
    dbos: type[DBOS],
) -> None:
    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", "zero")
        DBOS.write_stream("s", "one")
        DBOS.close_stream("s")

    handle = DBOS.start_workflow(writer)
    assert DBOS.read_stream_offset(handle.workflow_id, "s", 1, timeout_seconds=10) == "one"
    with pytest.raises(DBOSStreamTimeoutError):
        DBOS.read_stream_offset(handle.workflow_id, "s", 2, timeout_seconds=10)


def test_bad_read_options_are_refused(dbos: type[DBOS]) -> None:
    for options in (
        {"polling_interval_sec": 0},
        {"polling_interval_sec": float("inf")},
        {"timeout_seconds": -1},
        {"offset": -1},
    ):
        with pytest.raises(ValueError):
            list(DBOS.read_stream("wf", "s", **options))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DBOS.read_stream_offset("wf", "s", -1)
    with pytest.raises(TypeError):
        list(DBOS.read_stream("", "s"))


def test_reads_inside_a_workflow_are_checkpointed_and_replay_the_same_sequence(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", "v0")
        DBOS.write_stream("s", "v1")
        DBOS.close_stream("s")

    @DBOS.workflow()
    def reader() -> list[object]:
        return list(DBOS.read_stream("writer", "s"))

    launch(config)
    with SetWorkflowID("writer"):
        writer()
    with SetWorkflowID("reader"):
        assert reader() == ["v0", "v1"]
    names = [r["function_name"] for r in system_tables.steps("reader")]
    assert names == ["DBOS.readStream"] * 3  # two values and the end
    system_tables.execute('DELETE FROM streams WHERE "offset" = 1')  # the source changes
    system_tables.force_pending("reader")
    relaunch(config)
    assert system_tables.wait_for_status("reader", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("reader") == ["v0", "v1"]


def test_overlapping_checkpointed_reads_are_refused(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", 1)
        DBOS.close_stream("s")

    @DBOS.workflow()
    def interleaver(source: str) -> str:
        first = DBOS.read_stream(source, "s")
        next(first)
        second = DBOS.read_stream(source, "s")
        try:
            next(second)
        except DBOSStreamNondeterminismError:
            return "refused"
        return "allowed"

    handle = DBOS.start_workflow(writer)
    handle.get_result()
    assert interleaver(handle.workflow_id) == "refused"


def test_async_streams(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def async_writer() -> None:
        await DBOS.write_stream_async("s", "x")
        await DBOS.write_stream_async("s", None)
        await DBOS.close_stream_async("s")

    async def main() -> tuple[list[object], object]:
        handle = await DBOS.start_workflow_async(async_writer)
        values = [v async for v in DBOS.read_stream_async(handle.workflow_id, "s")]
        one = await DBOS.read_stream_offset_async(handle.workflow_id, "s", 0)
        return values, one

    assert asyncio.run(main()) == (["x", None], "x")


def test_gathered_async_writes_each_take_one_offset_with_no_gap(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    async def gatherer() -> None:
        await DBOS.write_stream_async("s", "first")
        await DBOS.write_stream_async("s", "second")  # the run now knows the next offset
        await asyncio.gather(*(DBOS.write_stream_async("s", n) for n in range(12)))
        await DBOS.write_stream_async("s", "after")
        await DBOS.write_stream_async("s", "last")
        await DBOS.close_stream_async("s")

    async def main() -> list[object]:
        handle = await DBOS.start_workflow_async(gatherer)
        await handle.get_result()
        return [v async for v in DBOS.read_stream_async(handle.workflow_id, "s")]

    values = asyncio.run(main())
    assert values[:2] == ["first", "second"] and values[-2:] == ["after", "last"]
    assert sorted(values[2:-2]) == list(range(12))  # type: ignore[type-var]
    rows = system_tables.execute('SELECT "offset" FROM streams ORDER BY "offset"')
    assert [r["offset"] for r in rows] == list(range(17))  # the close marker included


def test_a_write_at_an_offset_somebody_else_took_goes_after_it(
    dbos: type[DBOS], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run expects offset 2 next; a value written behind its back takes it first."""
    from dbos._api.state import state

    assert state.runtime is not None
    streams = state.runtime.db.streams
    learned: list[int] = []

    def last_offset(workflow_id: str, key: str) -> int:
        learned.append(type(streams).last_offset(streams, workflow_id, key))
        return learned[-1]

    monkeypatch.setattr(streams, "last_offset", last_offset)

    @DBOS.step()
    def write_behind_the_runs_back(workflow_id: str) -> None:
        rt = state.runtime
        assert rt is not None
        serializer = rt.codec.serializer_for(None)
        payload = rt.codec.encode_value("behind", serializer)
        rt.db.streams.write(workflow_id, "s", payload, serializer.name(), 99)

    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", "a")
        DBOS.write_stream("s", "b")
        write_behind_the_runs_back(DBOS.workflow_id or "")
        DBOS.write_stream("s", "c")
        DBOS.write_stream("s", "d")

    with SetWorkflowID("collider"):
        writer()
    assert list(DBOS.read_stream("collider", "s")) == ["a", "b", "behind", "c", "d"]
    # "b" learned the offset (0 was the last), "c" was handed 2 and collided, and "d",
    # after the database picked for "c", learned it again.
    assert learned == [0, 3]
