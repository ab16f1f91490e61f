"""DBOSClient management: list, steps, cancel, resume, delete, fork, attributes, delay, versions.

A DBOS process runs the workflows; the client, which has none of their code, acts on them
through the same management service.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from client_support import ClientFactory

from dbos import DBOS, DBOSConfig, EnqueueOptions, Queue, SetEnqueueOptions, SetWorkflowID
from dbos.error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSException,
    DBOSNonExistentWorkflowError,
)


@dataclass
class App:
    """The launched application's workflows and the gate its blocking workflow waits on."""

    reached: threading.Event
    release: threading.Event
    calls: list[str]
    gated: Any
    adder: Any
    queue: Queue


@pytest.fixture
def app(config: DBOSConfig, clean_dbos: None) -> Iterator[App]:
    reached, release, calls = threading.Event(), threading.Event(), []

    @DBOS.step()
    def record(what: str) -> str:
        calls.append(what)
        return what

    @DBOS.workflow()
    def gated() -> str:
        record("before")
        reached.set()
        release.wait(10)
        return record("after")

    @DBOS.workflow()
    def adder(a: int, b: int) -> int:
        return int(record(str(a))) + int(record(str(b)))

    queue = Queue("client-managed", polling_interval_sec=0.05)
    DBOS(config=config)
    DBOS.launch()
    yield App(reached, release, calls, gated, adder, queue)
    release.set()


def test_client_lists_what_dbos_lists_with_the_same_filters(
    app: App, make_client: ClientFactory
) -> None:
    for n in range(3):
        with SetWorkflowID(f"add-{n}"):
            app.adder(n, 1)
    client = make_client()
    listed = client.list_workflows(workflow_id_prefix="add-", sort_desc=True, limit=2)
    assert [w.workflow_id for w in listed] == ["add-2", "add-1"]
    assert listed[0].output == 3 and listed[0].input == {"args": (2, 1), "kwargs": {}}
    assert [w.workflow_id for w in client.list_workflows(status="SUCCESS")] == [
        w.workflow_id for w in DBOS.list_workflows(status="SUCCESS")
    ]
    assert client.list_workflows(status="ERROR") == []
    with pytest.raises(DBOSException, match="status"):
        client.list_workflows(status="FINISHED")
    with pytest.raises(DBOSException, match="ISO-8601"):
        client.list_workflows(start_time="yesterday")
    with pytest.raises(TypeError):
        client.list_workflows(no_such_filter=1)  # type: ignore[call-arg]


def test_client_lists_steps_and_queued_workflows(app: App, make_client: ClientFactory) -> None:
    with SetWorkflowID("steps"):
        app.adder(20, 22)
    client = make_client()
    steps = client.list_workflow_steps("steps")
    assert [(s["function_id"], s["output"]) for s in steps] == [(1, "20"), (2, "22")]
    assert client.list_workflow_steps("steps", load_output=False, offset=1)[0]["output"] is None
    assert client.list_workflow_steps("no-such-workflow") == []
    options: EnqueueOptions = {"workflow_name": "parked", "queue_name": "nobody-serves-this"}
    parked = client.enqueue(options)
    queued = client.list_queued_workflows(queue_name="nobody-serves-this")
    assert [w.workflow_id for w in queued] == [parked.workflow_id]
    assert queued[0].status == "ENQUEUED"


def test_client_cancels_resumes_and_deletes_a_workflow_running_elsewhere(
    app: App, make_client: ClientFactory
) -> None:
    client = make_client()
    with SetWorkflowID("gated"):
        handle = DBOS.start_workflow(app.gated)
    assert app.reached.wait(10)
    client.cancel_workflow("gated")
    assert client.retrieve_workflow("gated").get_status().status == "CANCELLED"
    app.release.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    resumed = client.resume_workflow("gated")
    assert resumed.get_result(polling_interval_sec=0.05) == "after"
    assert app.calls.count("before") == 1  # the recorded step was not run again
    client.delete_workflow("gated")
    assert DBOS.get_workflow_status("gated") is None
    assert client.list_workflow_steps("gated") == []


def test_client_management_of_unknown_workflows(app: App, make_client: ClientFactory) -> None:
    client = make_client()
    client.cancel_workflow("nobody")  # ignored, as DBOS does
    client.delete_workflows(["nobody", "nor-this-one"])
    with pytest.raises(DBOSNonExistentWorkflowError, match="nobody"):
        client.resume_workflow("nobody")
    with pytest.raises(DBOSNonExistentWorkflowError):
        client.fork_workflow("nobody", 1)
    with pytest.raises(DBOSNonExistentWorkflowError):
        client.update_workflow_attributes("nobody", {"a": 1})
    with pytest.raises(TypeError):
        client.cancel_workflow("")
    with pytest.raises(TypeError):
        client.resume_workflows("one-id-not-a-list")  # type: ignore[arg-type]


def test_client_forks_from_a_step_under_an_enclosing_workflow_id(
    app: App, make_client: ClientFactory
) -> None:
    with SetWorkflowID("source"):
        app.adder(1, 2)
    client = make_client()
    with SetWorkflowID("source-fork"):
        fork = client.fork_workflow("source", 2, timeout_seconds=60)
    assert fork.workflow_id == "source-fork"
    assert fork.get_result(polling_interval_sec=0.05) == 3
    assert app.calls == ["1", "2", "2"]  # step 1 replayed, step 2 ran again
    status = fork.get_status()
    assert status.forked_from == "source" and status.workflow_timeout_ms == 60_000
    assert status.application_name == "test-app"  # a fork keeps its source's owner
    with pytest.raises(DBOSException, match="highest valid start_step is 3"):
        client.fork_workflow("source", 4)
    with pytest.raises(DBOSException, match="start_step"):
        client.fork_workflow("source", 0)


def test_client_updates_attributes_and_delays(app: App, make_client: ClientFactory) -> None:
    client = make_client()
    with SetWorkflowID("tagged"):
        app.adder(1, 1)
    client.update_workflow_attributes("tagged", {"team": "a", "n": 1})
    client.update_workflow_attributes("tagged", {"n": 2}, merge=True)
    assert client.retrieve_workflow("tagged").get_status().attributes == {"team": "a", "n": 2}
    with pytest.raises(DBOSException, match="JSON"):
        client.update_workflow_attributes("tagged", {"bad": object()})
    with SetWorkflowID("later"), SetEnqueueOptions(delay_seconds=3600):
        handle = app.queue.enqueue(app.adder, 2, 3)
    assert handle.get_status().status == "DELAYED"
    client.set_workflow_delay("later", delay_seconds=0)
    assert handle.get_result() == 5
    for bad in ({}, {"delay_seconds": 1, "delay_until_epoch_ms": 1}, {"delay_seconds": -1}):
        with pytest.raises(DBOSException):
            client.set_workflow_delay("later", **bad)  # type: ignore[arg-type]


def test_client_reads_and_promotes_application_versions(
    app: App, make_client: ClientFactory
) -> None:
    client = make_client()
    latest = client.get_latest_application_version()
    assert latest == DBOS.get_latest_application_version()
    assert client.list_application_versions() == [latest]
    client.set_latest_application_version(latest["version_name"])
    assert (
        client.get_latest_application_version()["version_timestamp"]
        >= (latest["version_timestamp"])
    )
    with pytest.raises(DBOSException, match="Unknown application version"):
        client.set_latest_application_version("no-such-version")


def test_client_lists_are_scoped_to_its_application(app: App, make_client: ClientFactory) -> None:
    with SetWorkflowID("ours"):
        app.adder(0, 0)
    parked: EnqueueOptions = {"workflow_name": "parked", "queue_name": "nobody-serves-this"}
    other = make_client(application_name="other-app")
    other.enqueue({**parked, "workflow_id": "theirs"})
    anyone = make_client()
    anyone.enqueue({**parked, "workflow_id": "unclaimed"})

    def ids(workflows: list[Any]) -> list[str]:
        return sorted(w.workflow_id for w in workflows)

    assert ids(other.list_workflows()) == ["theirs", "unclaimed"]
    assert ids(DBOS.list_workflows()) == ["ours", "unclaimed"]
    assert ids(anyone.list_workflows()) == ["ours", "theirs", "unclaimed"]
    assert ids(other.list_workflows(application_name="test-app")) == ["ours"]
    assert ids(other.list_workflows(workflow_ids=["ours"])) == ["ours"]  # IDs are global
    assert other.list_workflows(workflow_ids=["theirs"])[0].application_name == "other-app"
    assert anyone.list_workflows(workflow_ids=["unclaimed"])[0].application_name is None


def test_client_calls_from_a_workflow_are_never_checkpointed(
    app: App, make_client: ClientFactory
) -> None:
    client = make_client()
    with SetWorkflowID("target"):
        app.adder(1, 1)

    @DBOS.workflow()
    def manages() -> int:
        client.update_workflow_attributes("target", {"seen": True})
        handle = client.retrieve_workflow("target")
        assert handle.get_status().status == "SUCCESS"
        return len(client.list_workflows(workflow_ids=["target"])) + handle.get_result()

    with SetWorkflowID("manager"):
        assert manages() == 3
    assert DBOS.list_workflow_steps("manager") == []


def test_async_client_management(app: App, make_client: ClientFactory) -> None:
    client = make_client()
    with SetWorkflowID("async-source"):
        app.adder(4, 5)

    async def main() -> tuple[Any, ...]:
        listed = await client.list_workflows_async(workflow_ids=["async-source"])
        steps = await client.list_workflow_steps_async("async-source")
        with SetWorkflowID("async-fork"):
            fork = await client.fork_workflow_async("async-source", 1)
        forked = await fork.get_result(polling_interval_sec=0.05)
        await client.update_workflow_attributes_async("async-fork", {"k": 1})
        await client.cancel_workflows_async(["async-fork"])
        resumed = await client.resume_workflow_async("async-fork")
        await client.delete_workflow_async("async-source")
        versions = await client.list_application_versions_async()
        queued = await client.list_queued_workflows_async()
        return len(listed), len(steps), forked, await resumed.get_result(), len(versions), queued

    assert asyncio.run(main()) == (1, 2, 9, 9, 1, [])
    assert client.list_workflows(workflow_ids=["async-source"]) == []
    with pytest.raises(DBOSNonExistentWorkflowError):
        asyncio.run(client.resume_workflow_async("async-source"))
