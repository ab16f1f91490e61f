"""Test support: who owns each row of the system tables, read behind DBOS's back.

Plain sqlite3/psycopg, so a bug in the stores cannot hide itself from the rename tests.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import psycopg

from dbos import DBOSConfig

TABLES = ("queues", "workflow_schedules", "application_versions", "workflow_status",
          "operation_outputs")  # fmt: skip


def read(config: DBOSConfig, query: str) -> list[tuple[Any, ...]]:
    """Run one statement (committed); its rows, if any."""
    url = config["system_database_url"]
    assert url is not None
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///") :], timeout=30)
        try:
            cursor = conn.execute(query)
            rows = list(cursor.fetchall()) if cursor.description else []
            conn.commit()
            return rows
        finally:
            conn.close()
    schema = config.get("dbos_system_schema")
    with psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}") as conn:
        cursor = conn.execute(query)  # type: ignore[arg-type]
        return list(cursor.fetchall()) if cursor.description else []


def owners(config: DBOSConfig) -> dict[str, Counter[str | None]]:
    """Per table, how many rows each application_name (None: unclaimed) owns."""
    return {
        table: Counter(r[0] for r in read(config, f"SELECT application_name FROM {table}"))
        for table in TABLES
    }
