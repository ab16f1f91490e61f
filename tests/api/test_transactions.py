"""@DBOS.transaction and DBOS.sql_session: exactly-once writes to the application database.

Every test runs on SQLite (an application file beside the system file) and on Postgres (the
shared ``dbos_test_app`` database, with the test's own tables in a schema of its own). The
``transaction_outputs`` table is shared there, so every workflow ID is unique per test.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import InvalidRequestError, OperationalError
from system_tables import SystemTables, launch, relaunch, unpickled
from tests.conftest import POSTGRES_ADMIN_URL, postgres_url

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException

APP_DATABASE = "dbos_test_app"


class OutOfStockError(Exception):
    """A user error that pickles (it lives at module level)."""


class AppTables:
    """Direct access to the test's application database, behind DBOS's back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.outputs = "transaction_outputs" if self.is_sqlite else "dbos.transaction_outputs"

    def execute(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.is_sqlite:
            conn = sqlite3.connect(self.url[len("sqlite:///") :], timeout=30)
            try:
                cursor = conn.execute(query, tuple(params))
                rows = cursor.fetchall() if cursor.description else []
                conn.commit()
            finally:
                conn.close()
            return rows
        with psycopg.connect(self.url, autocommit=True) as pg:
            result = pg.execute(query.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]
            return result.fetchall() if result.description else []

    def names(self) -> list[str]:
        return [row[0] for row in self.execute("SELECT name FROM items ORDER BY name")]

    def output(self, workflow_id: str, function_id: int) -> dict[str, Any] | None:
        rows = self.execute(
            f"SELECT output, error, function_name, executor_id FROM {self.outputs}"
            " WHERE workflow_uuid = ? AND function_id = ?",
            (workflow_id, function_id),
        )
        if not rows:
            return None
        return dict(zip(("output", "error", "function_name", "executor_id"), rows[0], strict=True))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _create_app_database() -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)
        ).fetchone():
            try:
                conn.execute(f'CREATE DATABASE "{APP_DATABASE}"')
            except psycopg.errors.DuplicateDatabase:
                pass


@pytest.fixture
def app_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/app.sqlite"
        return
    _create_app_database()
    schema = "u_" + uuid.uuid4().hex[:16]
    with psycopg.connect(postgres_url(APP_DATABASE), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_url(APP_DATABASE)}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url(APP_DATABASE), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def app_config(config: DBOSConfig, app_url: str) -> DBOSConfig:
    return {**config, "application_database_url": app_url}


@pytest.fixture
def app_tables(app_url: str) -> AppTables:
    tables = AppTables(app_url)
    tables.execute("CREATE TABLE items (name TEXT PRIMARY KEY)")
    return tables


@pytest.fixture
def app_dbos(app_config: DBOSConfig, app_tables: AppTables, clean_dbos: None) -> type[DBOS]:
    launch(app_config)
    return DBOS


def insert_item(name: str) -> int:
    session = DBOS.sql_session
    session.execute(sa.text("INSERT INTO items (name) VALUES (:name)"), {"name": name})
    return int(session.execute(sa.text("SELECT count(*) FROM items")).scalar_one())


# ---------------------------------------------------------------- recording and replay


def test_a_transaction_records_its_output_with_the_users_writes_and_replays_it(
    clean_dbos: None,
    app_config: DBOSConfig,
    app_tables: AppTables,
    system_tables: SystemTables,
) -> None:
    calls: list[int | None] = []

    @DBOS.transaction()
    def add_item(name: str) -> int:
        calls.append(DBOS.step_id)
        return insert_item(name)

    @DBOS.step()
    def confirm(count: int) -> str:
        return f"{count} item(s)"

    @DBOS.workflow()
    def order(name: str) -> str:
        return confirm(add_item(name))

    launch(app_config)
    workflow_id = unique("order")
    with SetWorkflowID(workflow_id):
        assert order("book") == "1 item(s)"
    assert calls == [1]
    assert app_tables.names() == ["book"]
    steps = system_tables.steps(workflow_id)
    assert [(s["function_id"], s["function_name"]) for s in steps] == [
        (1, add_item.__qualname__),
        (2, confirm.__qualname__),
    ]
    assert unpickled(steps[0]["output"]) == 1
    recorded = app_tables.output(workflow_id, 1)
    assert recorded is not None
    assert unpickled(recorded["output"]) == 1
    assert recorded["error"] is None
    assert recorded["function_name"] == add_item.__qualname__
    assert recorded["executor_id"] == "local"
    if not app_tables.is_sqlite:  # Postgres also names the transaction, for debugging
        txn = app_tables.execute(
            f"SELECT txn_id, txn_snapshot FROM {app_tables.outputs} WHERE workflow_uuid = ?",
            (workflow_id,),
        )
        assert all(value is not None for value in txn[0])

    # Recovery replays the workflow; the transaction's checkpoint stands in for running it.
    system_tables.force_pending(workflow_id)
    relaunch(app_config)
    system_tables.wait_for_status(workflow_id, {"SUCCESS", "ERROR"})
    assert DBOS.retrieve_workflow(workflow_id).get_result() == "1 item(s)"
    assert calls == [1]
    assert app_tables.names() == ["book"]


def test_a_commit_whose_checkpoint_was_lost_is_replayed_from_the_application_database(
    clean_dbos: None,
    app_config: DBOSConfig,
    app_tables: AppTables,
    system_tables: SystemTables,
) -> None:
    calls: list[str] = []

    @DBOS.transaction()
    def add_item(name: str) -> int:
        calls.append(name)
        return insert_item(name)

    @DBOS.workflow()
    def order(name: str) -> int:
        return add_item(name)

    launch(app_config)
    workflow_id = unique("lost-checkpoint")
    with SetWorkflowID(workflow_id):
        assert order("lamp") == 1
    original = system_tables.steps(workflow_id)[0]
    # A crash after the application commit but before the system checkpoint.
    system_tables.execute(
        "DELETE FROM operation_outputs WHERE workflow_uuid = ? AND function_id = 1", (workflow_id,)
    )
    system_tables.force_pending(workflow_id)
    relaunch(app_config)
    system_tables.wait_for_status(workflow_id, {"SUCCESS", "ERROR"})

    assert DBOS.retrieve_workflow(workflow_id).get_result() == 1
    assert calls == ["lamp"]
    assert app_tables.names() == ["lamp"]
    mirrored = system_tables.steps(workflow_id)
    assert [s["function_name"] for s in mirrored] == [add_item.__qualname__]
    assert unpickled(mirrored[0]["output"]) == unpickled(original["output"]) == 1


def test_a_failing_transaction_rolls_back_records_its_error_and_raises_it(
    clean_dbos: None,
    app_config: DBOSConfig,
    app_tables: AppTables,
    system_tables: SystemTables,
) -> None:
    calls: list[str] = []

    @DBOS.transaction()
    def reserve(name: str) -> None:
        calls.append(name)
        insert_item(name)
        raise OutOfStockError(f"no {name} left")

    @DBOS.workflow()
    def order(name: str) -> str:
        try:
            reserve(name)
        except OutOfStockError as exc:
            return f"declined: {exc}"
        return "reserved"

    launch(app_config)
    workflow_id = unique("declined")
    with SetWorkflowID(workflow_id):
        assert order("kite") == "declined: no kite left"
    assert app_tables.names() == []
    recorded = app_tables.output(workflow_id, 1)
    assert recorded is not None
    assert recorded["output"] is None
    assert isinstance(unpickled(recorded["error"]), OutOfStockError)
    step = system_tables.steps(workflow_id)[0]
    assert isinstance(unpickled(step["error"]), OutOfStockError)

    system_tables.force_pending(workflow_id)
    relaunch(app_config)
    system_tables.wait_for_status(workflow_id, {"SUCCESS", "ERROR"})
    assert DBOS.retrieve_workflow(workflow_id).get_result() == "declined: no kite left"
    assert calls == ["kite"]


def test_an_output_that_cannot_be_stored_fails_the_transaction_and_rolls_it_back(
    app_dbos: type[DBOS], app_tables: AppTables
) -> None:
    @DBOS.transaction()
    def unstorable() -> Any:
        insert_item("ghost")
        return threading.Lock()

    with pytest.raises(TypeError):
        unstorable()
    assert app_tables.names() == []


# ---------------------------------------------------------------- retries


def _serialization_failure() -> OperationalError:
    return OperationalError("UPDATE items", {}, psycopg.errors.SerializationFailure("conflict"))


def _database_locked() -> OperationalError:
    return OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))


@pytest.mark.parametrize("make_error", [_serialization_failure, _database_locked])
def test_retriable_errors_are_retried_until_the_transaction_commits(
    app_dbos: type[DBOS],
    app_tables: AppTables,
    system_tables: SystemTables,
    make_error: Any,
) -> None:
    attempts: list[str] = []

    @DBOS.transaction()
    def add_item(name: str) -> int:
        attempts.append(name)
        count = insert_item(name)
        if len(attempts) < 3:
            raise make_error()
        return count

    @DBOS.workflow()
    def order(name: str) -> int:
        return add_item(name)

    workflow_id = unique("retried")
    with SetWorkflowID(workflow_id):
        assert order("drum") == 1
    assert attempts == ["drum"] * 3
    assert app_tables.names() == ["drum"]
    assert [s["error"] for s in system_tables.steps(workflow_id)] == [None]


def test_concurrent_transactions_never_lose_an_update(
    clean_dbos: None, app_config: DBOSConfig, app_tables: AppTables, backend: str
) -> None:
    app_tables.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
    app_tables.execute("INSERT INTO counter (n) VALUES (0)")
    attempts: dict[str, int] = {"a": 0, "b": 0}
    # On Postgres both read before either writes, so one of them must fail to serialize. On
    # SQLite the second cannot even begin until the first commits, so they must not wait.
    both_read = threading.Barrier(2, timeout=10) if backend == "postgres" else None

    @DBOS.transaction()
    def increment(tag: str) -> int:
        attempts[tag] += 1
        session = DBOS.sql_session
        value = int(session.execute(sa.text("SELECT n FROM counter")).scalar_one())
        if both_read is not None and attempts[tag] == 1:
            both_read.wait()
        session.execute(sa.text("UPDATE counter SET n = :n"), {"n": value + 1})
        return value + 1

    launch(app_config)
    results: dict[str, int] = {}
    threads = [
        threading.Thread(target=lambda t=tag: results.__setitem__(t, increment(t)))
        for tag in attempts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [1, 2]
    assert app_tables.execute("SELECT n FROM counter") == [(2,)]
    if backend == "postgres":
        assert sum(attempts.values()) == 3  # exactly one serialization failure, retried


# ---------------------------------------------------------------- where transactions run


def test_a_transaction_called_outside_a_workflow_runs_in_one_temporary_workflow(
    app_dbos: type[DBOS], app_tables: AppTables, system_tables: SystemTables
) -> None:
    @DBOS.transaction()
    def add_item(name: str) -> int:
        return insert_item(name)

    @DBOS.step()
    def plain_step() -> str:
        return "step"

    assert plain_step() == "step"
    assert system_tables.workflows() == []  # a step called outside a workflow leaves no row
    assert add_item("vase") == 1
    rows = system_tables.workflows()
    assert [(r["name"], r["status"]) for r in rows] == [
        ("<temp>." + add_item.__qualname__, "SUCCESS")
    ]
    assert [s["function_name"] for s in system_tables.steps(rows[0]["workflow_uuid"])] == [
        add_item.__qualname__
    ]
    assert app_tables.output(rows[0]["workflow_uuid"], 1) is not None
    assert app_tables.names() == ["vase"]

    # Started like a workflow, it runs in a temporary workflow too, under the ID it is given.
    workflow_id = unique("started")
    with SetWorkflowID(workflow_id):
        handle = DBOS.start_workflow(add_item, "jug")
    assert handle.get_result() == 2
    started = system_tables.workflow(workflow_id)
    assert started is not None
    assert started["name"] == "<temp>." + add_item.__qualname__


def test_a_transaction_inside_a_step_is_part_of_the_step(
    app_dbos: type[DBOS], app_tables: AppTables, system_tables: SystemTables
) -> None:
    seen: list[int | None] = []

    @DBOS.transaction()
    def add_item(name: str) -> int:
        seen.append(DBOS.step_id)
        return insert_item(name)

    @DBOS.step()
    def stock(name: str) -> int:
        return add_item(name)

    @DBOS.workflow()
    def order(name: str) -> int:
        return stock(name)

    workflow_id = unique("in-step")
    with SetWorkflowID(workflow_id):
        assert order("bell") == 1
    assert seen == [1]
    assert [s["function_name"] for s in system_tables.steps(workflow_id)] == [stock.__qualname__]
    assert app_tables.output(workflow_id, 1) is None
    assert app_tables.names() == ["bell"]


def test_a_transaction_called_from_a_transaction_joins_its_session(
    app_dbos: type[DBOS], app_tables: AppTables
) -> None:
    sessions: list[Any] = []

    @DBOS.transaction()
    def inner(name: str) -> int:
        sessions.append(DBOS.sql_session)
        return insert_item(name)

    @DBOS.transaction()
    def outer() -> None:
        sessions.append(DBOS.sql_session)
        inner("cup")
        raise OutOfStockError("undo everything")

    with pytest.raises(OutOfStockError):
        outer()
    assert sessions[0] is sessions[1]
    assert app_tables.names() == []


def test_each_transaction_runs_at_its_isolation_level(
    app_dbos: type[DBOS], app_tables: AppTables, app_url: str
) -> None:
    def observe() -> str:
        session = DBOS.sql_session
        if app_tables.is_sqlite:
            # The write lock is held from BEGIN: another writer cannot start.
            other = sqlite3.connect(app_url[len("sqlite:///") :], timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                return str(exc)
            finally:
                other.close()
            return "not locked"
        return str(session.execute(sa.text("SHOW transaction_isolation")).scalar_one())

    serializable = DBOS.transaction()(observe)
    repeatable = DBOS.transaction("REPEATABLE READ", name="repeatable")(observe)
    committed = DBOS.transaction("READ COMMITTED", name="committed")(observe)

    if app_tables.is_sqlite:
        for txn in (serializable, repeatable, committed):
            assert txn() == "database is locked"
    else:
        assert serializable() == "serializable"
        assert repeatable() == "repeatable read"
        assert committed() == "read committed"


# ---------------------------------------------------------------- misuse


def test_coroutine_functions_cannot_be_transactions(clean_dbos: None) -> None:
    async def fetch() -> None:
        return None

    with pytest.raises(DBOSException, match="coroutine"):
        DBOS.transaction()(fetch)


def test_unknown_isolation_levels_are_refused(clean_dbos: None) -> None:
    with pytest.raises(DBOSException, match="isolation level"):
        DBOS.transaction("SNAPSHOT")  # type: ignore[arg-type]


def test_sql_session_is_only_available_inside_a_transaction(
    app_dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.step()
    def in_step() -> Any:
        return DBOS.sql_session

    @DBOS.workflow()
    def in_workflow() -> Any:
        return DBOS.sql_session

    with pytest.raises(AssertionError, match=r"only available inside a @DBOS\.transaction"):
        _ = DBOS.sql_session
    with pytest.raises(AssertionError):
        in_workflow()
    with pytest.raises(AssertionError):
        DBOS.start_workflow(in_step).get_result()


@pytest.mark.parametrize("method", ["commit", "rollback"])
def test_commit_and_rollback_inside_a_transaction_raise_with_a_hint(
    app_dbos: type[DBOS], app_tables: AppTables, method: str
) -> None:
    @DBOS.transaction()
    def misuse() -> None:
        insert_item("pen")
        getattr(DBOS.sql_session, method)()

    with pytest.raises(InvalidRequestError, match=f"{method}\\(\\) must not be called") as caught:
        misuse()
    assert "raise to roll back" in str(caught.value)
    assert app_tables.names() == []


def test_transactions_need_an_application_database(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.transaction()
    def orphan() -> int:
        return 1

    @DBOS.workflow()
    def uses_orphan() -> int:
        return orphan()

    message = "configured with an application_database_url"
    with pytest.raises(AssertionError, match=message):
        orphan()
    assert system_tables.workflows() == []  # refused before a temporary workflow was written
    with pytest.raises(AssertionError, match=message):
        uses_orphan()


# ---------------------------------------------------------------- the application database


@pytest.fixture
def missing_app_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/not/yet/app.sqlite"
        return
    name = "dbos_test_app_" + uuid.uuid4().hex[:12]
    yield postgres_url(name)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_missing_application_database_and_its_table_are_created_at_launch(
    clean_dbos: None, config: DBOSConfig, missing_app_url: str
) -> None:
    launch({**config, "application_database_url": missing_app_url})

    @DBOS.transaction()
    def answer() -> int:
        return 42

    assert answer() == 42
    tables = AppTables(missing_app_url)
    assert len(tables.execute(f"SELECT workflow_uuid FROM {tables.outputs}")) == 1
