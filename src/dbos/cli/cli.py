"""The ``dbos`` command: project and database commands; ``dbos workflow ...`` lives beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType

import click

from dbos._api.dbos import DBOS
from dbos._api.migrations import (
    migration_script,
    role_grant_script,
    run_dbos_database_migrations,
)
from dbos.cli.database_options import (
    DB_URL,
    JSON,
    SCHEMA,
    SYS_DB_URL,
    fail,
    opened_client,
    resolve,
)
from dbos.cli.project_config import ConfigError, load_project_config
from dbos.cli.project_init import BUNDLED, KNOWN_TEMPLATES, create_project
from dbos.cli.rendering import table, to_json
from dbos.cli.workflow_commands import queue, workflow
from dbos.error import DBOSException


@click.group()
def app() -> None:
    """DBOS: durable workflows in SQLite or Postgres."""


app.add_command(workflow)
# `dbos queue list` is `dbos workflow queue list` (where the spec puts it) by a shorter name.
app.add_command(queue)


@app.command("version")
def show_version() -> None:
    """Print the version of this CLI."""
    try:
        found = version("dbos")
    except PackageNotFoundError:
        found = "unknown"
    click.echo(f"DBOS CLI version: {found}")


@app.command()
@DB_URL
@SYS_DB_URL
@SCHEMA
@click.option("-r", "--app-role", default=None, help="A Postgres role to grant the tables to.")
@click.option(
    "--print-migrations",
    "print_migrations",
    default=None,
    metavar="all|N",
    help="Print the Postgres migration SQL (all, or from migration N on); connect to nothing.",
)
@click.option(
    "--print-user-role",
    is_flag=True,
    help="Print the SQL that grants --app-role the system tables; connect to nothing.",
)
def migrate(
    *,
    database_url: str | None,
    system_database_url: str | None,
    schema: str,
    app_role: str | None,
    print_migrations: str | None,
    print_user_role: bool,
) -> None:
    """Create the system database if needed and bring its schema up to date."""
    sys_url, app_url = resolve(system_database_url, database_url)
    if print_migrations is not None or print_user_role:
        _print_sql(sys_url, schema, app_role, print_migrations, print_user_role)
        return
    try:
        run_dbos_database_migrations(
            sys_url, app_database_url=app_url, schema=schema, application_role=app_role
        )
    except DBOSException as exc:
        fail(str(exc))
    for command in load_project_config().migrate:
        click.echo(f"Running: {command}")
        if subprocess.run(command, shell=True, check=False).returncode != 0:
            fail(f"migration command failed: {command}")
    click.echo("Migrations complete.")


def _print_sql(
    sys_url: str, schema: str, role: str | None, migrations: str | None, user_role: bool
) -> None:
    """``migrate --print-*``: the SQL a DBA would run by hand, printed, not executed."""
    if migrations is not None and user_role:
        fail("--print-migrations and --print-user-role cannot be used together")
    if sys_url.startswith("sqlite"):
        fail("printing migration SQL is for Postgres; SQLite databases migrate themselves")
    try:
        if user_role:
            if role is None:
                fail("--print-user-role needs --app-role")
                return
            click.echo(role_grant_script(role, schema))
            return
        assert migrations is not None
        if migrations != "all" and not (migrations.isdigit() and int(migrations) >= 1):
            fail(f"--print-migrations takes 'all' or a migration number, not {migrations!r}")
        start = 1 if migrations == "all" else int(migrations)
        click.echo(migration_script(schema, start))
    except DBOSException as exc:
        fail(str(exc))


@app.command()
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@DB_URL
@SYS_DB_URL
@SCHEMA
def reset(
    yes: bool, database_url: str | None, system_database_url: str | None, schema: str
) -> None:
    """Delete the system database and everything in it."""
    sys_url, _ = resolve(system_database_url, database_url)
    if not yes and not click.confirm(f"Delete the system database {sys_url}?", default=False):
        click.echo("Nothing was deleted.")
        return
    try:
        DBOS.reset_system_database(system_database_url=sys_url, schema=schema)
    except Exception as exc:
        fail(f"could not reset the system database: {exc}")
    click.echo("System database reset.")


@app.command("rename-application")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@SYS_DB_URL
@click.option("-f", "--from", "old_name", default=None, help="The application to rename.")
@click.option("-t", "--to", "new_name", required=True, help="Its new name.")
@click.option(
    "--adopt-unclaimed-rows",
    is_flag=True,
    help="Also move rows no application owns (written before names, or by clients).",
)
@click.option(
    "--batch-size",
    type=int,
    default=10_000,
    show_default=True,
    help="Finished workflows moved per transaction.",
)
@SCHEMA
@JSON
def rename_application(
    *,
    yes: bool,
    system_database_url: str | None,
    old_name: str | None,
    new_name: str,
    adopt_unclaimed_rows: bool,
    batch_size: int,
    schema: str,
    as_json: bool,
) -> None:
    """Move an application's queues, schedules, versions and workflows to a new name.

    Run it while the application is stopped; rerun it to finish an interrupted rename.
    """
    if old_name is None and not adopt_unclaimed_rows:
        fail("name the application to rename with --from, or pass --adopt-unclaimed-rows")
    source = "unclaimed rows" if old_name is None else f"application {old_name!r}"
    if adopt_unclaimed_rows and old_name is not None:
        source += " and unclaimed rows"
    if not yes and not click.confirm(f"Move {source} to {new_name!r}?", default=False):
        click.echo("Nothing was moved.")
        return
    with opened_client(system_database_url, None, schema) as client:
        counts = client.rename_application(
            old_name, new_name, batch_size=batch_size, adopt_unclaimed_rows=adopt_unclaimed_rows
        )
    if as_json:
        click.echo(to_json(counts))
    else:
        click.echo(table(["MOVED", "ROWS"], list(counts.items())))


@app.command()
def start() -> None:
    """Run the runtimeConfig.start commands of dbos-config.yaml."""
    try:
        commands = load_project_config().start
    except ConfigError as exc:
        fail(str(exc))
        return
    if not commands:
        fail("dbos-config.yaml has no runtimeConfig.start commands")
    for command in commands:
        code = _run_forwarding_signals(command)
        if code != 0:
            sys.exit(code)


def _run_forwarding_signals(command: str) -> int:
    """Run ``command`` in its own process group; SIGINT and SIGTERM go to that group."""
    child = subprocess.Popen(command, shell=True, start_new_session=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command()
@click.argument("project_name", required=False)
@click.option("-t", "--template", default=None, help="The project template.")
@click.option("-c", "--config", "config_only", is_flag=True, help="Only write dbos-config.yaml.")
def init(project_name: str | None, template: str | None, config_only: bool) -> None:
    """Start a new DBOS project (a folder with dbos-config.yaml and main.py)."""
    name = project_name or click.prompt("Project name", default="dbos-app")
    if template is None and not config_only:
        template = click.prompt(
            "Template", type=click.Choice(KNOWN_TEMPLATES), default=BUNDLED, show_choices=True
        )
    into = Path.cwd() if config_only else Path.cwd() / name
    for path in create_project(name, template or BUNDLED, config_only, into):
        click.echo(f"Wrote {path}")


@app.group()
def postgres() -> None:
    """Run a local Postgres in Docker for development."""


@postgres.command("start")
def postgres_start() -> None:
    """Start the dbos-db container on port 5432."""
    password = os.environ.get("PGPASSWORD", "dbos")
    command = [
        "docker", "run", "-d", "--name", "dbos-db", "-p", "5432:5432",
        "-e", f"POSTGRES_PASSWORD={password}", "pgvector/pgvector:pg16",
    ]  # fmt: skip
    if subprocess.run(command, check=False).returncode != 0:
        fail("could not start the dbos-db container (is Docker running?)")


@postgres.command("stop")
def postgres_stop() -> None:
    """Stop the dbos-db container."""
    if subprocess.run(["docker", "stop", "dbos-db"], check=False).returncode != 0:
        fail("could not stop the dbos-db container")


if __name__ == "__main__":
    app()
