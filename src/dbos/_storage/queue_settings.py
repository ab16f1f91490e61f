"""QueueSettingsStore: queues registered in the database, whose settings every process reads.

A row holds a queue's flow control; the columns map one to one onto QueueLimits, with the
limiters split into their two numbers. ``application_name`` owns the row (NULL: unclaimed,
everyone's). Names are unique across applications. A caller's ``app_name`` of None (a
client acting for no one application) reads and changes every application's queues, and
``COALESCE(?, application_name)`` is how the queries say so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from dbos._core.queue_rules import QueueLimits
from dbos._storage.backend import Backend, Connection
from dbos._storage.records import QueueRecord

_SETTINGS = (
    "concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec, priority_enabled, "
    "partition_queue, partition_concurrency, partition_worker_concurrency, "
    "partition_rate_limit_max, partition_rate_limit_period_sec, polling_interval_sec"
)
_COLUMNS = f"name, {_SETTINGS}, application_name, created_at, updated_at"

# A new queue, or nothing when the name is taken (by this application or another).
INSERT = f"""
INSERT INTO {{s}}queues (queue_id, {_SETTINGS}, name, application_name, created_at, updated_at)
VALUES ({", ".join("?" * 16)})
ON CONFLICT (name) DO NOTHING
RETURNING name
"""

# By name, whoever owns it: registering needs to see another application's queue to refuse.
GET = f"SELECT {_COLUMNS} FROM {{s}}queues WHERE name = ?"

LIST = f"""
SELECT {_COLUMNS} FROM {{s}}queues
WHERE application_name = COALESCE(?, application_name) OR application_name IS NULL
ORDER BY name
"""

# New settings for a queue of this application (or an unclaimed one, which it claims).
UPDATE = f"""
UPDATE {{s}}queues
SET ({_SETTINGS}) = ({", ".join("?" * 11)}),
    application_name = COALESCE(application_name, ?), updated_at = ?
WHERE name = ?
    AND (application_name = COALESCE(?, application_name) OR application_name IS NULL)
RETURNING name
"""

DELETE = """
DELETE FROM {s}queues
WHERE name = ? AND (application_name = COALESCE(?, application_name) OR application_name IS NULL)
RETURNING name
"""


def _limiter(limit: Any, period: Any) -> dict[str, Any] | None:
    return None if limit is None else {"limit": int(limit), "period": float(period)}


def _record(row: tuple[Any, ...]) -> QueueRecord:
    name, concurrency, worker, rate_max, rate_period, priority, legacy, *rest = row
    p_concurrency, p_worker, p_rate_max, p_rate_period, interval, owner, created, updated = rest
    limits = QueueLimits(
        global_concurrency=concurrency,
        worker_concurrency=worker,
        limiter=_limiter(rate_max, rate_period),
        partition_concurrency=p_concurrency,
        partition_worker_concurrency=p_worker,
        partition_limiter=_limiter(p_rate_max, p_rate_period),
        polling_interval_sec=float(interval),
        priority_enabled=bool(priority),
        partition_queue=bool(legacy),
    )
    return QueueRecord(name, limits, owner, int(created), int(updated))


def _columns(q: QueueLimits) -> tuple[Any, ...]:
    limiter, partition_limiter = q.limiter or {}, q.partition_limiter or {}
    return (
        q.global_concurrency, q.worker_concurrency, limiter.get("limit"), limiter.get("period"),
        q.priority_enabled, q.partition_queue, q.partition_concurrency,
        q.partition_worker_concurrency, partition_limiter.get("limit"),
        partition_limiter.get("period"), q.polling_interval_sec,
    )  # fmt: skip


class QueueSettingsStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._insert = sql(INSERT)
        self._get = sql(GET)
        self._get_for_update = sql(GET) + " " + backend.dialect.lock_row
        self._list = sql(LIST)
        self._update = sql(UPDATE)
        self._delete = sql(DELETE)

    def insert(self, name: str, limits: QueueLimits, app_name: str | None, now_ms: int) -> bool:
        """Register a new queue; False (and nothing changed) when the name is taken."""
        params = (str(uuid.uuid4()), *_columns(limits), name, app_name, now_ms, now_ms)
        return bool(self._db.write_one(self._insert, params))

    def get(self, name: str) -> QueueRecord | None:
        row = self._db.read_one(self._get, (name,))
        return None if row is None else _record(row)

    def list(self, app_name: str | None) -> list[QueueRecord]:
        """The queues of ``app_name`` and the unclaimed ones (every queue for None), by name."""
        return [_record(row) for row in self._db.read_all(self._list, (app_name,))]

    def update(self, name: str, limits: QueueLimits, app_name: str | None, now_ms: int) -> bool:
        """Overwrite the settings of a queue this application owns (or claim an unclaimed one)."""
        params = (*_columns(limits), app_name, now_ms, name, app_name)
        return bool(self._db.write_one(self._update, params))

    def change(
        self,
        name: str,
        app_name: str | None,
        change: Callable[[QueueLimits], QueueLimits],
        now_ms: int,
    ) -> QueueLimits | None:
        """Read, change and write a queue's settings atomically; None if it is not there.

        ``change`` may raise to refuse (its checks see the settings as they are now, never
        a concurrent writer's half), and then nothing is written.
        """

        def run(conn: Connection) -> QueueLimits | None:
            row = conn.execute(self._get_for_update, (name,)).fetchone()
            if row is None or (app_name is not None and row[12] not in (None, app_name)):
                return None
            changed = change(_record(row).limits)
            conn.execute(self._update, (*_columns(changed), app_name, now_ms, name, app_name))
            return changed

        return self._db.transact(run)

    def delete(self, name: str, app_name: str | None) -> bool:
        return bool(self._db.write_one(self._delete, (name, app_name)))
