"""The application database seam: engine options, error classification, transaction_outputs."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool
from tests.conftest import POSTGRES_ADMIN_URL, postgres_url

from dbos._storage.app_database import (
    ApplicationDatabase,
    engine_options,
    engine_url,
    retriable_error,
)
from dbos._storage.factory import open_application_database
from dbos._storage.records import TransactionOutput

# ---------------------------------------------------------------- engine options


def test_postgres_urls_are_opened_with_psycopg_3() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg2://u@h/db"):
        assert engine_url(url).drivername == "postgresql+psycopg"
    assert engine_url("sqlite:///app.sqlite").drivername == "sqlite"


def test_postgres_engine_defaults() -> None:
    options = engine_options(engine_url("postgresql://u@h/db"), None)
    assert options == {
        "pool_size": 20,
        "max_overflow": 0,
        "pool_timeout": 30,
        "connect_args": {"application_name": "dbos_transact", "connect_timeout": 10},
    }


def test_engine_kwargs_override_the_defaults_and_connect_args_merge_by_key() -> None:
    options = engine_options(
        engine_url("postgresql://u@h/db?connect_timeout=3"),
        {"pool_size": 5, "pool_pre_ping": True, "connect_args": {"sslmode": "disable"}},
    )
    assert options["pool_size"] == 5
    assert options["pool_pre_ping"] is True
    assert options["connect_args"] == {
        "application_name": "dbos_transact",
        "connect_timeout": 3,  # the URL's own value, which connect_args would otherwise hide
        "sslmode": "disable",
    }


def test_a_pool_class_without_sizing_drops_the_pool_defaults() -> None:
    options = engine_options(engine_url("postgresql://u@h/db"), {"poolclass": NullPool})
    assert "pool_size" not in options
    assert "max_overflow" not in options
    assert "pool_timeout" not in options


def test_sqlite_gets_a_busy_timeout_and_no_postgres_connect_args() -> None:
    options = engine_options(
        engine_url("sqlite:///app.sqlite"),
        {"connect_args": {"application_name": "x", "connect_timeout": 5}},
    )
    assert options["connect_args"] == {"timeout": 30.0}
    assert engine_options(engine_url("sqlite://"), None) == {"connect_args": {"timeout": 30.0}}


# ---------------------------------------------------------------- retriable errors


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(psycopg.errors.SerializationFailure("could not serialize")),
        _wrapped(psycopg.errors.DeadlockDetected("deadlock")),
        _wrapped(psycopg.errors.AdminShutdown("terminating connection")),
        _wrapped(psycopg.OperationalError("connection refused")),
        _wrapped(sqlite3.OperationalError("database is locked")),
        psycopg.errors.SerializationFailure("raised unwrapped"),
        sa.exc.TimeoutError("QueuePool limit reached"),
    ],
    ids=lambda e: type(getattr(e, "orig", e)).__name__,
)
def test_errors_a_retry_can_cure_are_retriable(error: BaseException) -> None:
    assert retriable_error(error)


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("duplicate")),
        _wrapped(psycopg.errors.UndefinedTable("no such table")),
        _wrapped(sqlite3.OperationalError("no such table: items")),
        ValueError("user error"),
    ],
    ids=lambda e: type(getattr(e, "orig", e)).__name__,
)
def test_errors_in_the_users_code_or_sql_are_not_retriable(error: BaseException) -> None:
    assert not retriable_error(error)


# ---------------------------------------------------------------- transaction_outputs


@pytest.fixture
def app_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/app.sqlite"
        return
    name = "dbos_test_appdb_" + uuid.uuid4().hex[:12]
    yield postgres_url(name)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_db(app_database_url: str) -> Iterator[ApplicationDatabase]:
    database = open_application_database(app_database_url)
    yield database
    database.close()


def _output(workflow_id: str, output: str | None = "out", error: str | None = None) -> Any:
    return TransactionOutput(workflow_id, 1, "txn", output, error, "local", 1_000)


def test_opening_twice_keeps_the_table_and_its_rows(
    app_db: ApplicationDatabase, app_database_url: str
) -> None:
    assert app_db.record_error(_output("wf-1", None, "boom"))
    again = open_application_database(app_database_url)
    try:
        found = again.get_output("wf-1", 1)
    finally:
        again.close()
    assert found == _output("wf-1", None, "boom")


def test_an_output_commits_with_the_transaction_or_not_at_all(app_db: ApplicationDatabase) -> None:
    with pytest.raises(RuntimeError), app_db.transaction("SERIALIZABLE") as session:
        assert app_db.insert_output(session, _output("rolled-back"))
        raise RuntimeError("roll back")
    assert app_db.get_output("rolled-back", 1) is None

    with app_db.transaction("SERIALIZABLE") as session:
        assert app_db.insert_output(session, _output("committed"))
    assert app_db.get_output("committed", 1) == _output("committed")


def test_a_second_output_at_the_same_function_id_is_not_inserted(
    app_db: ApplicationDatabase,
) -> None:
    with app_db.transaction("READ COMMITTED") as session:
        assert app_db.insert_output(session, _output("twice"))
    with app_db.transaction("READ COMMITTED") as session:
        assert not app_db.insert_output(session, _output("twice", "other"))
    assert not app_db.record_error(_output("twice", None, "boom"))
    found = app_db.get_output("twice", 1)
    assert found is not None
    assert found.output == "out"
