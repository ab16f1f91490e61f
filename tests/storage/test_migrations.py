"""Migrations: applied once, idempotent, safe to race, and producing the snapshot schema."""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable

import pytest
from storage_support import UPDATE_ENV, dump_schema, snapshot_path, workflow

from dbos._storage.migrator import SchemaError
from dbos._storage.system_database import SystemDatabase

REGENERATE = f"{UPDATE_ENV}=1 .venv/bin/pytest tests/storage/test_migrations.py -k snapshot"


def test_migrating_a_fresh_database_applies_every_migration_once(
    open_db: Callable[[], SystemDatabase],
) -> None:
    db = open_db()
    migrator = db.migrator
    assert migrator.current_version() == 0
    assert migrator.migrate() == len(migrator.migrations)
    assert migrator.current_version() == migrator.latest_version
    migrator.verify()


def test_migrating_twice_is_a_no_op(
    open_db: Callable[[], SystemDatabase], system_database_url: str, pg_schema: str
) -> None:
    db = open_db()
    db.migrator.migrate()
    before = dump_schema(system_database_url, pg_schema)
    assert db.migrator.migrate() == 0
    assert open_db().migrator.migrate() == 0  # a new process sees the same
    assert dump_schema(system_database_url, pg_schema) == before
    marker = db.backend.read_all(db.dialect.sql("SELECT version FROM {s}dbos_migrations"))
    assert marker == [(db.migrator.latest_version,)]


def test_verify_refuses_an_unmigrated_database(open_db: Callable[[], SystemDatabase]) -> None:
    with pytest.raises(SchemaError):
        open_db().migrator.verify()


def test_a_database_ahead_of_this_build_is_left_alone(
    open_db: Callable[[], SystemDatabase],
) -> None:
    db = open_db()
    db.migrator.migrate()
    ahead = db.migrator.latest_version + 5
    db.backend.write_one(db.dialect.sql("UPDATE {s}dbos_migrations SET version = ?"), (ahead,))
    assert db.migrator.migrate() == 0
    db.migrator.verify()
    assert db.migrator.current_version() == ahead


def test_concurrent_migrations_apply_each_migration_exactly_once(
    open_db: Callable[[], SystemDatabase],
) -> None:
    databases = [open_db() for _ in range(6)]
    barrier = threading.Barrier(len(databases))
    applied: list[int] = []
    errors: list[BaseException] = []

    def migrate(db: SystemDatabase) -> None:
        barrier.wait()
        try:
            applied.append(db.migrator.migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(applied) == [0] * (len(databases) - 1) + [len(databases[0].migrator.migrations)]
    assert databases[0].migrator.current_version() == databases[0].migrator.latest_version


def test_the_migrated_schema_matches_the_snapshot(
    db: SystemDatabase, backend: str, system_database_url: str, pg_schema: str
) -> None:
    actual = dump_schema(system_database_url, pg_schema)
    path = snapshot_path(backend)
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(actual, encoding="utf-8")
        pytest.skip(f"wrote {path}")
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(path),
                tofile="migrated database",
            )
        )
        pytest.fail(
            f"The {backend} schema differs from {path.name}:\n{diff}\n"
            f"If the change is intended, regenerate the snapshot with:\n  {REGENERATE}"
        )


def test_events_keep_their_history_and_current_values_across_migration_7(
    open_db: Callable[[], SystemDatabase],
) -> None:
    """0007 drops the current-value table: the history it keeps must carry the values."""
    db = open_db()
    everything = db.migrator.migrations
    db.migrator.migrations = [m for m in everything if m.version < 7]
    db.migrator.migrate()
    db.workflows.insert(workflow("wf"))
    sql = db.backend.dialect.sql
    for function_id, key, value in ((1, "k", "old"), (2, "j", "j"), (3, "k", "new")):
        db.backend.write_one(
            sql(
                "INSERT INTO {s}workflow_events_history "
                "(workflow_uuid, function_id, key, value, serialization) VALUES (?, ?, ?, ?, 'x')"
            ),
            ("wf", function_id, key, value),
        )
    db.migrator.migrations = everything
    assert db.migrator.migrate() == len([m for m in everything if m.version >= 7])
    assert db.events.get("wf", "k") == ("new", "x")  # the latest write wins
    assert db.events.get_all("wf") == [("j", "j", "x"), ("k", "new", "x")]
    old_name = db.backend.read_all(
        sql("SELECT key, value FROM {s}workflow_events WHERE workflow_uuid = ? ORDER BY key"),
        ("wf",),
    )
    assert old_name == [("j", "j"), ("k", "new")]  # the view under the old table's name


def test_steps_events_and_streams_are_carried_across_migrations_8_to_11(
    open_db: Callable[[], SystemDatabase],
) -> None:
    """8 and 10 rebuild or re-key the checkpoint tables: what they held must survive, and
    deleting a workflow must still delete its rows. A set_event or write_stream from before
    11 (a checkpoint beside an unmarked event or stream row) still loads exactly once."""
    db = open_db()
    everything = db.migrator.migrations
    db.migrator.migrations = [m for m in everything if m.version < 8]
    db.migrator.migrate()
    sql = db.backend.dialect.sql
    rows = {  # as this build's code would write them, in the old schema (no notify clause)
        "INSERT INTO {s}operation_outputs (workflow_uuid, function_id, function_name) "
        "VALUES (?, ?, 'f')": [(1,), (2,), (3,)],
        "INSERT INTO {s}workflow_events_history (workflow_uuid, function_id, key, value, "
        "serialization) VALUES (?, ?, 'k', 'v', 'x')": [(2,)],
        'INSERT INTO {s}streams (workflow_uuid, key, value, "offset", function_id, '
        "serialization) VALUES (?, 's', 'v0', 0, ?, 'x')": [(3,)],
    }
    for wf in ("wf", "other"):
        db.workflows.insert(workflow(wf))
        for query, function_ids in rows.items():
            for (function_id,) in function_ids:
                db.backend.write_one(sql(query), (wf, function_id))
    db.migrator.migrations = everything
    assert db.migrator.migrate() == len([m for m in everything if m.version >= 8])
    assert sorted(db.steps.load("wf")) == [1, 2, 3]
    assert db.events.get("wf", "k") == ("v", "x")
    stream = db.streams.read("wf", "s", 0)
    assert stream is not None and stream.value == "v0"
    db.backend.write_one(
        db.dialect.sql("DELETE FROM {s}workflow_status WHERE workflow_uuid = ?"), ("wf",)
    )
    assert db.steps.load("wf") == {}
    assert db.events.get("wf", "k") is None
    streams = sql("SELECT COUNT(*) FROM {s}streams WHERE workflow_uuid = ?")
    assert db.backend.read_one(streams, ("wf",)) == (0,)
    assert db.backend.read_one(streams, ("other",)) == (1,)
    assert sorted(db.steps.load("other")) == [1, 2, 3]
