"""dbos rename-application: the CLI moves an application's rows to a new name.

A DBOS named app-a runs in the test process and is stopped; the CLI, a real subprocess,
renames it through its DBOSClient, and a client checks who owns what afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cli_runner import CliRunner

from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions


@pytest.fixture
def app_a(config: DBOSConfig, clean_dbos: None) -> Iterator[DBOSClient]:
    """Two finished workflows of app-a, one queued on a queue nobody serves; a client."""

    @DBOS.step()
    def double(n: int) -> int:
        return 2 * n

    @DBOS.workflow(name="adder")
    def adder(a: int, b: int) -> int:
        return double(a) + double(b)

    DBOS(config={**config, "name": "app-a"})
    DBOS.launch()
    adder(1, 2)
    adder(3, 4)
    DBOS.destroy()
    client = DBOSClient(
        system_database_url=config["system_database_url"],
        dbos_system_schema=config.get("dbos_system_schema", "dbos"),
        application_name="app-a",
    )
    client.register_queue("idle-a")
    client.enqueue(EnqueueOptions(queue_name="idle-a", workflow_name="adder"), 5, 6)
    yield client
    client.destroy()


@pytest.fixture
def cli(dbos_cli: CliRunner, system_database_url: str, pg_schema: str) -> CliRunner:
    def run(*args: str, stdin: str = "") -> Any:
        command = ("rename-application", *args, "-s", system_database_url, "--schema", pg_schema)
        return dbos_cli(*command, stdin=stdin)

    return run


def test_rename_application_moves_the_rows_and_prints_counts(
    app_a: DBOSClient, cli: CliRunner
) -> None:
    result = cli("-y", "--from", "app-a", "--to", "app-b", "--batch-size", "1", "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts == {"queues": 1, "schedules": 0, "versions": 1, "workflows": 3, "steps": 4}
    assert [q.name for q in app_a.list_queues(application_name="app-b")] == ["idle-a"]
    assert len(app_a.list_workflows(application_name="app-b")) == 3
    assert app_a.list_workflows(application_name="app-a") == []


def test_rename_application_asks_first_and_prints_a_table(
    app_a: DBOSClient, cli: CliRunner
) -> None:
    declined = cli("-f", "app-a", "-t", "app-b", stdin="n\n")
    assert declined.returncode == 0 and "Nothing was moved." in declined.stdout
    assert len(app_a.list_workflows(application_name="app-a")) == 3
    accepted = cli("-f", "app-a", "-t", "app-b", stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    rows = dict(line.split() for line in accepted.stdout.splitlines()[-5:])
    assert rows == {"queues": "1", "schedules": "0", "versions": "1", "workflows": "3",
                    "steps": "4"}  # fmt: skip


def test_rename_application_adopts_unclaimed_rows(
    config: DBOSConfig, app_a: DBOSClient, cli: CliRunner
) -> None:
    nameless = DBOSClient(
        system_database_url=config["system_database_url"],
        dbos_system_schema=config.get("dbos_system_schema", "dbos"),
    )
    try:
        nameless.register_queue("shared")
        nameless.enqueue(EnqueueOptions(queue_name="shared", workflow_name="adder"), 1, 1)
    finally:
        nameless.destroy()
    result = cli("-y", "--adopt-unclaimed-rows", "-t", "app-c", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "queues": 1, "schedules": 0, "versions": 0, "workflows": 1, "steps": 0}  # fmt: skip
    assert [q.name for q in app_a.list_queues(application_name="app-c")] == ["shared"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-t", "app-b"), "--from"),
        (("-f", "app-a", "-t", "app-a"), "both 'app-a'"),
        (("-f", "app-a", "-t", "Not Valid"), "Invalid new application name"),
        (("-f", "nobody", "-t", "app-b"), "Nothing to move"),
    ],
)
def test_rename_application_refuses_bad_input_and_changes_nothing(
    app_a: DBOSClient, cli: CliRunner, args: tuple[str, ...], message: str
) -> None:
    result = cli("-y", *args)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(app_a.list_workflows(application_name="app-a")) == 3
