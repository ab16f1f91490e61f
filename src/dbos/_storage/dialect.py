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
    # Postgres can run an INSERT inside a WITH clause and read another table in the same
    # statement, which lets a checkpoint be one round trip.
    dml_in_cte: bool
    # Row locks for claims; SQLite serialises writers, so it needs none.
    skip_locked: str
    # Reads cost microseconds in-process on SQLite and a network round trip on Postgres,
    # which decides whether a step checks for cancellation with a read before it runs.
    cheap_reads: bool

    def sql(self, text: str) -> str:
        compiled = text.replace("{s}", self.table_prefix)
        if self.placeholder != "?":
            compiled = compiled.replace("%", "%%").replace("?", self.placeholder)
        return compiled


def sqlite_dialect() -> Dialect:
    return Dialect("sqlite", "", "?", dml_in_cte=False, skip_locked="", cheap_reads=True)


def postgres_dialect(schema: str) -> Dialect:
    return Dialect(
        "postgres",
        f'"{schema}".',
        "%s",
        dml_in_cte=True,
        skip_locked="FOR UPDATE SKIP LOCKED",
        cheap_reads=False,
    )
