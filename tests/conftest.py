"""Shared fixtures: every behaviour test runs once on SQLite and once on Postgres.

Postgres tests get a fresh schema in one shared database, which is far cheaper than a
database per test. Without a reachable server they skip locally and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from dbos import DBOS, DBOSConfig

POSTGRES_ADMIN_URL = os.environ.get(
    "DBOS_TEST_POSTGRES_URL", "postgresql://postgres@localhost:5432/postgres"
)
POSTGRES_TEST_DB = "dbos_test"
_postgres_ok: bool | None = None


def postgres_url(database: str = POSTGRES_TEST_DB) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


def postgres_available() -> bool:
    global _postgres_ok
    if _postgres_ok is None:
        try:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_TEST_DB,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{POSTGRES_TEST_DB}"')
            _postgres_ok = True
        except psycopg.Error:
            _postgres_ok = False
    return _postgres_ok


def require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"Postgres is required in CI but unreachable at {POSTGRES_ADMIN_URL}")
    pytest.skip("Postgres is not reachable")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = "t_" + uuid.uuid4().hex[:16]
    yield schema
    if postgres_available():
        with psycopg.connect(postgres_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def system_database_url(backend: str, tmp_path: object) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/dbos_test.sqlite"
    return postgres_url()


@pytest.fixture
def config(system_database_url: str, pg_schema: str) -> DBOSConfig:
    cfg: DBOSConfig = {"name": "test-app", "system_database_url": system_database_url}
    if not system_database_url.startswith("sqlite"):
        cfg["dbos_system_schema"] = pg_schema
    return cfg


@pytest.fixture
def clean_dbos() -> Iterator[None]:
    """No DBOS instance or registered functions leak into or out of a test."""
    DBOS.destroy(destroy_registry=True)
    yield
    DBOS.destroy(destroy_registry=True)


@pytest.fixture
def dbos(config: DBOSConfig, clean_dbos: None) -> Iterator[type[DBOS]]:
    """A launched DBOS on a fresh system database. Define workflows inside the test."""
    DBOS(config=config)
    DBOS.launch()
    yield DBOS


@contextmanager
def write_held_in_flight(backend: Any) -> Iterator[Callable[[], None]]:
    """A shareable write on a Postgres ``backend`` that waits on an advisory lock, so what
    the block does meets a write in flight; yields the function that lets it finish, which
    the block's end calls too."""
    key = time.time_ns() % 2**31
    with psycopg.connect(postgres_url(), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        blocker = threading.Thread(
            target=backend.write_one,
            args=("SELECT pg_advisory_xact_lock(%s)", (key,)),
            kwargs={"shareable": True},
        )
        blocker.start()
        deadline = time.monotonic() + 10
        while backend._group._in_flight != 1:
            assert time.monotonic() < deadline, "the write never went out"
            time.sleep(0.001)

        def release() -> None:
            if blocker.is_alive():
                holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
                blocker.join(10)

        try:
            yield release
        finally:
            release()
