"""StreamStore: append-only, ordered values per (workflow, key)."""

from __future__ import annotations

from typing import NamedTuple

from dbos._storage.backend import Backend, DuplicateKey
from dbos._storage.dialect import STREAMS_CHANNEL
from dbos._storage.records import RecordResult, StepWrite
from dbos._storage.steps import RETURNING_STATUS, StepStore


class StreamRead(NamedTuple):
    """The writer's status and the value at one offset (None: nothing there yet)."""

    workflow_status: str
    value: str | None
    serialization: str | None


# The offset is the next one after the stream's last, computed by the insert itself; two
# writers racing for an offset collide on the primary key and one of them retries. The last
# offset is read as ORDER BY ... LIMIT 1, one descent of the primary key: SQLite computes
# MAX("offset") under a WHERE by scanning every value of the stream. The casts let Postgres
# type the parameters of a SELECT list, so the statement can be prepared.
WRITE = """
INSERT INTO {s}streams (workflow_uuid, key, value, "offset", function_id, serialization)
SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
    COALESCE((SELECT "offset" FROM {s}streams WHERE workflow_uuid = ? AND key = ?
              ORDER BY "offset" DESC LIMIT 1), -1) + 1,
    CAST(? AS INTEGER), CAST(? AS TEXT)
{notify}
"""

# A value written by the workflow itself: the row is the operation's checkpoint (migration
# 11). Unlike an event's, its primary key does not hold the function ID, so the insert is
# guarded: it writes nothing when a checkpoint may already exist at this function ID. The
# cheap guard looks at the stream's last few values only: one execution writes in
# function-ID order, so a second execution of the same workflow finds the first one's
# value there, or later ones beyond it. Only concurrent writers inside one workflow (async
# steps, gathered writes) put a lower function ID after a higher one; when the cheap guard
# stops a write, EXACT_GUARD, which scans the stream, decides.
RECORD = (
    """
INSERT INTO {s}streams (workflow_uuid, key, value, "offset", function_id, serialization,
    function_name, completed_at_epoch_ms)
SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
    COALESCE((SELECT "offset" FROM {s}streams WHERE workflow_uuid = ? AND key = ?
              ORDER BY "offset" DESC LIMIT 1), -1) + 1,
    CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT)
WHERE {guard}
"""
    + RETURNING_STATUS
)

RECENT_GUARD = """NOT EXISTS (
    SELECT 1 FROM (SELECT function_id FROM {s}streams WHERE workflow_uuid = ? AND key = ?
                   ORDER BY "offset" DESC LIMIT 8) AS recent
    WHERE recent.function_id >= ?)"""

EXACT_GUARD = """NOT EXISTS (
    SELECT 1 FROM {s}streams WHERE workflow_uuid = ? AND key = ? AND function_id = ?
      AND function_name IS NOT NULL)"""

# The value and the writer's status as one statement sees them: a reader that finds the
# writer finished and no value at this offset knows no value will ever come.
READ = """
SELECT w.status, s.value, s.serialization
FROM {s}workflow_status w
LEFT JOIN {s}streams s ON s.workflow_uuid = w.workflow_uuid AND s.key = ? AND s."offset" = ?
WHERE w.workflow_uuid = ?
"""


def notify_stream(backend: Backend) -> str:
    """The clause that wakes readers of each stream a statement writes to."""
    return backend.dialect.notify(STREAMS_CHANNEL, "workflow_uuid || '::' || key")


class StreamStore:
    def __init__(self, backend: Backend, steps: StepStore) -> None:
        self._db = backend
        self._steps = steps
        sql = backend.dialect.sql
        self._write = sql(WRITE.replace("{notify}", notify_stream(backend)))
        notice = backend.dialect.notice(STREAMS_CHANNEL, "workflow_uuid || '::' || key")
        record = RECORD + (f", {notice}" if notice else "")
        self._record_recent = sql(record.replace("{guard}", RECENT_GUARD))
        self._record_exact = sql(record.replace("{guard}", EXACT_GUARD))
        self._read = sql(READ)

    def write(
        self, workflow_id: str, key: str, value: str, serialization: str, function_id: int
    ) -> None:
        """Append a value from inside a step (no checkpoint).

        DuplicateKey when a concurrent writer took the same offset.
        """
        params = (workflow_id, key, value, workflow_id, key, function_id, serialization)
        self._db.write_one(self._write, params)

    def record(self, s: StepWrite, key: str, value: str, serialization: str) -> RecordResult:
        """Append a value from the workflow itself, recorded as its own checkpoint ``s``.

        As StepStore.record_with: ``recorded`` is False when another execution recorded
        this function ID first; WorkflowGone when the workflow does not exist; DuplicateKey
        when a concurrent writer took the same offset.
        """
        wf, fid = s.workflow_id, s.function_id
        head = (wf, key, value, wf, key, fid, serialization, s.function_name)
        params = (*head, s.completed_at_epoch_ms, wf, key, fid, wf)
        result = self._steps.record_row(s, (self._record_recent, params))
        if result is None:
            result = self._steps.record_row(s, (self._record_exact, params))
        if result is None:
            raise DuplicateKey(f"stream {key!r}: a concurrent writer took the offset")
        return result

    def read(self, workflow_id: str, key: str, offset: int) -> StreamRead | None:
        """The value at ``offset`` and the writer's status; None if there is no such workflow."""
        row = self._db.read_one(self._read, (key, offset, workflow_id))
        return None if row is None else StreamRead(row[0], row[1], row[2])
