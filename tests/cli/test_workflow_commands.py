"""dbos workflow list/get/steps/cancel/resume/fork/delete and dbos workflow queue list.

A DBOS launched in the test process runs the workflows; the CLI, a real subprocess with
none of their code, lists and manages them through its DBOSClient.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cli_runner import CliRunner

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSAwaitedWorkflowCancelledError


@dataclass
class App:
    gate: threading.Event
    reached: threading.Event
    adder: Any
    gated: Any


@pytest.fixture
def app(config: DBOSConfig, clean_dbos: None) -> Iterator[App]:
    gate, reached = threading.Event(), threading.Event()

    @DBOS.step()
    def double(n: int) -> int:
        return 2 * n

    @DBOS.workflow(name="adder")
    def adder(a: int, b: int) -> int:
        if a < 0:
            raise ValueError("negative")
        return double(a) + double(b)

    @DBOS.workflow(name="gated")
    def gated() -> str:
        double(1)
        reached.set()
        gate.wait(30)
        return f"done {double(2)}"

    DBOS(config=config)
    DBOS.launch()
    yield App(gate, reached, adder, gated)
    gate.set()


@pytest.fixture
def cli(dbos_cli: CliRunner, system_database_url: str, pg_schema: str) -> CliRunner:
    """``dbos`` with the test's system database named on the command line."""

    def run(*args: str) -> Any:
        return dbos_cli(*args, "-s", system_database_url, "--schema", pg_schema)

    return run


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def error(result: Any) -> str:
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    return str(result.stderr)


def test_workflow_list_shows_a_table_or_json_and_takes_the_spec_filters(
    app: App, cli: CliRunner
) -> None:
    for n in range(3):
        with SetWorkflowID(f"add-{n}"):
            app.adder(n, 1)
    with SetWorkflowID("failed"), pytest.raises(ValueError):
        app.adder(-1, 0)
    table = ok(cli("workflow", "list"))
    assert table.splitlines()[0].split()[:3] == ["WORKFLOW", "ID", "STATUS"]
    assert [line.split()[0] for line in table.splitlines()[2:]] == [
        "add-0", "add-1", "add-2", "failed",
    ]  # fmt: skip

    def ids(*args: str) -> list[str]:
        return [w["workflow_id"] for w in json.loads(ok(cli("workflow", "list", "--json", *args)))]

    assert ids("-S", "ERROR") == ["failed"]
    assert ids("-S", "ERROR", "-S", "SUCCESS", "-d", "-l", "2") == ["failed", "add-2"]
    assert ids("-o", "3") == ["failed"]
    assert ids("-n", "gated") == []
    version = DBOS.get_latest_application_version()["version_name"]
    assert ids("-v", version, "-a", "test-app", "-t", "2000-01-01T00:00:00Z") == [
        "add-0", "add-1", "add-2", "failed",
    ]  # fmt: skip
    assert ids("-e", "2000-01-01T00:00:00Z") == [] and ids("-u", "nobody") == []
    first = json.loads(ok(cli("workflow", "list", "--json", "-l", "1")))[0]
    assert (first["input"], first["output"]) == ({"args": [0, 1], "kwargs": {}}, 2)
    assert "bad-status" in error(cli("workflow", "list", "-S", "bad-status"))
    assert "ISO-8601" in error(cli("workflow", "list", "-t", "yesterday"))


def test_workflow_get_and_steps(app: App, cli: CliRunner) -> None:
    with SetWorkflowID("sum"):
        app.adder(2, 3)
    details = ok(cli("workflow", "get", "sum"))
    assert "Status:" in details and "SUCCESS" in details and "Output:" in details
    record = json.loads(ok(cli("workflow", "get", "sum", "--json")))
    assert (record["status"], record["output"], record["name"]) == ("SUCCESS", 10, "adder")
    with SetWorkflowID("failing"), pytest.raises(ValueError):
        app.adder(-5, 0)
    failure = json.loads(ok(cli("workflow", "get", "failing", "--json")))
    assert failure["error"] == {"type": "ValueError", "message": "negative"}
    steps = json.loads(ok(cli("workflow", "steps", "sum", "--json")))
    assert [(s["function_id"], s["output"]) for s in steps] == [(1, 4), (2, 6)]
    assert ok(cli("workflow", "steps", "sum")).splitlines()[0].split()[:2] == ["STEP", "NAME"]


def test_cancel_and_resume_a_workflow_running_in_another_process(app: App, cli: CliRunner) -> None:
    with SetWorkflowID("long"):
        handle = DBOS.start_workflow(app.gated)
    assert app.reached.wait(30)
    assert "Cancelled workflow long" in ok(cli("workflow", "cancel", "long"))
    app.gate.set()
    with pytest.raises(DBOSAwaitedWorkflowCancelledError):
        handle.get_result()
    assert "Resumed workflow long" in ok(cli("workflow", "resume", "long"))
    assert DBOS.retrieve_workflow("long").get_result() == "done 4"
    assert "already finished (SUCCESS)" in ok(cli("workflow", "cancel", "long"))


def test_fork_from_a_step_under_a_given_id_and_version(app: App, cli: CliRunner) -> None:
    with SetWorkflowID("original"):
        app.adder(1, 1)
    version = DBOS.get_latest_application_version()["version_name"]
    out = ok(cli("workflow", "fork", "original", "-S", "2", "-f", "copy", "-v", version))
    assert "as copy" in out
    fork = DBOS.retrieve_workflow("copy")
    assert fork.get_result() == 4
    assert fork.get_status().forked_from == "original"
    assert "highest valid start_step is 3" in error(cli("workflow", "fork", "original", "-S", "9"))
    generated = ok(cli("workflow", "fork", "original")).split()[-1].rstrip(".")
    assert DBOS.retrieve_workflow(generated).get_result() == 4


def test_delete_and_queue_listing(app: App, cli: CliRunner) -> None:
    with SetWorkflowID("doomed"):
        app.adder(0, 0)
    assert "Deleted workflow doomed" in ok(cli("workflow", "delete", "doomed"))
    assert DBOS.get_workflow_status("doomed") is None
    with SetWorkflowID("parked"):
        DBOS.enqueue_workflow("nobody-serves", app.adder, 1, 2)
    nested = json.loads(ok(cli("workflow", "queue", "list", "--json", "-q", "nobody-serves")))
    assert [(w["workflow_id"], w["status"]) for w in nested] == [("parked", "ENQUEUED")]
    alias = ok(cli("queue", "list", "-n", "adder"))
    assert [line.split()[0] for line in alias.splitlines()[2:]] == ["parked"]
    assert ok(cli("queue", "list", "-q", "elsewhere")).strip() == "No workflows found."


@pytest.mark.parametrize("command", ["get", "steps", "cancel", "resume", "fork", "delete"])
def test_an_unknown_workflow_is_a_clear_error(app: App, cli: CliRunner, command: str) -> None:
    assert "workflow nope does not exist" in error(cli("workflow", command, "nope"))


def test_a_bad_url_or_a_missing_database_is_a_clear_error(
    dbos_cli: CliRunner, system_database_url: str, tmp_path: object
) -> None:
    assert "Missing database URL" in error(dbos_cli("workflow", "list"))
    assert "neither" in error(dbos_cli("workflow", "list", "-s", "mysql://host/db"))
    if system_database_url.startswith("sqlite"):
        absent = f"sqlite:///{tmp_path}/absent.sqlite"
        assert "does not exist" in error(dbos_cli("workflow", "list", "-s", absent))
    else:  # a server that is there, with no DBOS schema in it
        result = dbos_cli("workflow", "list", "-s", system_database_url, "--schema", "absent")
        assert "dbos migrate" in error(result)
        unreachable = "postgresql://postgres@localhost:1/none"
        assert "cannot connect" in error(dbos_cli("queue", "list", "-s", unreachable))
