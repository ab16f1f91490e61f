"""Queues registered in the database: every process serves them, and their settings can be
read and changed while they run (spec 4.1)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest
from system_tables import SystemTables, wait_until

from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID
from dbos.error import DBOSException


class Gauge:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


@pytest.fixture
def dbos_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logging.getLogger("dbos").addHandler(handler)
    yield records
    logging.getLogger("dbos").removeHandler(handler)


def queue_row(system_tables: SystemTables, name: str) -> dict[str, object] | None:
    rows = system_tables.execute("SELECT * FROM queues WHERE name = ?", (name,))
    return rows[0] if rows else None


def insert_queue_row(
    system_tables: SystemTables, name: str, app: str | None, **columns: object
) -> None:
    """A queue row as another process (or application) would have registered it."""
    names = ["queue_id", "name", "application_name", "created_at", "updated_at", *columns]
    values = [f"id-{name}", name, app, 1, 1, *columns.values()]
    marks = ", ".join("?" * len(values))
    system_tables.execute(f"INSERT INTO queues ({', '.join(names)}) VALUES ({marks})", values)


def test_a_registered_queue_is_stored_and_served(
    dbos: type[DBOS], system_tables: SystemTables, dbos_logs: list[logging.LogRecord]
) -> None:
    queue = DBOS.register_queue(
        "registered", worker_concurrency=2, limiter={"limit": 50, "period": 1.5}
    )

    @DBOS.workflow()
    def double(x: int) -> int:
        return 2 * x

    assert queue.enqueue(double, 21).get_result() == 42
    row = queue_row(system_tables, "registered")
    assert row is not None
    assert (row["worker_concurrency"], row["rate_limit_max"], row["rate_limit_period_sec"]) == (
        2,
        50,
        1.5,
    )
    assert (row["application_name"], row["concurrency"]) == ("test-app", None)
    assert any("Registered queue registered" in r.getMessage() for r in dbos_logs)
    assert (queue.worker_concurrency, queue.limiter) == (2, {"limit": 50, "period": 1.5})


def test_properties_read_the_row_and_setters_write_it(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = DBOS.register_queue("tunable", global_concurrency=5)
    system_tables.execute("UPDATE queues SET worker_concurrency = 3 WHERE name = 'tunable'")
    assert queue.worker_concurrency == 3  # changed elsewhere: every read sees the row
    queue.set_global_concurrency(10)
    queue.set_partition_concurrency(2)
    queue.set_partition_limiter({"limit": 4, "period": 2})
    queue.set_polling_interval_sec(0.5)
    row = queue_row(system_tables, "tunable")
    assert row is not None
    assert (row["concurrency"], row["partition_concurrency"], row["partition_rate_limit_max"]) == (
        10,
        2,
        4,
    )
    assert (queue.global_concurrency, queue.concurrency, queue.polling_interval_sec) == (
        10,
        10,
        0.5,
    )
    assert (queue.partition_limiter, queue.partition_queue, queue.priority_enabled) == (
        {"limit": 4, "period": 2.0},
        False,
        False,
    )
    queue.set_worker_concurrency(None)
    assert queue.worker_concurrency is None


def test_setters_recheck_the_other_limits_and_a_refused_change_writes_nothing(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = DBOS.register_queue("checked", global_concurrency=4, worker_concurrency=2)
    before = queue_row(system_tables, "checked")
    with pytest.raises(ValueError, match="worker_concurrency"):
        queue.set_global_concurrency(1)
    with pytest.raises(ValueError, match="worker_concurrency"):
        queue.set_worker_concurrency(9)
    with pytest.raises(ValueError, match="positive"):
        queue.set_partition_worker_concurrency(0)
    with pytest.raises(ValueError, match="polling_interval_sec"):
        queue.set_polling_interval_sec(0)
    assert queue_row(system_tables, "checked") == before
    legacy = DBOS.register_queue("legacy", concurrency=1, partition_queue=True)
    for setter, value in (
        (legacy.set_global_concurrency, 2),
        (legacy.set_partition_concurrency, 1),
        (legacy.set_partition_worker_concurrency, 1),
        (legacy.set_partition_limiter, {"limit": 1, "period": 1}),
    ):
        with pytest.raises(DBOSException, match="legacy partition_queue"):
            setter(value)  # type: ignore[operator]
    legacy.set_concurrency(3)  # per partition in the legacy mode
    assert legacy.concurrency == 3
    with pytest.raises(ValueError, match="partition_queue"):
        queue.set_partition_queue(True)  # cannot combine with its global concurrency


def test_declared_queues_refuse_setters(dbos: type[DBOS]) -> None:
    declared = Queue("declared-only", worker_concurrency=2)
    assert declared.worker_concurrency == 2
    with pytest.raises(DBOSException, match="only supported for queues registered"):
        declared.set_worker_concurrency(3)


@pytest.mark.parametrize(
    ("on_conflict", "as_latest", "overwritten"),
    [
        ("always_update", False, True),
        ("never_update", True, False),
        ("update_if_latest_version", True, True),
        ("update_if_latest_version", False, False),
    ],
)
def test_registering_a_name_again_follows_on_conflict(
    dbos: type[DBOS],
    system_tables: SystemTables,
    on_conflict: str,
    as_latest: bool,
    overwritten: bool,
) -> None:
    DBOS.register_queue("again", worker_concurrency=1)
    if not as_latest:  # a newer version launched somewhere: this process is not the latest
        system_tables.execute(
            "INSERT INTO application_versions (version_id, version_name, version_timestamp, "
            "created_at, application_name) VALUES ('newer', 'v-newer', ?, 1, 'test-app')",
            (2**50,),
        )
    queue = DBOS.register_queue("again", worker_concurrency=5, on_conflict=on_conflict)  # type: ignore[arg-type]
    assert queue.worker_concurrency == (5 if overwritten else 1)


def test_another_applications_queue_cannot_be_registered_found_or_deleted(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    insert_queue_row(system_tables, "theirs", "other-app", worker_concurrency=7)
    insert_queue_row(system_tables, "unclaimed", None)
    for mode in ("always_update", "never_update", "update_if_latest_version"):
        with pytest.raises(DBOSException, match="already registered by application 'other-app'"):
            DBOS.register_queue("theirs", on_conflict=mode)  # type: ignore[arg-type]
    assert DBOS.retrieve_queue("theirs") is None
    assert [q.name for q in DBOS.list_queues()] == ["unclaimed"]
    assert [q.name for q in DBOS.list_queues(application_name="other-app")] == [
        "theirs",
        "unclaimed",
    ]
    DBOS.delete_queue("theirs")
    row = queue_row(system_tables, "theirs")
    assert row is not None and row["worker_concurrency"] == 7
    DBOS.register_queue("unclaimed", worker_concurrency=2, on_conflict="always_update")
    row = queue_row(system_tables, "unclaimed")
    assert row is not None and (row["application_name"], row["worker_concurrency"]) == (
        "test-app",
        2,
    )


def test_bad_registrations_are_refused_before_anything_is_written(
    dbos: type[DBOS], system_tables: SystemTables, clean_dbos: None
) -> None:
    with pytest.raises(DBOSException, match="on_conflict"):
        DBOS.register_queue("bad", on_conflict="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="worker_concurrency"):
        DBOS.register_queue("bad", global_concurrency=1, worker_concurrency=2)
    with pytest.raises(ValueError, match="name"):
        DBOS.register_queue("")
    assert system_tables.execute("SELECT * FROM queues") == []


def test_register_queue_needs_a_launched_dbos(clean_dbos: None, config: DBOSConfig) -> None:
    with pytest.raises(DBOSException, match="launch"):
        DBOS.register_queue("early")
    DBOS(config=config)
    with pytest.raises(DBOSException, match="launch"):
        DBOS.retrieve_queue("early")


def test_a_deleted_queue_strands_its_workflows_until_registered_again(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    gate = threading.Event()

    @DBOS.workflow()
    def waits() -> str:
        gate.wait(10)
        return "done"

    queue = DBOS.register_queue("comes-and-goes", worker_concurrency=1)
    first = queue.enqueue(waits)
    wait_until(lambda: first.get_status().status == "PENDING")
    DBOS.delete_queue("comes-and-goes")
    DBOS.delete_queue("comes-and-goes")  # deleting what is gone is harmless
    assert DBOS.retrieve_queue("comes-and-goes") is None
    with SetWorkflowID("stranded"):
        stranded = queue.enqueue(waits)
    gate.set()
    assert first.get_result() == "done"
    assert system_tables.workflow("stranded")["status"] == "ENQUEUED"  # type: ignore[index]
    with pytest.raises(DBOSException, match="not registered"):
        _ = queue.worker_concurrency
    DBOS.register_queue("comes-and-goes")
    assert stranded.get_result() == "done"


def test_a_queue_registered_elsewhere_is_served_without_a_restart(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def remote() -> str:
        return "served"

    with SetWorkflowID("remote"):
        handle = DBOS.enqueue_workflow("registered-elsewhere", remote)
    assert system_tables.workflow("remote")["status"] == "ENQUEUED"  # type: ignore[index]
    insert_queue_row(system_tables, "registered-elsewhere", "test-app", polling_interval_sec=0.05)
    assert handle.get_result() == "served"


def test_settings_changed_elsewhere_take_effect_without_a_restart(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    DBOS.register_queue("widening", worker_concurrency=1, polling_interval_sec=0.05)
    gauge, release = Gauge(), threading.Event()

    @DBOS.step()
    def hold() -> None:
        with gauge:
            release.wait(10)

    @DBOS.workflow()
    def held() -> None:
        hold()

    handles = [DBOS.enqueue_workflow("widening", held) for _ in range(3)]
    wait_until(lambda: gauge.now == 1)
    system_tables.execute("UPDATE queues SET worker_concurrency = 3 WHERE name = 'widening'")
    wait_until(lambda: gauge.now == 3)
    release.set()
    for handle in handles:
        handle.get_result()


def test_a_declared_queue_wins_over_a_registered_one_of_the_same_name(
    dbos: type[DBOS], dbos_logs: list[logging.LogRecord]
) -> None:
    declared = Queue("both", worker_concurrency=1)
    DBOS.register_queue("both", worker_concurrency=5)
    found = DBOS.retrieve_queue("both")
    assert found is not None and found.worker_concurrency == 1
    with pytest.raises(DBOSException, match="only supported for queues registered"):
        found.set_worker_concurrency(2)

    @DBOS.workflow()
    def one() -> int:
        return 1

    assert declared.enqueue(one).get_result() == 1
    assert any("also declared in this process" in r.getMessage() for r in dbos_logs)


def test_the_async_twins(dbos: type[DBOS], dbos_logs: list[logging.LogRecord]) -> None:
    @DBOS.workflow()
    async def plus_one(x: int) -> int:
        return x + 1

    async def main() -> None:
        queue = await DBOS.register_queue_async("async-queue", worker_concurrency=2)
        assert await (await queue.enqueue_async(plus_one, 1)).get_result() == 2
        await queue.set_worker_concurrency_async(4)
        assert await queue.get_worker_concurrency_async() == 4
        await queue.set_limiter_async({"limit": 3, "period": 1})
        assert await queue.get_limiter_async() == {"limit": 3, "period": 1.0}
        found = await DBOS.retrieve_queue_async("async-queue")
        assert found is not None and await found.get_global_concurrency_async() is None
        assert [q.name for q in await DBOS.list_queues_async()] == ["async-queue"]
        _ = queue.worker_concurrency  # works, but blocks the loop: a warning says so
        with pytest.raises(RuntimeError, match="set_worker_concurrency_async"):
            queue.set_worker_concurrency(1)
        await DBOS.delete_queue_async("async-queue")
        assert await DBOS.retrieve_queue_async("async-queue") is None

    asyncio.run(main())
    assert any("blocks the running event loop" in r.getMessage() for r in dbos_logs)
