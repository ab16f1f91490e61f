"""DBOS lifecycle and configuration: the singleton, launch, destroy, versions, reset."""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException, DBOSInitializationError


def database_exists(system_tables: SystemTables) -> bool:
    """Whether launch has created this test's system database (SQLite file or PG schema)."""
    if system_tables.is_sqlite:
        return Path(system_tables.url[len("sqlite:///") :]).exists()
    rows = system_tables.execute(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?",
        (system_tables.schema,),
    )
    return bool(rows)


@pytest.fixture
def no_version_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBOS__APPVERSION", raising=False)
    monkeypatch.delenv("DBOS__VMID", raising=False)
    monkeypatch.delenv("DBOS__CLOUD", raising=False)


# ---------------------------------------------------------------- the singleton


def test_dbos_without_a_config_raises_type_error(clean_dbos: None, config: DBOSConfig) -> None:
    with pytest.raises(TypeError, match="config"):
        DBOS()  # type: ignore[call-arg]


def test_a_second_construction_keeps_the_first_instance_and_config(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    first = DBOS(config=config)
    # Not even validated: the existing instance is returned as it is.
    second = DBOS(config={"name": "NOT A VALID NAME", "system_database_url": "mysql://x/y"})
    assert second is first
    DBOS.launch()

    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    with SetWorkflowID("kept-config"):
        wf()
    assert system_tables.workflow("kept-config") is not None


def test_constructing_opens_no_database_and_launch_creates_it(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    DBOS(config=config)
    assert not database_exists(system_tables)
    DBOS.launch()
    assert database_exists(system_tables)


def test_launching_twice_is_harmless(clean_dbos: None, config: DBOSConfig) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    version = DBOS.application_version
    DBOS.launch()
    assert wf() == "ok"
    assert DBOS.application_version == version
    runners = [t for t in threading.enumerate() if t.name == "dbos-queue-runner"]
    assert len(runners) == 1


def test_launch_without_an_instance_does_nothing(clean_dbos: None, config: DBOSConfig) -> None:
    DBOS.launch()
    assert DBOS.application_version == os.environ.get("DBOS__APPVERSION", "")


def test_destroy_lets_a_new_instance_with_a_new_config_be_built(
    clean_dbos: None, config: DBOSConfig, no_version_env: None
) -> None:
    first = DBOS(config={**config, "application_version": "first"})
    DBOS.launch()
    DBOS.destroy()
    second = DBOS(config={**config, "application_version": "second"})
    assert second is not first
    DBOS.launch()
    assert DBOS.application_version == "second"


# ---------------------------------------------------------------- invalid configuration


@pytest.mark.parametrize(
    "name", ["ab", "x" * 31, "Upper-Case", "has space", "dots.not.ok", "", "emoji-\u2603"]
)
def test_invalid_application_names_are_refused(
    clean_dbos: None, config: DBOSConfig, name: str
) -> None:
    with pytest.raises(DBOSInitializationError):
        DBOS(config={**config, "name": name})


@pytest.mark.parametrize("name", ["abc", "x" * 30, "my-app_2", "123"])
def test_valid_application_names_are_accepted(
    clean_dbos: None, config: DBOSConfig, name: str
) -> None:
    DBOS(config={**config, "name": name})
    DBOS.launch()


def test_a_failed_construction_leaves_no_instance_behind(
    clean_dbos: None, config: DBOSConfig, no_version_env: None
) -> None:
    with pytest.raises(DBOSInitializationError):
        DBOS(config={**config, "name": "!"})
    DBOS(config={**config, "application_version": "after-failure"})
    DBOS.launch()
    assert DBOS.application_version == "after-failure"


@pytest.mark.parametrize(
    "key",
    [
        "notification_listener_polling_interval_sec",
        "notification_coalesce_sec",
        "kafka_queue_polling_interval_sec",
    ],
)
@pytest.mark.parametrize("value", [0, 0.0009, -1.0, float("nan"), float("inf"), "1"])
def test_invalid_intervals_are_refused(
    clean_dbos: None, config: DBOSConfig, key: str, value: Any
) -> None:
    with pytest.raises(DBOSInitializationError):
        DBOS(config={**config, key: value})  # type: ignore[misc]


def test_unknown_configuration_keys_are_logged_not_refused(
    clean_dbos: None, config: DBOSConfig
) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logging.getLogger("dbos").addHandler(handler)
    try:
        DBOS(config={**config, "sytem_database_url": "sqlite:///typo.sqlite"})  # type: ignore[typeddict-unknown-key]
    finally:
        logging.getLogger("dbos").removeHandler(handler)
    assert any("sytem_database_url" in r.getMessage() for r in records)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@localhost:5432",
        "postgresql://postgres@localhost:5432/",
        "mysql://user@localhost/db",
        "sqlite:///:memory:",
        "",
    ],
)
def test_invalid_system_database_urls_are_refused(
    clean_dbos: None, config: DBOSConfig, url: str
) -> None:
    with pytest.raises(DBOSInitializationError):
        DBOS(config={**config, "system_database_url": url})


def test_run_migrations_false_refuses_a_fresh_database(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    DBOS(config={**config, "run_migrations": False})
    with pytest.raises(DBOSInitializationError):
        DBOS.launch()


def test_run_migrations_false_accepts_a_migrated_database(
    clean_dbos: None, config: DBOSConfig
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    relaunch({**config, "run_migrations": False})
    assert wf() == "ok"


# ---------------------------------------------------------------- version and executor


def test_application_version_and_executor_id_come_from_the_config(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables, no_version_env: None
) -> None:
    @DBOS.workflow()
    def wf() -> tuple[str, str]:
        return DBOS.application_version, DBOS.executor_id

    launch({**config, "application_version": "release-7", "executor_id": "worker-3"})
    assert DBOS.application_version == "release-7"
    assert DBOS.executor_id == "worker-3"
    with SetWorkflowID("stamped"):
        assert wf() == ("release-7", "worker-3")
    row = system_tables.workflow("stamped")
    assert row is not None
    assert (row["application_version"], row["executor_id"]) == ("release-7", "worker-3")


def test_application_version_and_executor_id_come_from_the_environment(
    clean_dbos: None,
    config: DBOSConfig,
    system_tables: SystemTables,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBOS__APPVERSION", "env-version")
    monkeypatch.setenv("DBOS__VMID", "env-vm")

    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    assert DBOS.application_version == "env-version"
    assert DBOS.executor_id == "env-vm"
    with SetWorkflowID("env-stamped"):
        wf()
    row = system_tables.workflow("env-stamped")
    assert row is not None
    assert (row["application_version"], row["executor_id"]) == ("env-version", "env-vm")

    DBOS.destroy()
    assert DBOS.application_version == "env-version"
    assert DBOS.executor_id == "env-vm"


def test_the_config_wins_over_the_environment(
    clean_dbos: None, config: DBOSConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBOS__APPVERSION", "env-version")
    monkeypatch.setenv("DBOS__VMID", "env-vm")
    launch({**config, "application_version": "cfg-version", "executor_id": "cfg-exec"})
    assert DBOS.application_version == "cfg-version"
    assert DBOS.executor_id == "cfg-exec"


def test_the_computed_version_is_an_md5_digest_stable_across_relaunch(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables, no_version_env: None
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return DBOS.application_version

    DBOS(config=config)
    assert DBOS.application_version == ""  # computed only at launch
    DBOS.launch()
    version = DBOS.application_version
    assert re.fullmatch(r"[0-9a-f]{32}", version)
    with SetWorkflowID("computed"):
        assert wf() == version
    assert system_tables.workflow("computed")["application_version"] == version  # type: ignore[index]

    relaunch(config)
    assert DBOS.application_version == version


def test_the_computed_version_changes_when_the_workflows_change(
    clean_dbos: None, config: DBOSConfig, no_version_env: None
) -> None:
    @DBOS.workflow()
    def first() -> None:
        return None

    launch(config)
    before = DBOS.application_version

    @DBOS.workflow()
    def second() -> None:
        return None

    relaunch(config)
    assert DBOS.application_version != before
    assert re.fullmatch(r"[0-9a-f]{32}", DBOS.application_version)


def test_version_and_executor_are_reset_by_destroy(
    clean_dbos: None, config: DBOSConfig, no_version_env: None
) -> None:
    launch({**config, "executor_id": "worker-9"})
    assert DBOS.application_version != ""
    DBOS.destroy()
    assert DBOS.application_version == ""
    assert DBOS.executor_id == "local"


# ---------------------------------------------------------------- reset_system_database


@pytest.fixture
def own_database_config(config: DBOSConfig, backend: str) -> Iterator[DBOSConfig]:
    """A config whose Postgres system database belongs to this test alone (it gets dropped)."""
    if backend == "sqlite":
        yield config
        return
    base = str(config["system_database_url"]).rsplit("/", 1)[0]
    database = "dbos_reset_" + uuid.uuid4().hex[:12]
    yield {**config, "system_database_url": f"{base}/{database}"}
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_reset_system_database_deletes_every_workflow(
    own_database_config: DBOSConfig, clean_dbos: None
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(own_database_config)
    with SetWorkflowID("before-reset"):
        wf()
    DBOS.destroy()
    DBOS(config=own_database_config)
    DBOS.reset_system_database()
    DBOS.launch()
    assert DBOS.get_workflow_status("before-reset") is None
    with SetWorkflowID("before-reset"):
        assert wf() == "ok"


def test_reset_with_truncate_empties_the_tables_but_keeps_the_schema(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    with SetWorkflowID("truncated"):
        wf()
    DBOS.destroy()
    DBOS(config={**config, "run_migrations": False})
    DBOS.reset_system_database(truncate=True)
    assert system_tables.workflows() == []
    assert system_tables.all_steps() == []
    DBOS.launch()  # the schema is still there, so verify-only launch works
    assert DBOS.get_workflow_status("truncated") is None


def test_reset_system_database_after_launch_is_refused(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    with SetWorkflowID("survives"):
        wf()
    with pytest.raises(AssertionError):
        DBOS.reset_system_database()
    assert system_tables.workflow("survives") is not None


def test_reset_system_database_works_without_an_instance_given_a_url(
    own_database_config: DBOSConfig, clean_dbos: None
) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(own_database_config)
    with SetWorkflowID("standalone-reset"):
        wf()
    DBOS.destroy()
    DBOS.reset_system_database(
        system_database_url=own_database_config["system_database_url"],
        schema=own_database_config.get("dbos_system_schema"),
    )
    launch(own_database_config)
    assert DBOS.get_workflow_status("standalone-reset") is None


def test_workflows_cannot_be_called_after_destroy(clean_dbos: None, config: DBOSConfig) -> None:
    @DBOS.workflow()
    def wf() -> str:
        return "ok"

    launch(config)
    assert wf() == "ok"
    DBOS.destroy()
    with pytest.raises(DBOSException):
        wf()


def test_the_version_falls_back_to_a_default_when_a_workflow_source_cannot_be_read(
    clean_dbos: None, config: DBOSConfig, no_version_env: None
) -> None:
    namespace: dict[str, Any] = {}
    exec("def sourceless():\n    return 'ok'\n", namespace)  # no file: getsource fails
    wf = DBOS.workflow(name="sourceless")(namespace["sourceless"])
    launch(config)
    assert DBOS.application_version == f"DEFAULT_VERSION-{config['name']}"
    assert wf() == "ok"


def test_destroy_while_background_workflows_write_does_not_crash(
    config: DBOSConfig, clean_dbos: None
) -> None:
    # Closing a SQLite connection under a running statement used to crash the interpreter.
    @DBOS.step()
    def tick(i: int) -> int:
        return i

    @DBOS.workflow()
    def busy() -> int:
        return sum(tick(i) for i in range(200))

    DBOS(config=config)
    DBOS.launch()
    for _ in range(16):
        DBOS.start_workflow(busy)
    DBOS.destroy()
    DBOS(config=config)
    DBOS.launch()  # the database is intact and recovery picks up what was cut short
