"""DBOSClient and queues registered in the database: a client registers, DBOS serves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from client_support import ClientFactory

from dbos import DBOS, DBOSConfig, EnqueueOptions
from dbos.error import DBOSException


@pytest.fixture
def launched(config: DBOSConfig, clean_dbos: None) -> Iterator[None]:
    @DBOS.workflow(name="doubler")
    def doubler(n: int) -> int:
        return 2 * n

    DBOS(config=config)
    DBOS.launch()
    yield


def test_a_queue_registered_by_a_client_is_served_by_dbos(
    launched: None, make_client: ClientFactory
) -> None:
    client = make_client(application_name="test-app")
    queue = client.register_queue("from-client", worker_concurrency=2, polling_interval_sec=0.05)
    assert queue.worker_concurrency == 2
    assert [q.name for q in DBOS.list_queues()] == ["from-client"]
    options: EnqueueOptions = {"workflow_name": "doubler", "queue_name": "from-client"}
    assert client.enqueue(options, 21).get_result(polling_interval_sec=0.05) == 42
    with pytest.raises(DBOSException, match=r"Use DBOSClient\.enqueue instead"):
        queue.enqueue(lambda: None)


def test_client_registration_updates_by_default_and_refuses_latest_version_mode(
    launched: None, make_client: ClientFactory
) -> None:
    client = make_client()
    client.register_queue("settings", global_concurrency=5)
    client.register_queue("settings", global_concurrency=7)  # "always_update"
    client.register_queue("settings", global_concurrency=9, on_conflict="never_update")
    queue = client.retrieve_queue("settings")
    assert queue is not None and queue.global_concurrency == 7
    with pytest.raises(DBOSException, match="update_if_latest_version"):
        client.register_queue("settings", on_conflict="update_if_latest_version")
    with pytest.raises(DBOSException, match="on_conflict"):
        client.register_queue("settings", on_conflict="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="worker_concurrency"):
        client.register_queue("settings", global_concurrency=1, worker_concurrency=2)
    with pytest.raises(ValueError, match="name"):
        client.register_queue("")


def test_client_queues_are_reconfigured_in_the_database(
    launched: None, make_client: ClientFactory
) -> None:
    client = make_client()
    DBOS.register_queue("shared", worker_concurrency=1)
    queue = client.retrieve_queue("shared")
    assert queue is not None and queue.worker_concurrency == 1
    queue.set_worker_concurrency(3)
    queue.set_limiter({"limit": 10, "period": 1.0})
    seen = DBOS.retrieve_queue("shared")
    assert seen is not None and seen.worker_concurrency == 3
    assert seen.limiter == {"limit": 10, "period": 1.0}
    with pytest.raises(ValueError):
        queue.set_partition_worker_concurrency(0)
    assert client.retrieve_queue("no-such-queue") is None
    client.delete_queue("shared")
    assert DBOS.retrieve_queue("shared") is None
    client.delete_queue("shared")  # already gone: nothing to do


def test_client_queue_calls_are_scoped_to_its_application(
    launched: None, make_client: ClientFactory
) -> None:
    DBOS.register_queue("ours")
    other = make_client(application_name="other-app")
    other.register_queue("theirs")
    anyone = make_client()
    anyone.register_queue("unclaimed")
    assert [q.name for q in other.list_queues()] == ["theirs", "unclaimed"]
    assert [q.name for q in anyone.list_queues()] == ["ours", "theirs", "unclaimed"]
    assert [q.name for q in other.list_queues(application_name="test-app")] == [
        "ours",
        "unclaimed",
    ]
    assert other.retrieve_queue("ours") is None
    with pytest.raises(DBOSException, match="already registered by application 'test-app'"):
        other.register_queue("ours")
    # A client acting for no one application may reconfigure any queue; the owner stays.
    anyone.register_queue("ours", worker_concurrency=4)
    assert [q.name for q in DBOS.list_queues()] == ["ours", "unclaimed"]
    mine = make_client(application_name="other-app").register_queue(
        "for-test-app", application_name="test-app"
    )
    assert mine.name in [q.name for q in DBOS.list_queues()]


def test_async_client_queues(launched: None, make_client: ClientFactory) -> None:
    client = make_client()

    async def main() -> tuple[object, ...]:
        queue = await client.register_queue_async("async-queue", global_concurrency=2)
        await queue.set_global_concurrency_async(4)
        found = await client.retrieve_queue_async("async-queue")
        assert found is not None
        concurrency = await found.get_global_concurrency_async()
        names = [q.name for q in await client.list_queues_async()]
        await client.delete_queue_async("async-queue")
        gone = await client.retrieve_queue_async("async-queue")
        return concurrency, names, gone

    assert asyncio.run(main()) == (4, ["async-queue"], None)
