"""StepStore: checkpoints of the operations a workflow performed, and reading them back."""

from __future__ import annotations

from dbos._storage.backend import Backend
from dbos._storage.records import RecordResult, StepRow, StepWrite

_STEP_COLUMNS = "function_id, function_name, output, error, child_workflow_id, serialization"

LOAD = f"""
SELECT {_STEP_COLUMNS} FROM {{s}}operation_outputs WHERE workflow_uuid = ? ORDER BY function_id
"""

GET = f"""
SELECT {_STEP_COLUMNS} FROM {{s}}operation_outputs WHERE workflow_uuid = ? AND function_id = ?
"""

GET_COMPLETED_AT = """
SELECT completed_at_epoch_ms FROM {s}operation_outputs WHERE workflow_uuid = ? AND function_id = ?
"""

_INSERT = """
INSERT INTO {s}operation_outputs (workflow_uuid, function_id, function_name, output, error,
    serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, application_name)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (workflow_uuid, function_id) DO NOTHING
RETURNING 1
"""

# Postgres: the checkpoint and a read of the workflow's status in one statement, so one round
# trip both records the step and tells whether the workflow was cancelled meanwhile.
RECORD_WITH_STATUS = f"""
WITH ins AS ({_INSERT.strip()})
SELECT (SELECT count(*) FROM ins), (SELECT status FROM {{s}}workflow_status WHERE workflow_uuid = ?)
"""

# The status and the recorded step at one function ID, in one cheap read (SQLite's pre-check).
CHECK = """
SELECT ws.status, oo.function_name, oo.output, oo.error, oo.child_workflow_id, oo.serialization
FROM {s}workflow_status ws
LEFT JOIN {s}operation_outputs oo ON oo.workflow_uuid = ws.workflow_uuid AND oo.function_id = ?
WHERE ws.workflow_uuid = ?
"""


class StepStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._with_status = backend.dialect.dml_in_cte
        self._record = sql(RECORD_WITH_STATUS if self._with_status else _INSERT)
        self._load = sql(LOAD)
        self._get = sql(GET)
        self._get_completed_at = sql(GET_COMPLETED_AT)
        self._check = sql(CHECK)

    def load(self, workflow_id: str) -> dict[int, StepRow]:
        """Every recorded operation of a workflow, by function ID: what a replay needs."""
        return {r[0]: StepRow(*r) for r in self._db.read_all(self._load, (workflow_id,))}

    def get(self, workflow_id: str, function_id: int) -> StepRow | None:
        row = self._db.read_one(self._get, (workflow_id, function_id))
        return None if row is None else StepRow(*row)

    def check(self, workflow_id: str, function_id: int) -> tuple[str | None, StepRow | None]:
        """The workflow's status and the step recorded at ``function_id``, if any."""
        row = self._db.read_one(self._check, (function_id, workflow_id))
        if row is None:
            return None, None
        if row[1] is None:
            return row[0], None
        return row[0], StepRow(function_id, *row[1:])

    def record(self, s: StepWrite) -> RecordResult:
        """Record a checkpoint unless one exists at that function ID.

        ``recorded`` is False when another execution got there first. ``workflow_status`` is
        the status seen by the same statement where the dialect can read it for free, else None.
        """
        params = [
            s.workflow_id, s.function_id, s.function_name, s.output, s.error, s.serialization,
            s.child_workflow_id, s.started_at_epoch_ms, s.completed_at_epoch_ms,
            s.application_name,
        ]  # fmt: skip
        if self._with_status:
            params.append(s.workflow_id)
            count, status = self._db.write_one(self._record, params)[0]
            return RecordResult(bool(count), status)
        return RecordResult(bool(self._db.write_one(self._record, params)), None)

    def completed_at(self, workflow_id: str, function_id: int) -> int | None:
        row = self._db.read_one(self._get_completed_at, (workflow_id, function_id))
        return None if row is None else row[0]
