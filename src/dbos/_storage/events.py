"""EventStore: the key/value events a workflow publishes, with the history fork copies."""

from __future__ import annotations

from dbos._storage.backend import Backend, Statement

# The latest value of a key wins.
SET = """
INSERT INTO {s}workflow_events (workflow_uuid, key, value, serialization)
VALUES (?, ?, ?, ?)
ON CONFLICT (workflow_uuid, key)
DO UPDATE SET value = excluded.value, serialization = excluded.serialization
"""

# Every value, by the function ID that set it, so a fork from step N can rebuild the events
# as they stood before N. A step that sets a key twice keeps its last value.
SET_HISTORY = """
INSERT INTO {s}workflow_events_history (workflow_uuid, function_id, key, value, serialization)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (workflow_uuid, key, function_id)
DO UPDATE SET value = excluded.value, serialization = excluded.serialization
"""

GET = "SELECT value, serialization FROM {s}workflow_events WHERE workflow_uuid = ? AND key = ?"

GET_ALL = """
SELECT key, value, serialization FROM {s}workflow_events WHERE workflow_uuid = ? ORDER BY key
"""


class EventStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._set = sql(SET)
        self._set_history = sql(SET_HISTORY)
        self._get = sql(GET)
        self._get_all = sql(GET_ALL)

    def set_statements(
        self, workflow_id: str, key: str, value: str, serialization: str, function_id: int
    ) -> list[Statement]:
        return [
            (self._set, (workflow_id, key, value, serialization)),
            (self._set_history, (workflow_id, function_id, key, value, serialization)),
        ]

    def set(
        self, workflow_id: str, key: str, value: str, serialization: str, function_id: int
    ) -> None:
        self._db.write_batch(
            self.set_statements(workflow_id, key, value, serialization, function_id)
        )

    def get(self, workflow_id: str, key: str) -> tuple[str, str | None] | None:
        """The stored value of a key and its serialization, or None if it was never set."""
        row = self._db.read_one(self._get, (workflow_id, key))
        return None if row is None else (row[0], row[1])

    def get_all(self, workflow_id: str) -> list[tuple[str, str, str | None]]:
        return [(r[0], r[1], r[2]) for r in self._db.read_all(self._get_all, (workflow_id,))]
