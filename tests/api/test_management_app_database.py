"""Management reaches the application database: transaction outcomes follow their workflows.

Uses the application-database fixtures of test_transactions (a SQLite file, or a schema of
the shared ``dbos_test_app`` database on Postgres, where ``transaction_outputs`` is shared:
every workflow ID here is unique, and GC cutoffs lie in 1970 so no other test's rows go).
"""

from __future__ import annotations

from typing import Any

import test_transactions
from system_tables import SystemTables, launch
from test_transactions import AppTables, insert_item, unique

from dbos import DBOS, DBOSConfig, SetWorkflowID

# The application-database fixtures, registered here under their own names.
app_url = test_transactions.app_url
app_config = test_transactions.app_config
app_tables = test_transactions.app_tables


def outputs(app_tables: AppTables, workflow_id: str) -> list[int]:
    rows = app_tables.execute(
        f"SELECT function_id FROM {app_tables.outputs} WHERE workflow_uuid = ? "
        "ORDER BY function_id",
        (workflow_id,),
    )
    return [r[0] for r in rows]


def define() -> tuple[list[str], Any]:
    calls: list[str] = []

    @DBOS.transaction()
    def record(name: str) -> int:
        calls.append(name)
        return insert_item(name)

    @DBOS.workflow()
    def two_records(prefix: str) -> int:
        record(prefix + "-1")
        return record(prefix + "-2")

    return calls, two_records


def test_delete_removes_the_workflows_transaction_outcomes(
    clean_dbos: None, app_config: DBOSConfig, app_tables: AppTables, system_tables: SystemTables
) -> None:
    _, two_records = define()
    launch(app_config)
    gone, kept = unique("gone"), unique("kept")
    for workflow_id in (gone, kept):
        with SetWorkflowID(workflow_id):
            two_records(workflow_id)
    assert outputs(app_tables, gone) == [1, 2]
    DBOS.delete_workflow(gone)
    assert outputs(app_tables, gone) == []
    assert outputs(app_tables, kept) == [1, 2]


def test_rewind_forgets_transaction_outcomes_from_the_start_step(
    clean_dbos: None, app_config: DBOSConfig, app_tables: AppTables, system_tables: SystemTables
) -> None:
    calls, two_records = define()
    launch(app_config)
    workflow_id = unique("rewound")
    with SetWorkflowID(workflow_id):
        two_records("a")
    app_tables.execute("DELETE FROM items WHERE name = 'a-2'")  # so the rerun can insert it
    assert DBOS.rewind_workflow(workflow_id, start_step=2).get_result() == 2
    assert calls == ["a-1", "a-2", "a-2"]  # the second transaction ran again, the first did not
    assert outputs(app_tables, workflow_id) == [1, 2]
    assert app_tables.names() == ["a-1", "a-2"]


def test_gc_deletes_old_outcomes_except_those_of_active_workflows(
    clean_dbos: None, app_config: DBOSConfig, app_tables: AppTables, system_tables: SystemTables
) -> None:
    _, two_records = define()
    launch(app_config)
    old, active = unique("old"), unique("active")
    with SetWorkflowID(old):
        two_records(old)
    with SetWorkflowID(active):
        two_records(active)
    system_tables.execute("UPDATE workflow_status SET created_at = 1")
    system_tables.execute(
        "UPDATE workflow_status SET status = 'PENDING' WHERE workflow_uuid = ?", (active,)
    )
    app_tables.execute(
        f"UPDATE {app_tables.outputs} SET created_at = 1 WHERE workflow_uuid IN (?, ?)",
        (old, active),
    )
    assert DBOS.garbage_collect(cutoff_epoch_timestamp_ms=1000) == 1
    assert outputs(app_tables, old) == []
    assert outputs(app_tables, active) == [1, 2]
