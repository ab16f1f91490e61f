"""Fixtures for the storage conformance suite: every test runs on SQLite and on Postgres."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dbos._storage.factory import open_system_database
from dbos._storage.system_database import SystemDatabase


@pytest.fixture
def open_db(system_database_url: str, pg_schema: str) -> Iterator[Callable[[], SystemDatabase]]:
    """Opens (unmigrated) handles on this test's system database; all closed at teardown."""
    opened: list[SystemDatabase] = []

    def open_one() -> SystemDatabase:
        db = open_system_database(system_database_url, schema=pg_schema, pool_size=4)
        opened.append(db)
        return db

    yield open_one
    for db in opened:
        db.close()


@pytest.fixture
def db(open_db: Callable[[], SystemDatabase]) -> SystemDatabase:
    """A migrated system database."""
    database = open_db()
    database.migrator.migrate()
    return database
