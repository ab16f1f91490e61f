"""dbos version / migrate / reset / start, run as subprocesses against real databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from cli_runner import CliRunner


def _tables(url: str, schema: str) -> set[str]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            ).fetchall()
    return {r[0] for r in rows}


def test_version(dbos_cli: CliRunner) -> None:
    result = dbos_cli("version")
    assert result.returncode == 0
    assert result.stdout.startswith("DBOS CLI version: ")


def test_migrate_creates_the_system_tables(
    dbos_cli: CliRunner, system_database_url: str, pg_schema: str
) -> None:
    result = dbos_cli("migrate", "-s", system_database_url, "--schema", pg_schema)
    assert result.returncode == 0, result.stderr
    assert {"workflow_status", "operation_outputs", "notifications"} <= _tables(
        system_database_url, pg_schema
    )


def test_migrate_reads_the_project_config_and_runs_its_commands(
    dbos_cli: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "dbos-config.yaml").write_text(
        "name: cli-app\n"
        "system_database_url: ${CLI_TEST_URL}\n"
        "database:\n"
        "  migrate:\n"
        "    - echo migrated > marker.txt\n"
    )
    url = f"sqlite:///{tmp_path / 'from-env.sqlite'}"
    result = dbos_cli("migrate", env={"CLI_TEST_URL": url})
    assert result.returncode == 0, result.stderr
    assert "workflow_status" in _tables(url, "dbos")
    assert (tmp_path / "marker.txt").read_text().strip() == "migrated"


def test_the_app_name_alone_means_a_sqlite_file_beside_the_project(
    dbos_cli: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "dbos-config.yaml").write_text("name: named-app\n")
    assert dbos_cli("migrate").returncode == 0
    assert (tmp_path / "named_app.sqlite").exists()  # the name, made a valid file name


def test_a_missing_or_bad_url_is_a_clear_error(dbos_cli: CliRunner, tmp_path: Path) -> None:
    missing = dbos_cli("migrate")
    assert missing.returncode == 1
    assert "Missing database URL" in missing.stderr
    bad = dbos_cli("migrate", "-s", "mysql://nowhere/db")
    assert bad.returncode == 1
    assert "Error:" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "dbos-config.yaml").write_text("name: [unclosed\n")
    broken = dbos_cli("migrate")
    assert broken.returncode == 1 and "not valid YAML" in broken.stderr


def test_reset_asks_first_and_deletes_when_confirmed(dbos_cli: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'doomed.sqlite'}"
    assert dbos_cli("migrate", "-s", url).returncode == 0
    declined = dbos_cli("reset", "-s", url, stdin="n\n")
    assert declined.returncode == 0 and (tmp_path / "doomed.sqlite").exists()
    confirmed = dbos_cli("reset", "-s", url, "-y")
    assert confirmed.returncode == 0, confirmed.stderr
    assert not (tmp_path / "doomed.sqlite").exists()


def test_start_runs_the_configured_commands_and_passes_on_failure(
    dbos_cli: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "dbos-config.yaml").write_text(
        "name: starter\nruntimeConfig:\n  start:\n    - echo started > started.txt\n    - exit 3\n"
    )
    result = dbos_cli("start")
    assert result.returncode == 3
    assert (tmp_path / "started.txt").read_text().strip() == "started"
    (tmp_path / "dbos-config.yaml").write_text("name: starter\n")
    assert dbos_cli("start").returncode == 1


def test_migrate_prints_postgres_sql_without_connecting(
    dbos_cli: CliRunner, system_database_url: str, pg_schema: str
) -> None:
    unreachable = "postgresql://nobody@127.0.0.1:1/nowhere"  # printing must not connect
    printed = dbos_cli("migrate", "-s", unreachable, "--schema", "s1", "--print-migrations", "all")
    assert printed.returncode == 0, printed.stderr
    assert 'CREATE TABLE "s1".workflow_status' in printed.stdout
    later = dbos_cli("migrate", "-s", unreachable, "--print-migrations", "4")
    assert "migration 1:" not in later.stdout and "migration 4:" in later.stdout
    grants = dbos_cli("migrate", "-s", unreachable, "-r", "app_user", "--print-user-role")
    assert grants.returncode == 0
    assert 'GRANT USAGE ON SCHEMA "dbos" TO "app_user";' in grants.stdout
    if system_database_url.startswith("postgresql"):
        # The printed script, run by hand, leaves a database DBOS finds current.
        script = dbos_cli("migrate", "-s", unreachable, "--schema", pg_schema,
                          "--print-migrations", "all").stdout  # fmt: skip
        with psycopg.connect(system_database_url, autocommit=True) as conn:
            conn.execute(script)  # type: ignore[arg-type]
        assert "workflow_status" in _tables(system_database_url, pg_schema)
        assert dbos_cli("migrate", "-s", system_database_url, "--schema", pg_schema).returncode == 0


def test_migrate_print_flags_refuse_bad_combinations(dbos_cli: CliRunner, tmp_path: Path) -> None:
    pg = "postgresql://nobody@127.0.0.1:1/nowhere"
    for args in (
        ("-s", f"sqlite:///{tmp_path / 'x.sqlite'}", "--print-migrations", "all"),
        ("-s", pg, "--print-user-role"),
        ("-s", pg, "-r", "app", "--print-user-role", "--print-migrations", "all"),
        ("-s", pg, "--print-migrations", "zero"),
        ("-s", pg, "-r", "bad role", "--print-user-role"),
    ):
        result = dbos_cli("migrate", *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("Error:") and "Traceback" not in result.stderr
