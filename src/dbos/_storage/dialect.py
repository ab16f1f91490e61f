"""Every difference between SQLite and Postgres that the stores need, named in one place.

Queries are written once, with ``?`` placeholders and ``{s}`` before each table name;
``Dialect.sql`` turns them into the backend's text once, at store construction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    # Prefix put before table names: '"dbos".' on Postgres, nothing on SQLite.
    table_prefix: str
    # Postgres drivers use %s; SQLite uses ?.
    placeholder: str
    # Row locks for claims; SQLite serialises writers, so it needs none.
    skip_locked: str
    # Serialises claimers of one queue for a transaction, so a shared budget (global
    # concurrency) is counted and spent atomically. SQLite's BEGIN IMMEDIATE already does.
    queue_lock: str = ""

    def sql(self, text: str) -> str:
        compiled = text.replace("{s}", self.table_prefix)
        if self.placeholder != "?":
            compiled = compiled.replace("%", "%%").replace("?", self.placeholder)
        return compiled


def sqlite_dialect() -> Dialect:
    return Dialect("sqlite", "", "?", skip_locked="")


def postgres_dialect(schema: str) -> Dialect:
    return Dialect(
        "postgres",
        f'"{schema}".',
        "%s",
        skip_locked="FOR UPDATE SKIP LOCKED",
        queue_lock="SELECT pg_advisory_xact_lock(hashtext(%s))",
    )
