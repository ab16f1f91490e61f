"""The composition root of storage: picks the backend a URL names and opens it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbos._storage import postgres_backend, sqlite_backend
from dbos._storage.backend import Backend
from dbos._storage.migrator import SchemaError
from dbos._storage.system_database import SystemDatabase

if TYPE_CHECKING:
    from dbos._storage.app_database import ApplicationDatabase

logger = logging.getLogger("dbos")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def open_backend(
    url: str,
    *,
    schema: str = "dbos",
    pool_size: int = 20,
    sqlite_synchronous: str = "FULL",
    retry_connection_errors: bool = True,
) -> Backend:
    if is_sqlite(url):
        return sqlite_backend.SQLiteBackend(url, synchronous=sqlite_synchronous)
    return postgres_backend.PostgresBackend(
        url, schema=schema, pool_size=pool_size, retry_connection_errors=retry_connection_errors
    )


def open_system_database(
    url: str,
    *,
    schema: str = "dbos",
    pool_size: int = 20,
    sqlite_synchronous: str = "FULL",
    create: bool = True,
    retry_connection_errors: bool = True,
) -> SystemDatabase:
    """Open the system database; with ``create``, make it first when it is missing."""
    if is_sqlite(url):
        if not create and not Path(sqlite_backend.sqlite_path(url)).exists():
            raise SchemaError(f"the system database {url} does not exist")
    elif create:
        postgres_backend.ensure_database_exists(url)
    elif not postgres_backend.database_exists(url):
        raise SchemaError("the system database does not exist; run migrations (dbos migrate)")
    backend = open_backend(
        url,
        schema=schema,
        pool_size=pool_size,
        sqlite_synchronous=sqlite_synchronous,
        retry_connection_errors=retry_connection_errors,
    )
    return SystemDatabase(backend, schema)


def open_application_database(
    url: str, *, engine_kwargs: Mapping[str, Any] | None = None
) -> ApplicationDatabase:
    """Open the application database, creating it (Postgres) and its outputs table if missing.

    Failing to create a Postgres database is only a warning: it may exist already for a user
    who may not create databases, and connecting will tell.
    """
    from dbos._storage.app_database import ApplicationDatabase  # SQLAlchemy only when used

    if not is_sqlite(url):
        try:
            postgres_backend.ensure_database_exists(url)
        except Exception as exc:
            logger.warning("Could not create the application database: %s", exc)
    return ApplicationDatabase.open(url, engine_kwargs)


def reset_system_database(url: str, *, schema: str = "dbos", truncate: bool = False) -> None:
    """Drop the database (or, with ``truncate``, empty every table but the migration marker)."""
    if is_sqlite(url):
        if not truncate:
            sqlite_backend.delete_database_files(url)
            return
        backend = sqlite_backend.SQLiteBackend(url)
        try:
            sqlite_backend.truncate_all(backend)
        finally:
            backend.close()
    elif truncate:
        postgres_backend.truncate_all(url, schema)
    else:
        postgres_backend.drop_database(url)
