"""Test support: read and write the system tables behind DBOS's back; relaunch DBOS.

Tests inspect rows with plain sqlite3/psycopg rather than through dbos._storage, so that a bug
in the stores cannot hide itself from the test that should catch it.
"""

from __future__ import annotations

import base64
import pickle
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest

from dbos import DBOS, DBOSConfig

SQLITE_PREFIX = "sqlite:///"


class SystemTables:
    """Direct access to one test's system database (a SQLite file or a Postgres schema)."""

    def __init__(self, config: DBOSConfig) -> None:
        url = config["system_database_url"]
        assert url is not None
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.schema = config.get("dbos_system_schema")

    def execute(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one statement with ``?`` placeholders; rows come back as dicts."""
        if self.is_sqlite:
            conn = sqlite3.connect(self.url[len(SQLITE_PREFIX) :], timeout=30)
            try:
                cursor = conn.execute(query, tuple(params))
                rows = cursor.fetchall() if cursor.description else []
                names = [d[0] for d in cursor.description or ()]
                conn.commit()
            finally:
                conn.close()
        else:
            with psycopg.connect(
                self.url, autocommit=True, options=f"-c search_path={self.schema}"
            ) as conn:
                cursor = conn.execute(query.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]
                rows = cursor.fetchall() if cursor.description else []
                names = [d.name for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        rows = self.execute("SELECT * FROM workflow_status WHERE workflow_uuid = ?", (workflow_id,))
        return rows[0] if rows else None

    def workflows(self) -> list[dict[str, Any]]:
        return self.execute("SELECT * FROM workflow_status ORDER BY created_at, workflow_uuid")

    def steps(self, workflow_id: str) -> list[dict[str, Any]]:
        return self.execute(
            "SELECT * FROM checkpoints WHERE workflow_uuid = ? ORDER BY function_id",
            (workflow_id,),
        )

    def all_steps(self) -> list[dict[str, Any]]:
        return self.execute("SELECT * FROM checkpoints ORDER BY workflow_uuid, function_id")

    def force_pending(self, workflow_id: str) -> None:
        """Make a finished workflow look as if its process died mid-run."""
        self.execute(
            "UPDATE workflow_status SET status = 'PENDING', output = NULL, error = NULL, "
            "completed_at = NULL WHERE workflow_uuid = ?",
            (workflow_id,),
        )

    def wait_for_status(
        self, workflow_id: str, statuses: set[str], timeout_sec: float = 10.0
    ) -> dict[str, Any]:
        """Poll (with a deadline) until the workflow's row has one of ``statuses``."""
        deadline = time.monotonic() + timeout_sec
        while True:
            row = self.workflow(workflow_id)
            if row is not None and row["status"] in statuses:
                return row
            if time.monotonic() > deadline:
                pytest.fail(f"workflow {workflow_id} never reached {statuses}; row: {row}")
            time.sleep(0.01)


def pickled(value: Any) -> str:
    """A value as the default serializer stores it: pickle, then base64 text."""
    return base64.b64encode(pickle.dumps(value)).decode("ascii")


def unpickled(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def launch(config: DBOSConfig) -> None:
    """Construct and launch DBOS; register workflows first, as recovery must find them."""
    DBOS(config=config)
    DBOS.launch()


def relaunch(config: DBOSConfig) -> None:
    """Stop DBOS as a crash would leave it (registry kept) and launch it again: recovery runs."""
    DBOS.destroy()
    launch(config)


def wait_until(predicate: Callable[[], bool], timeout_sec: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_sec
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached before the deadline")
        time.sleep(0.01)
