"""run_dbos_database_migrations: create or upgrade a system database without launching."""

from __future__ import annotations

from dbos._core.settings import InvalidSettings, resolve_urls
from dbos._error import DBOSInitializationError
from dbos._storage import factory
from dbos._storage.migrator import SchemaError, grant_statements, postgres_script


def run_dbos_database_migrations(
    system_database_url: str,
    *,
    app_database_url: str | None = None,
    schema: str = "dbos",
    application_role: str | None = None,
) -> None:
    """Create the system database if needed and bring its schema up to date.

    Args:
        system_database_url: the system database, ``sqlite:///...`` or ``postgresql://...``.
        app_database_url: the application database; accepted for compatibility (its
            ``transaction_outputs`` table arrives with transactions).
        schema: the Postgres schema of the system tables.
        application_role: a Postgres role to grant use of the schema's tables.
    """
    try:
        url, _ = resolve_urls({"name": "migrations", "system_database_url": system_database_url})
    except InvalidSettings as exc:
        raise DBOSInitializationError(str(exc)) from exc
    try:
        db = factory.open_system_database(url, schema=schema, pool_size=2)
    except SchemaError as exc:
        raise DBOSInitializationError(str(exc)) from exc
    try:
        db.migrator.migrate()
        if application_role is not None:
            db.migrator.grant(application_role)
    finally:
        db.close()


def migration_script(schema: str = "dbos", from_version: int = 1) -> str:
    """The Postgres system-database migrations from ``from_version`` on, as runnable SQL."""
    return postgres_script(schema, from_version)


def role_grant_script(role: str, schema: str = "dbos") -> str:
    """The SQL that lets ``role`` use the system tables of ``schema`` (Postgres)."""
    try:
        return "\n".join(f"{statement};" for statement in grant_statements(schema, role))
    except SchemaError as exc:
        raise DBOSInitializationError(str(exc)) from exc
