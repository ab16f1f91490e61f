"""EventStore: the key/value events a workflow publishes, kept as a history fork copies."""

from __future__ import annotations

from dbos._storage.backend import Backend
from dbos._storage.dialect import EVENTS_CHANNEL
from dbos._storage.records import RecordResult, StepWrite
from dbos._storage.steps import RETURNING_STATUS, StepStore

# Every value a key was given, by the function ID that gave it; the current value is the one
# with the highest function ID (the latest in the workflow's order). A fork from step N keeps
# the rows before N, and with them the values as they stood. A step that sets a key twice
# keeps its last value. One row per set_event, and no hot row updated again and again.
SET = """
INSERT INTO {s}workflow_events_history (workflow_uuid, function_id, key, value, serialization)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (workflow_uuid, key, function_id)
DO UPDATE SET value = excluded.value, serialization = excluded.serialization
{notify}
"""

# A set_event made by the workflow itself: the row is the operation's checkpoint (migration
# 11). It is written only where no checkpoint exists at its function ID: a second execution
# of the workflow meets the first one's marked row (the update's WHERE keeps it) or, if the
# two disagree about what that function ID is, a step's checkpoint. An unmarked row at the
# same key and function ID was set by no finished operation (a build from before migration
# 11 copied it in a fork, unmarked), so this one replaces it.
RECORD = (
    """
INSERT INTO {s}workflow_events_history AS h (workflow_uuid, function_id, key, value,
    serialization, function_name, completed_at_epoch_ms)
SELECT CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT),
    CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT)
WHERE NOT EXISTS (SELECT 1 FROM {s}operation_outputs WHERE workflow_uuid = ? AND function_id = ?)
ON CONFLICT (workflow_uuid, key, function_id) DO UPDATE
SET value = excluded.value, serialization = excluded.serialization,
    function_name = excluded.function_name, completed_at_epoch_ms = excluded.completed_at_epoch_ms
WHERE h.function_name IS NULL
"""
    + RETURNING_STATUS
)

GET = """
SELECT value, serialization FROM {s}workflow_events_history
WHERE workflow_uuid = ? AND key = ? ORDER BY function_id DESC LIMIT 1
"""

GET_ALL = """
SELECT h.key, h.value, h.serialization FROM {s}workflow_events_history h
WHERE h.workflow_uuid = ?
  AND h.function_id = (SELECT MAX(l.function_id) FROM {s}workflow_events_history l
                       WHERE l.workflow_uuid = h.workflow_uuid AND l.key = h.key)
ORDER BY h.key
"""


# The payload that names the waiters a written row wakes.
_NOTICE_KEY = "workflow_uuid || '::' || key"


def notify_event(backend: Backend) -> str:
    """The clause that wakes get_event waiters on each key a statement writes."""
    return backend.dialect.notify(EVENTS_CHANNEL, _NOTICE_KEY)


def _with_notice(backend: Backend, query: str) -> str:
    """``query``, whose RETURNING clause also wakes the waiters of the key it writes."""
    notice = backend.dialect.notice(EVENTS_CHANNEL, _NOTICE_KEY)
    return query + (f", {notice}" if notice else "")


class EventStore:
    def __init__(self, backend: Backend, steps: StepStore) -> None:
        self._db = backend
        self._steps = steps
        sql = backend.dialect.sql
        self._set = sql(SET.replace("{notify}", notify_event(backend)))
        self._record = sql(_with_notice(backend, RECORD))
        self._get = sql(GET)
        self._get_all = sql(GET_ALL)

    def set(
        self, workflow_id: str, key: str, value: str, serialization: str, function_id: int
    ) -> None:
        """Set a key from inside a step, whose function ID the row takes (no checkpoint)."""
        params = (workflow_id, function_id, key, value, serialization)
        self._db.write_one(self._set, params, shareable=True)

    def record(self, s: StepWrite, key: str, value: str, serialization: str) -> RecordResult:
        """A set_event from the workflow itself, recorded as its own checkpoint ``s``.

        As StepStore.record_with: ``recorded`` is False when another execution recorded this
        function ID first; WorkflowGone when the workflow does not exist.
        """
        wf, fid = s.workflow_id, s.function_id
        row = (wf, fid, key, value, serialization, s.function_name, s.completed_at_epoch_ms)
        return self._steps.record_row(s, (self._record, (*row, wf, fid, wf)))

    def get(self, workflow_id: str, key: str) -> tuple[str, str | None] | None:
        """The stored value of a key and its serialization, or None if it was never set."""
        row = self._db.read_one(self._get, (workflow_id, key))
        return None if row is None else (row[0], row[1])

    def get_all(self, workflow_id: str) -> list[tuple[str, str, str | None]]:
        return [(r[0], r[1], r[2]) for r in self._db.read_all(self._get_all, (workflow_id,))]
