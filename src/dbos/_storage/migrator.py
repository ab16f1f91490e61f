"""Numbered schema migrations: applied in order, once, under a lock; or only verified."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from dbos._storage.backend import Backend, Connection

# Any constant works; it only has to be the same in every process that migrates this database.
_MIGRATION_LOCK_KEY = 1234567890
_FILE_PATTERN = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaError(Exception):
    """The database schema is missing or older than this build needs."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(backend_name: str, table_prefix: str) -> list[Migration]:
    folder = resources.files("dbos._storage") / "migrations" / backend_name
    found = []
    for entry in folder.iterdir():
        match = _FILE_PATTERN.match(entry.name)
        if match:
            text = entry.read_text(encoding="utf-8").replace("{s}", table_prefix)
            found.append(Migration(int(match.group(1)), entry.name, split_statements(text)))
    found.sort(key=lambda m: m.version)
    # Gaps are allowed (work in progress on different branches reserves numbers); two
    # migrations with one number are not: that is a merge that still needs renumbering.
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"two migrations for {backend_name} share a number: {versions}")
    return found


def split_statements(script: str) -> tuple[str, ...]:
    """Split a migration into statements, each ending with ';' at the end of a line.

    A $$-quoted body may hold more, and so may a SQLite trigger's BEGIN ... END body, which
    ends at a line reading ``END;``.
    """
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements, current, in_body, in_trigger = [], [], False, False
    for line in lines:
        current.append(line)
        if line.count("$$") % 2 == 1:
            in_body = not in_body
        if line.strip().upper() == "BEGIN":
            in_trigger = "\n".join(current).lstrip().upper().startswith("CREATE TRIGGER")
        if in_trigger:
            if line.strip().upper() != "END;":
                continue
            in_trigger = False
        if not in_body and line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip().rstrip(";").strip())
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return tuple(s for s in statements if s)


def grant_statements(schema: str, role: str) -> list[str]:
    """What letting ``role`` use every table, sequence and function of ``schema`` takes."""
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", role):
        raise SchemaError(f"{role!r} is not a plain role name")
    quoted = f'"{schema}"'
    statements = [f'GRANT USAGE ON SCHEMA {quoted} TO "{role}"']
    for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
        statements.append(f'GRANT ALL ON ALL {kind} IN SCHEMA {quoted} TO "{role}"')
        statements.append(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA {quoted} GRANT ALL ON {kind} TO "{role}"'
        )
    return statements


def postgres_script(schema: str, from_version: int = 1) -> str:
    """The Postgres migrations from ``from_version`` on, as SQL a DBA can run by hand.

    It creates the schema and the version table if needed and records the version reached,
    as ``Migrator.migrate`` does, so a later launch finds the database current.
    """
    migrations = load_migrations("postgres", f'"{schema}".')
    chosen = [m for m in migrations if m.version >= from_version]
    table = f'"{schema}".dbos_migrations'
    lines = [
        "BEGIN;",
        f'CREATE SCHEMA IF NOT EXISTS "{schema}";',
        f"CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL);",
    ]
    for migration in chosen:
        lines.append(f"-- migration {migration.version}: {migration.name}")
        lines.extend(f"{statement};" for statement in migration.statements)
    if chosen:
        lines.append(f"DELETE FROM {table};")
        lines.append(f"INSERT INTO {table} (version) VALUES ({migrations[-1].version});")
    lines.append("COMMIT;")
    return "\n".join(lines)


class Migrator:
    def __init__(self, backend: Backend, schema: str) -> None:
        self._backend = backend
        self._dialect = backend.dialect
        self._schema = schema
        self.migrations = load_migrations(self._dialect.name, self._dialect.table_prefix)

    @property
    def latest_version(self) -> int:
        return self.migrations[-1].version

    def _version_table(self) -> str:
        return self._dialect.sql("{s}dbos_migrations")

    def current_version(self) -> int:
        """0 for an empty database."""
        if self._dialect.name == "postgres":
            exists = self._backend.read_one(
                "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'dbos_migrations'",
                (self._schema,),
            )
        else:
            exists = self._backend.read_one(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dbos_migrations'"
            )
        if exists is None:
            return 0
        row = self._backend.read_one(f"SELECT max(version) FROM {self._version_table()}")
        return int(row[0]) if row and row[0] is not None else 0

    def migrate(self) -> int:
        """Bring the schema to the latest version; returns how many migrations ran.

        A database ahead of this build is left alone, so a newer peer can share it.
        """
        if self.current_version() >= self.latest_version:
            return 0
        return self._backend.transact(self._apply_pending)

    def _apply_pending(self, conn: Connection) -> int:
        if self._dialect.name == "postgres":
            # Lock first: CREATE SCHEMA IF NOT EXISTS itself races between two migrators.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
        table = self._version_table()
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL)")
        row = conn.execute(f"SELECT max(version) FROM {table}").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        applied = 0
        for migration in self.migrations:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            applied += 1
        if applied:
            conn.execute(f"DELETE FROM {table}")
            conn.execute(
                self._dialect.sql(f"INSERT INTO {table} (version) VALUES (?)"),
                (self.latest_version,),
            )
        return applied

    def grant(self, role: str) -> None:
        """Let ``role`` use every table, sequence and function of the schema (Postgres only)."""
        if self._dialect.name != "postgres":
            raise SchemaError("granting an application role is only supported on Postgres")
        statements = grant_statements(self._schema, role)

        def run(conn: Connection) -> None:
            for statement in statements:
                conn.execute(statement)

        self._backend.transact(run)

    def verify(self) -> None:
        current = self.current_version()
        if current < self.latest_version:
            raise SchemaError(
                f"the system database schema is at version {current}, but this build needs "
                f"version {self.latest_version}; run migrations (dbos migrate) first"
            )
