"""WorkflowStore: inserting workflow rows, recording their outcomes, reading their state."""

from __future__ import annotations

from dbos._storage.backend import Backend
from dbos._storage.records import (
    WORKFLOW_COLUMNS,
    InsertOutcome,
    WorkflowInsert,
    WorkflowOutcome,
    WorkflowRow,
)
from dbos._storage.steps import PURGE_ORPHANS, purge_orphans

_INSERT_COLUMNS = (
    "workflow_uuid, status, name, class_name, config_name, inputs, serialization, executor_id, "
    "application_version, application_name, created_at, updated_at, owner_xid, "
    "recovery_attempts, queue_name, authenticated_user, assumed_role, authenticated_roles, "
    "workflow_timeout_ms, workflow_deadline_epoch_ms, deduplication_id, priority, "
    "queue_partition_key, parent_workflow_id, delay_until_epoch_ms, attributes, application_id, "
    "schedule_name"
)
_IDENTITY = "status, name, class_name, config_name, queue_name, workflow_deadline_epoch_ms"

# A new row, or nothing when the ID exists: the caller that created the row is the one that
# runs it, so re-invoking an ID never starts a second execution. {owner} is the owner_xid
# parameter, which a quiet enqueue wraps (Dialect.quiet_parameter).
INSERT = f"""
INSERT INTO {{s}}workflow_status ({_INSERT_COLUMNS})
VALUES ({", ".join("?" * 12)}, {{owner}}, {", ".join("?" * 15)})
ON CONFLICT (workflow_uuid) DO NOTHING
RETURNING {_IDENTITY}
"""

# The owner token tells a row this caller inserted (its first attempt committed, but the
# acknowledgement was lost and the backend retried) from one somebody else inserted.
GET_IDENTITY = f"SELECT {_IDENTITY}, owner_xid FROM {{s}}workflow_status WHERE workflow_uuid = ?"

# The outcome is written only while the row is PENDING and still owned by this run (the
# token its insert or claim stamped): a cancel, a dead-letter, a re-enqueue or another
# execution's outcome that landed first wins over this run's.
RECORD_OUTCOME = """
UPDATE {s}workflow_status
SET status = ?, output = ?, error = ?, updated_at = ?, completed_at = ?, deduplication_id = NULL
WHERE workflow_uuid = ? AND status = 'PENDING' AND owner_xid = ?
RETURNING workflow_uuid
"""

OWNS = """
SELECT 1 FROM {s}workflow_status WHERE workflow_uuid = ? AND status = 'PENDING' AND owner_xid = ?
"""

# Who holds a queue's deduplication ID (the unique index finds it).
DEDUPLICATION_HOLDER = """
SELECT workflow_uuid FROM {s}workflow_status WHERE queue_name = ? AND deduplication_id = ?
"""

GET_OUTCOME = (
    "SELECT status, output, error, serialization FROM {s}workflow_status WHERE workflow_uuid = ?"
)

GET_STATUS = "SELECT status FROM {s}workflow_status WHERE workflow_uuid = ?"

GET_ROW = f"SELECT {WORKFLOW_COLUMNS} FROM {{s}}workflow_status WHERE workflow_uuid = ?"


class WorkflowStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._insert = sql(INSERT).replace("{owner}", backend.dialect.placeholder)
        self._insert_quiet = sql(INSERT).replace("{owner}", backend.dialect.quiet_parameter)
        self._get_identity = sql(GET_IDENTITY)
        self._record_outcome = sql(RECORD_OUTCOME)
        self._owns = sql(OWNS)
        self._get_outcome = sql(GET_OUTCOME)
        self._deduplication_holder = sql(DEDUPLICATION_HOLDER)
        self._get_status = sql(GET_STATUS)
        self._get_row = sql(GET_ROW)
        self._purge_orphans = [sql(q) for q in PURGE_ORPHANS]

    def insert(self, w: WorkflowInsert, quiet: bool = False) -> InsertOutcome:
        """Insert ``w`` unless its ID exists; report which happened and the row's identity.

        ``quiet``: an ENQUEUED row does not notify other processes now (a notice follows).
        """
        insert = self._insert_quiet if quiet else self._insert
        params = (
            w.workflow_id, w.status, w.name, w.class_name, w.config_name, w.inputs,
            w.serialization, w.executor_id, w.application_version, w.application_name,
            w.created_at, w.created_at, w.owner_xid, w.recovery_attempts, w.queue_name,
            w.authenticated_user, w.assumed_role, w.authenticated_roles, w.workflow_timeout_ms,
            w.workflow_deadline_epoch_ms, w.deduplication_id, w.priority, w.queue_partition_key,
            w.parent_workflow_id, w.delay_until_epoch_ms, w.attributes, w.application_id,
            w.schedule_name,
        )  # fmt: skip
        while True:
            created = self._db.write_one(insert, params)
            if created:
                return InsertOutcome(True, *created[0])
            existing = self._db.read_one(self._get_identity, (w.workflow_id,))
            if existing is not None:
                return InsertOutcome(existing[-1] == w.owner_xid, *existing[:-1])
            # The conflicting row was deleted between the two statements: insert again.

    def record_outcome(
        self,
        workflow_id: str,
        status: str,
        output: str | None,
        error: str | None,
        now_ms: int,
        owner: str,
    ) -> bool:
        """True when this run's outcome was written; False when the run lost the row.

        A run that finds its row deleted also removes what it may have written after the
        delete (a checkpoint that raced it), so a later workflow with this ID replays none
        of it.
        """
        params = (status, output, error, now_ms, now_ms, workflow_id, owner)
        if self._db.write_one(self._record_outcome, params, shareable=True):
            return True
        if self.get_status(workflow_id) is None:
            purge_orphans(self._db, self._purge_orphans, workflow_id)
        return False

    def owns(self, workflow_id: str, owner: str) -> bool:
        """Whether the run holding ``owner`` may still record the workflow's outcome."""
        return self._db.read_one(self._owns, (workflow_id, owner)) is not None

    def deduplication_holder(self, queue_name: str, deduplication_id: str) -> str | None:
        """The workflow holding ``deduplication_id`` on ``queue_name``, if any does."""
        row = self._db.read_one(self._deduplication_holder, (queue_name, deduplication_id))
        return None if row is None else str(row[0])

    def get_outcome(self, workflow_id: str) -> WorkflowOutcome | None:
        row = self._db.read_one(self._get_outcome, (workflow_id,))
        return None if row is None else WorkflowOutcome(*row)

    def get_status(self, workflow_id: str) -> str | None:
        row = self._db.read_one(self._get_status, (workflow_id,))
        return None if row is None else str(row[0])

    def get(self, workflow_id: str) -> WorkflowRow | None:
        row = self._db.read_one(self._get_row, (workflow_id,))
        return None if row is None else WorkflowRow.from_row(row)
