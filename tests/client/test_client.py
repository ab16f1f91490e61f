"""DBOSClient: enqueue, message and inspect workflows from outside their process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, Queue, SetWorkflowID
from dbos.error import DBOSException, DBOSNonExistentWorkflowError

HERE = Path(__file__).parent


def _register() -> None:
    Queue("client-queue")

    @DBOS.workflow(name="greeter")
    def greeter(name: str) -> str:
        message = DBOS.recv("greeting", timeout_seconds=30)
        DBOS.set_event("greeted", name)
        for letter in name[:3]:
            DBOS.write_stream("letters", letter)
        DBOS.close_stream("letters")
        return f"{message}, {name}"


@pytest.fixture
def launched(config: DBOSConfig, clean_dbos: None) -> Iterator[None]:
    _register()
    DBOS(config=config)
    DBOS.launch()
    yield


def _client(config: DBOSConfig, **kwargs: object) -> DBOSClient:
    return DBOSClient(
        system_database_url=config["system_database_url"],
        dbos_system_schema=config.get("dbos_system_schema", "dbos"),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_client_in_another_process_drives_a_workflow(
    launched: None, system_database_url: str, pg_schema: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, str(HERE / "client_process.py"), system_database_url, pg_schema],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "result": "hello from the client, client",
        "event": "client",
        "stream": ["c", "l", "i"],
        "status": "SUCCESS",
    }


def test_client_enqueue_is_idempotent_on_the_workflow_id(
    launched: None, config: DBOSConfig
) -> None:
    client = _client(config)
    try:
        options: EnqueueOptions = {
            "workflow_name": "greeter",
            "queue_name": "client-queue",
            "workflow_id": "twice",
        }
        first = client.enqueue(options, "a")
        second = client.enqueue(options, "a")
        assert first.workflow_id == second.workflow_id == "twice"
        client.send("twice", "hi", "greeting", "only-once")
        client.send("twice", "hi", "greeting", "only-once")  # the key is positional here
        assert second.get_result() == "hi, a"
    finally:
        client.destroy()


def test_client_reads_are_never_checkpointed_into_a_calling_workflow(
    launched: None, config: DBOSConfig
) -> None:
    client = _client(config)

    @DBOS.workflow()
    def uses_a_client() -> object:
        return client.get_event("nobody", "key", timeout_seconds=0)

    try:
        with SetWorkflowID("caller"):
            assert uses_a_client() is None
        assert DBOS.list_workflow_steps("caller") == []
    finally:
        client.destroy()


def test_retrieving_a_missing_workflow_raises(launched: None, config: DBOSConfig) -> None:
    client = _client(config)
    try:
        with pytest.raises(DBOSNonExistentWorkflowError):
            client.retrieve_workflow("missing")
        with pytest.raises(TypeError):
            client.retrieve_workflow("")
    finally:
        client.destroy()


def test_async_client(launched: None, config: DBOSConfig) -> None:
    client = _client(config)

    async def main() -> tuple[object, object, list[object]]:
        options: EnqueueOptions = {"workflow_name": "greeter", "queue_name": "client-queue"}
        handle = await client.enqueue_async(options, "async")
        await client.send_async(handle.workflow_id, "hey", "greeting")
        result = await handle.get_result()
        event = await client.get_event_async(handle.workflow_id, "greeted")
        letters = [v async for v in client.read_stream_async(handle.workflow_id, "letters")]
        return result, event, letters

    try:
        assert asyncio.run(main()) == ("hey, async", "async", ["a", "s", "y"])
    finally:
        client.destroy()


def test_a_client_never_creates_or_migrates_a_database(tmp_path: Path) -> None:
    with pytest.raises(DBOSException):
        DBOSClient(system_database_url=f"sqlite:///{tmp_path / 'absent.sqlite'}")
    assert not (tmp_path / "absent.sqlite").exists()


def test_bad_client_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DBOSException, match="needs a system_database_url"):
        DBOSClient()
    with pytest.raises(DBOSException, match="lazy"):
        DBOSClient(system_database_url="sqlite:///x.sqlite", lazy=True, use_listen_notify=True)
    with pytest.raises(DBOSException):
        DBOSClient(system_database_url="mysql://elsewhere/db")
    lazy = DBOSClient(system_database_url=f"sqlite:///{tmp_path / 'later.sqlite'}", lazy=True)
    with pytest.raises(DBOSException):
        lazy.check_connection()  # connecting happens on first use
