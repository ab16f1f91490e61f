"""StreamStore: append-only, ordered values per (workflow, key)."""

from __future__ import annotations

from typing import NamedTuple

from dbos._storage.backend import Backend, Statement
from dbos._storage.dialect import STREAMS_CHANNEL


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

# The same append at an offset the writer knows already (see dbos._runtime.stream_cursors):
# no descent for the last offset, which costs Postgres about 15 us of CPU per write. An offset
# somebody else took meanwhile collides on the primary key, as above.
WRITE_AT = """
INSERT INTO {s}streams (workflow_uuid, key, value, "offset", function_id, serialization)
VALUES (?, ?, ?, ?, ?, ?)
{notify}
"""

LAST_OFFSET = """
SELECT "offset" FROM {s}streams WHERE workflow_uuid = ? AND key = ?
ORDER BY "offset" DESC LIMIT 1
"""

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
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._write = sql(WRITE.replace("{notify}", notify_stream(backend)))
        self._write_at = sql(WRITE_AT.replace("{notify}", notify_stream(backend)))
        self._last_offset = sql(LAST_OFFSET)
        self._read = sql(READ)

    def write_statement(
        self,
        workflow_id: str,
        key: str,
        value: str,
        serialization: str,
        function_id: int,
        offset: int | None = None,
    ) -> Statement:
        """The append, at ``offset`` or (None) one past the stream's last value."""
        if offset is not None:
            return self._write_at, (workflow_id, key, value, offset, function_id, serialization)
        params = (workflow_id, key, value, workflow_id, key, function_id, serialization)
        return self._write, params

    def write(
        self,
        workflow_id: str,
        key: str,
        value: str,
        serialization: str,
        function_id: int,
        offset: int | None = None,
    ) -> None:
        """Append a value; DuplicateKey when a concurrent writer took the same offset."""
        statement = self.write_statement(
            workflow_id, key, value, serialization, function_id, offset
        )
        self._db.write_one(*statement, shareable=True)

    def last_offset(self, workflow_id: str, key: str) -> int:
        """The offset of the stream's last value; -1 when it has none."""
        row = self._db.read_one(self._last_offset, (workflow_id, key))
        return -1 if row is None else int(row[0])

    def read(self, workflow_id: str, key: str, offset: int) -> StreamRead | None:
        """The value at ``offset`` and the writer's status; None if there is no such workflow."""
        row = self._db.read_one(self._read, (key, offset, workflow_id))
        return None if row is None else StreamRead(row[0], row[1], row[2])
