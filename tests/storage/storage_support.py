"""Test support for the storage conformance suite: opening stores, building rows, schema dumps."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from dbos._storage.records import StepWrite, WorkflowInsert

SNAPSHOT_DIR = Path(__file__).parent
UPDATE_ENV = "DBOS_UPDATE_SCHEMA_SNAPSHOT"


def workflow(workflow_id: str, **overrides: Any) -> WorkflowInsert:
    """A PENDING workflow row as a direct start writes it; override any field."""
    fields: dict[str, Any] = {
        "workflow_id": workflow_id,
        "status": "PENDING",
        "name": "wf",
        "class_name": None,
        "config_name": None,
        "inputs": "inputs-" + workflow_id,
        "serialization": "py_pickle",
        "executor_id": "local",
        "application_version": "v1",
        "application_name": "app",
        "created_at": 1_000,
        "owner_xid": "owner-" + workflow_id,
    }
    fields.update(overrides)
    return WorkflowInsert(**fields)


def step(workflow_id: str, function_id: int, **overrides: Any) -> StepWrite:
    fields: dict[str, Any] = {
        "workflow_id": workflow_id,
        "function_id": function_id,
        "function_name": f"step-{function_id}",
        "output": f"output-{function_id}",
        "error": None,
        "serialization": "py_pickle",
        "child_workflow_id": None,
        "started_at_epoch_ms": 10 * function_id,
        "completed_at_epoch_ms": 10 * function_id + 5,
        "application_name": "app",
    }
    fields.update(overrides)
    return StepWrite(**fields)


def bookkeeping(workflow_id: str, function_id: int, name: str) -> StepWrite:
    """The checkpoint of an operation that records no output (set_event, write_stream)."""
    return step(workflow_id, function_id, function_name=name, output=None)


def snapshot_path(backend: str) -> Path:
    return SNAPSHOT_DIR / f"schema_{backend}.txt"


def dump_schema(url: str, schema: str) -> str:
    """Tables, columns, constraints and indexes, in a stable order, one fact a line."""
    if url.startswith("sqlite"):
        return _dump_sqlite(url[len("sqlite:///") :])
    return _dump_postgres(url, schema)


def _normalise(sql: str) -> str:
    return " ".join(sql.split())


def _dump_sqlite(path: str) -> str:
    lines: list[str] = []
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        for table in tables:
            lines.append(f"table {table}")
            for _, name, type_, notnull, default, pk in conn.execute(
                f'PRAGMA table_info("{table}")'
            ):
                lines.append(f"  column {name} {type_} notnull={notnull} default={default} pk={pk}")
            for fk in sorted(conn.execute(f'PRAGMA foreign_key_list("{table}")')):
                _, _, target, source_col, target_col, on_update, on_delete, _ = fk
                lines.append(
                    f"  foreign key ({source_col}) references {target}({target_col}) "
                    f"on update {on_update} on delete {on_delete}"
                )
            indexes = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "ORDER BY name",
                (table,),
            ).fetchall()
            for name, sql in indexes:
                columns = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
                unique = next(
                    r[2] for r in conn.execute(f'PRAGMA index_list("{table}")') if r[1] == name
                )
                definition = _normalise(sql) if sql else "(automatic)"
                lines.append(
                    f"  index {name} unique={unique} columns={','.join(columns)}: {definition}"
                )
    finally:
        conn.close()
    return "\n".join(lines) + "\n"


def _dump_postgres(url: str, schema: str) -> str:
    lines: list[str] = []

    def anonymous(text: str) -> str:
        return text.replace(f'"{schema}".', "<schema>.").replace(f"{schema}.", "<schema>.")

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s ORDER BY table_name",
                (schema,),
            )
        ]
        for table in tables:
            lines.append(f"table {table}")
            columns = conn.execute(
                "SELECT column_name, data_type, character_maximum_length, is_nullable, "
                "column_default FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, table),
            ).fetchall()
            for name, type_, length, nullable, default in columns:
                size = f"({length})" if length else ""
                lines.append(f"  column {name} {type_}{size} nullable={nullable} default={default}")
            constraints = conn.execute(
                "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "JOIN pg_class t ON t.oid = c.conrelid "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "WHERE n.nspname = %s AND t.relname = %s ORDER BY conname",
                (schema, table),
            ).fetchall()
            for name, definition in constraints:
                lines.append(f"  constraint {name}: {anonymous(definition)}")
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = %s AND tablename = %s ORDER BY indexname",
                (schema, table),
            ).fetchall()
            for name, definition in indexes:
                lines.append(f"  index {name}: {anonymous(definition)}")
        functions = conn.execute(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s "
            "ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        for name, arguments in functions:
            lines.append(f"function {name}({arguments})")
        triggers = conn.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        for name, table in triggers:
            lines.append(f"trigger {name} on {table}")
    return "\n".join(lines) + "\n"
