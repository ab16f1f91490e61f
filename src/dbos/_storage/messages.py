"""MessageStore: the mailbox of each workflow (send, and the receive that consumes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dbos._storage.backend import Backend, Connection, Statement, fetch_rows
from dbos._storage.dialect import MESSAGES_CHANNEL
from dbos._storage.records import StepWrite
from dbos._storage.steps import StepStore, missing_workflow


class MessageWrite(NamedTuple):
    message_uuid: str
    destination_id: str
    topic: str
    message: str
    serialization: str


class Received(NamedTuple):
    """A consumed message, exactly as stored, and its workflow's status at that moment."""

    message: str
    serialization: str | None
    workflow_status: str | None


# A message already delivered under the same UUID (an idempotency key) is not sent again.
# One statement inserts a batch's rows in order, which is the order they are received in.
SEND = """
INSERT INTO {s}notifications (message_uuid, destination_uuid, topic, message, serialization,
    consumed, created_at_epoch_ms)
VALUES {rows}
ON CONFLICT (message_uuid) DO NOTHING
{notify}
"""
SEND_ROW = "(?, ?, ?, ?, ?, FALSE, ?)"
# Rows per statement: 6 parameters each stays well under SQLite's 32,766 and Postgres's 65,535.
SEND_CHUNK = 4000

# The waiter's cheap check, on a read connection: is there anything to consume?
HAS_UNCONSUMED = """
SELECT 1 FROM {s}notifications
WHERE destination_uuid = ? AND topic = ? AND consumed = FALSE
LIMIT 1
"""

# Marks the oldest unconsumed message consumed and returns it. Messages are never deleted.
CONSUME_OLDEST = """
UPDATE {s}notifications SET consumed = TRUE
WHERE message_uuid = (
    SELECT message_uuid FROM {s}notifications
    WHERE destination_uuid = ? AND topic = ? AND consumed = FALSE
    ORDER BY created_at_epoch_ms, {order}
    LIMIT 1 {skip_locked}
)
RETURNING message, serialization
"""

# send_to_forks: the destination and every workflow forked from it, transitively.
FORKS_OF = """
WITH RECURSIVE family(workflow_uuid) AS (
    SELECT workflow_uuid FROM {s}workflow_status WHERE workflow_uuid = ?
    UNION
    SELECT w.workflow_uuid FROM {s}workflow_status w
    JOIN family f ON w.forked_from = f.workflow_uuid
)
SELECT workflow_uuid FROM family
"""

EXISTING = "SELECT workflow_uuid FROM {s}workflow_status WHERE workflow_uuid IN ({ids})"


class MessageStore:
    def __init__(self, backend: Backend, steps: StepStore) -> None:
        self._db = backend
        self._steps = steps
        dialect = backend.dialect
        sql = dialect.sql
        # The insert for a batch of n messages, by n (one placeholder row per message).
        self._send: dict[int, str] = {}
        self._has_unconsumed = sql(HAS_UNCONSUMED)
        consume = CONSUME_OLDEST.replace("{order}", dialect.insertion_order)
        self._consume = sql(consume.replace("{skip_locked}", dialect.skip_locked))
        self._forks_of = sql(FORKS_OF)
        self._notify = dialect.notify(MESSAGES_CHANNEL, "destination_uuid || '::' || topic")

    def send_statements(self, messages: Sequence[MessageWrite], now_ms: int) -> list[Statement]:
        statements: list[Statement] = []
        for start in range(0, len(messages), SEND_CHUNK):
            chunk = messages[start : start + SEND_CHUNK]
            if len(chunk) not in self._send:
                rows = ", ".join(SEND_ROW for _ in chunk)
                send = SEND.replace("{rows}", rows).replace("{notify}", self._notify)
                self._send[len(chunk)] = self._db.dialect.sql(send)
            params = [p for m in chunk for p in (*m, now_ms)]
            statements.append((self._send[len(chunk)], params))
        return statements

    def send(self, messages: Sequence[MessageWrite], now_ms: int) -> None:
        """Deliver messages in one transaction; MissingReference if a destination is absent."""
        if messages:
            self._db.write_batch(self.send_statements(messages, now_ms))

    def family_of(self, workflow_id: str) -> list[str]:
        """``workflow_id`` (if it exists) and every workflow forked from it, recursively."""
        return [r[0] for r in self._db.read_all(self._forks_of, (workflow_id,))]

    def missing(self, workflow_ids: Sequence[str]) -> list[str]:
        """Which of ``workflow_ids`` have no workflow, in the order given."""
        unique = list(dict.fromkeys(workflow_ids))
        marks = ", ".join("?" for _ in unique)
        query = self._db.dialect.sql(EXISTING.replace("{ids}", marks))
        found = {r[0] for r in self._db.read_all(query, unique)}
        return [w for w in unique if w not in found]

    def has_unconsumed(self, workflow_id: str, topic: str) -> bool:
        return self._db.read_one(self._has_unconsumed, (workflow_id, topic)) is not None

    def consume(self, workflow_id: str, topic: str, checkpoint: StepWrite) -> Received | None:
        """Consume the oldest unconsumed message and checkpoint it, in one transaction.

        ``checkpoint`` is the receive's step row; its output is replaced with the message as
        stored, so a replay decodes exactly what was sent. Nothing is written when there is
        no message. DuplicateKey means the function ID was already recorded (and the
        message was left unconsumed).
        """

        def run(conn: Connection) -> Received | None:
            rows = fetch_rows(conn.execute(self._consume, (workflow_id, topic)))
            if not rows:
                return None
            message, serialization = rows[0]
            write = checkpoint._replace(output=message, serialization=serialization)
            query, params = self._steps.strict_record(write)
            status = fetch_rows(conn.execute(query, params))[0][0]
            if status is None:  # the receiver was deleted: leave its mailbox as it was
                raise missing_workflow(workflow_id)
            return Received(message, serialization, status)

        return self._db.transact(run)
