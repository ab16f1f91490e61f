"""StepStore: checkpoints of the operations a workflow performed, and reading them back."""

from __future__ import annotations

from collections.abc import Sequence

from dbos._storage.backend import Backend, DuplicateKey, Statement, WorkflowGone
from dbos._storage.records import RecordResult, StepRow, StepWrite

_STEP_COLUMNS = "function_id, function_name, output, error, child_workflow_id, serialization"

# Checkpoints are read through the checkpoints view (migration 11): operation_outputs, and
# the event rows a workflow set itself, each of which is its own checkpoint.
LOAD = f"""
SELECT {_STEP_COLUMNS} FROM {{s}}checkpoints WHERE workflow_uuid = ? ORDER BY function_id
"""

GET = f"""
SELECT {_STEP_COLUMNS} FROM {{s}}checkpoints WHERE workflow_uuid = ? AND function_id = ?
"""

GET_COMPLETED_AT = """
SELECT completed_at_epoch_ms FROM {s}checkpoints WHERE workflow_uuid = ? AND function_id = ?
"""

# What a statement that writes a checkpoint returns first: the workflow's status as that
# statement sees it (NULL when the workflow does not exist).
RETURNING_STATUS = "RETURNING (SELECT status FROM {s}workflow_status WHERE workflow_uuid = ?)"

# The checkpoint, and the workflow's status as the same statement sees it: one round trip
# both records the step and tells whether the workflow was cancelled meanwhile. Nothing is
# returned when a row already exists at this function ID (another execution got there first).
RECORD = (
    """
INSERT INTO {s}operation_outputs (workflow_uuid, function_id, function_name, output, error,
    serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, application_name)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (workflow_uuid, function_id) DO NOTHING
"""
    + RETURNING_STATUS
)

# The same checkpoint without ON CONFLICT, for recording together with the operation it stands
# for: a row already at this function ID fails the statement, which rolls the operation back.
RECORD_STRICT = (
    """
INSERT INTO {s}operation_outputs (workflow_uuid, function_id, function_name, output, error,
    serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, application_name)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
    + RETURNING_STATUS
)

# A workflow's own writes (steps, events, stream values) carry no foreign key on Postgres
# (migration 8). A write that found no workflow row (its status reads NULL) commits an orphan;
# these remove it, and anything else that workflow left, when no row exists for it.
PURGE_ORPHANS = [
    f"DELETE FROM {{s}}{table} WHERE workflow_uuid = ? AND NOT EXISTS "
    "(SELECT 1 FROM {s}workflow_status WHERE workflow_uuid = ?)"
    for table in ("operation_outputs", "workflow_events_history", "streams")
]


def purge_orphans(db: Backend, compiled: Sequence[str], workflow_id: str) -> None:
    """Delete what was recorded for ``workflow_id`` if it has no workflow row.

    ``compiled``: PURGE_ORPHANS, compiled for ``db``'s dialect.
    """
    db.write_batch([(q, (workflow_id, workflow_id)) for q in compiled])


def missing_workflow(workflow_id: str) -> WorkflowGone:
    return WorkflowGone(f"workflow {workflow_id} does not exist")


class StepStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._record = sql(RECORD)
        self._load = sql(LOAD)
        self._get = sql(GET)
        self._get_completed_at = sql(GET_COMPLETED_AT)
        self._record_strict = sql(RECORD_STRICT)
        self._purge_orphans = [sql(q) for q in PURGE_ORPHANS]

    def load(self, workflow_id: str) -> dict[int, StepRow]:
        """Every recorded operation of a workflow, by function ID: what a replay needs."""
        return {r[0]: StepRow(*r) for r in self._db.read_all(self._load, (workflow_id,))}

    def get(self, workflow_id: str, function_id: int) -> StepRow | None:
        row = self._db.read_one(self._get, (workflow_id, function_id))
        return None if row is None else StepRow(*row)

    def record(self, s: StepWrite) -> RecordResult:
        """Record a checkpoint unless one exists at that function ID.

        ``recorded`` is False when another execution got there first; ``workflow_status`` is
        the workflow's status as the insert saw it (None when nothing was recorded).
        WorkflowGone when the workflow does not exist (nothing is left recorded).
        """
        return self.record_row(s, (self._record, (*s, s.workflow_id)))

    def strict_record(self, s: StepWrite) -> Statement:
        """The checkpoint as a statement that fails if the function ID is already recorded."""
        return self._record_strict, (*s, s.workflow_id)

    def record_with(self, s: StepWrite, operation: Sequence[Statement]) -> RecordResult:
        """Record a checkpoint and the writes of the operation it stands for, in one commit.

        The checkpoint goes first; if another execution already recorded this function ID,
        the whole transaction, the operation included, is rolled back and ``recorded`` is
        False. DuplicateKey from the operation's own statements is raised to the caller.
        """
        try:
            rows = self._db.write_batch([self.strict_record(s), *operation], shareable=True)
        except DuplicateKey:
            if self.completed_at(s.workflow_id, s.function_id) is None:
                raise
            return RecordResult(False, None)
        return self._recorded(s.workflow_id, rows[0][0])

    def record_row(self, s: StepWrite, statement: Statement) -> RecordResult:
        """Record ``s`` by running ``statement``, which writes its checkpoint row.

        The row is an operation_outputs row, or an operation's own row that is its
        checkpoint (an event, migration 11). ``statement`` writes nothing when a checkpoint
        exists at this function ID, and returns what RETURNING_STATUS returns. ``recorded``
        is False when it wrote nothing (another execution got there first).
        """
        rows = self._db.write_one(*statement, shareable=True)
        if not rows:
            return RecordResult(False, None)
        return self._recorded(s.workflow_id, rows[0][0])

    def _recorded(self, workflow_id: str, status: str | None) -> RecordResult:
        if status is None:
            purge_orphans(self._db, self._purge_orphans, workflow_id)
            raise missing_workflow(workflow_id)
        return RecordResult(True, status)

    def completed_at(self, workflow_id: str, function_id: int) -> int | None:
        row = self._db.read_one(self._get_completed_at, (workflow_id, function_id))
        return None if row is None else row[0]
