"""DBOSClient.rename_application: re-owning an application's rows under a new name (13.8).

A DBOS process named app-a writes queues, versions, finished and queued workflows; once it
is stopped, the client moves all of them to app-b and every table says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from client_support import ClientFactory
from ownership import TABLES, owners, read

from dbos import DBOS, DBOSConfig, EnqueueOptions, run_dbos_database_migrations
from dbos.error import DBOSException


@pytest.fixture
def app_a(config: DBOSConfig, clean_dbos: None) -> Iterator[DBOSConfig]:
    """app-a's rows, written by a launched DBOS that is then stopped: three finished
    workflows with two steps each, one enqueued on a queue nobody serves."""
    named: DBOSConfig = {**config, "name": "app-a", "application_version": "v1"}

    @DBOS.step()
    def double(n: int) -> int:
        return 2 * n

    @DBOS.workflow(name="adder")
    def adder(a: int, b: int) -> int:
        return double(a) + double(b)

    DBOS(config=named)
    DBOS.launch()
    for n in range(3):
        assert adder(n, 1) == 2 * n + 2
    DBOS.destroy()
    yield named


def _enqueue_idle(make_client: ClientFactory) -> None:
    """A workflow waiting on a queue nobody serves: in flight when the rename runs."""
    client = make_client(application_name="app-a")
    client.register_queue("idle-a")
    client.enqueue(EnqueueOptions(queue_name="idle-a", workflow_name="adder"), 1, 2)


def test_rename_moves_every_table_and_reports_counts(
    app_a: DBOSConfig, make_client: ClientFactory
) -> None:
    _enqueue_idle(make_client)
    before = owners(app_a)
    assert before["workflow_status"]["app-a"] == 4 and before["operation_outputs"]["app-a"] == 6
    client = make_client()
    counts = client.rename_application("app-a", "app-b", batch_size=2)
    after = owners(app_a)
    expected = {
        kind: before[table]["app-a"]
        for kind, table in zip(
            ("queues", "schedules", "versions", "workflows", "steps"), TABLES, strict=True
        )
    }
    assert counts == expected
    assert counts["queues"] >= 1 and counts["versions"] >= 1
    for table in TABLES:
        assert after[table]["app-a"] == 0, table
        assert after[table]["app-b"] == before[table]["app-a"], table
    assert len(client.list_workflows(application_name="app-b")) == 4
    assert client.list_workflows(application_name="app-a") == []
    # Everything moved: a second run has nothing left to do.
    with pytest.raises(DBOSException, match="Nothing to move"):
        client.rename_application("app-a", "app-b")


def test_unclaimed_rows_written_by_a_nameless_client_can_be_adopted(
    config: DBOSConfig, make_client: ClientFactory
) -> None:
    url = config["system_database_url"]
    assert url is not None
    run_dbos_database_migrations(url, schema=config.get("dbos_system_schema") or "dbos")
    client = make_client()
    client.register_queue("shared")
    client.enqueue(EnqueueOptions(queue_name="shared", workflow_name="anything"))
    assert owners(config)["queues"] == {None: 1}
    counts = client.rename_application(None, "owner-app", adopt_unclaimed_rows=True)
    assert counts == {"queues": 1, "schedules": 0, "versions": 0, "workflows": 1, "steps": 0}
    after = owners(config)
    assert after["queues"] == {"owner-app": 1} and after["workflow_status"] == {"owner-app": 1}


def test_adopting_with_a_source_moves_both(app_a: DBOSConfig, make_client: ClientFactory) -> None:
    make_client().register_queue("unclaimed-q")
    counts = asyncio.run(
        make_client().rename_application_async("app-a", "app-b", adopt_unclaimed_rows=True)
    )
    assert counts["queues"] == 1 and counts["workflows"] == 3 and counts["steps"] == 6
    assert owners(app_a)["queues"] == {"app-b": 1}


@pytest.mark.parametrize(
    ("old", "new", "kwargs", "message"),
    [
        ("app-a", "app-a", {}, "both 'app-a'"),
        ("app-a", "Bad Name!", {}, "Invalid new application name"),
        ("app-a", "x", {}, "Invalid new application name"),
        (None, "app-b", {}, "adopt_unclaimed_rows=True"),
        ("app-a", "app-b", {"batch_size": 0}, "batch_size"),
        ("nobody", "app-b", {}, "Nothing to move: application 'nobody'"),
    ],
)
def test_bad_renames_are_refused_and_change_nothing(
    app_a: DBOSConfig,
    make_client: ClientFactory,
    old: str | None,
    new: str,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    before = owners(app_a)
    with pytest.raises(DBOSException, match=message):
        make_client().rename_application(old, new, **kwargs)
    assert owners(app_a) == before


def test_a_name_the_new_owner_already_has_is_refused_and_changes_nothing(
    app_a: DBOSConfig, make_client: ClientFactory
) -> None:
    # app-b ran the same version name app-a has (names are unique per application).
    name = "v1"
    other: DBOSConfig = {**app_a, "name": "app-b"}
    DBOS(config=other)
    DBOS.launch()
    DBOS.destroy()
    assert name in {
        v["version_name"] for v in make_client(application_name="app-b").list_application_versions()
    }
    before = owners(app_a)
    with pytest.raises(DBOSException) as caught:
        make_client().rename_application("app-a", "app-b")
    assert f"application version {name!r} is already registered by" in str(caught.value)
    assert owners(app_a) == before


def test_an_interrupted_rename_is_finished_by_running_it_again(
    app_a: DBOSConfig, make_client: ClientFactory
) -> None:
    # As if a first run moved the registered rows and one batch, then died.
    first = read(app_a, "SELECT MIN(workflow_uuid) FROM workflow_status")[0][0]
    for table in ("application_versions", "workflow_status", "operation_outputs"):
        where = "" if table == "application_versions" else f" WHERE workflow_uuid = '{first}'"
        read(app_a, f"UPDATE {table} SET application_name = 'app-b'{where}")
    counts = make_client().rename_application("app-a", "app-b", batch_size=1)
    assert counts == {"queues": 0, "schedules": 0, "versions": 0, "workflows": 2, "steps": 4}
    assert {t: set(c) for t, c in owners(app_a).items()} == {
        "queues": set(), "workflow_schedules": set(), "application_versions": {"app-b"},
        "workflow_status": {"app-b"}, "operation_outputs": {"app-b"},
    }  # fmt: skip
