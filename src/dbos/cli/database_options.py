"""The options naming the database a command works on, and the DBOSClient opened on it.

URLs resolve as spec 12.2 says (project_config.database_urls). Every failure a user can
cause (a bad or missing URL, a database that is absent or unreachable, an unknown workflow,
a bad filter) ends the command with "Error: ..." and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from dbos import DBOSClient
from dbos.cli.project_config import ConfigError, database_urls, load_project_config
from dbos.error import DBOSException, DBOSNonExistentWorkflowError

F = TypeVar("F", bound=Callable[..., Any])

SYS_DB_URL = click.option(
    "-s", "--sys-db-url", "system_database_url", default=None, help="System database URL."
)
DB_URL = click.option(
    "-D", "--db-url", "database_url", default=None, help="Application database URL."
)
SCHEMA = click.option("--schema", default="dbos", show_default=True, help="Postgres schema.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def database_options(command: F) -> F:
    """-D/--db-url, -s/--sys-db-url and --schema, as most commands take them."""
    return DB_URL(SYS_DB_URL(SCHEMA(command)))


def fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def resolve(system_database_url: str | None, database_url: str | None) -> tuple[str, str | None]:
    """The URLs a command works on, or a clear error and exit code 1."""
    try:
        return database_urls(system_database_url, database_url, load_project_config())
    except ConfigError as exc:
        fail(str(exc))


@contextmanager
def opened_client(
    system_database_url: str | None, database_url: str | None, schema: str
) -> Iterator[DBOSClient]:
    """A client on the command's system database, closed when the command ends.

    It never retries a lost connection: a command reports the failure instead of waiting.
    """
    sys_url, _ = resolve(system_database_url, database_url)
    try:
        client = DBOSClient(
            system_database_url=sys_url, dbos_system_schema=schema, retry_connection_errors=False
        )
    except DBOSException as exc:
        fail(exc.message)
    except Exception as exc:  # the driver's own error for an unreachable server
        fail(f"cannot connect to the system database: {exc}")
    try:
        yield client
    except DBOSNonExistentWorkflowError as exc:
        fail(f"workflow {exc.workflow_id} does not exist")
    except DBOSException as exc:
        fail(exc.message)
    finally:
        client.destroy()
