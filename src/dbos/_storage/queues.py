"""QueueStore: moving workflows onto queues (recovery) and claiming them off queues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbos._storage.backend import Backend, Connection, Row, fetch_rows
from dbos._storage.records import ClaimedWorkflow

# Recovery never runs a workflow itself: it puts the row back on a queue, and whichever
# executor claims it replays it. The executor guard makes duplicate sweeps no-ops once a
# live executor has claimed the row.
REQUEUE_PENDING = """
UPDATE {s}workflow_status
SET status = 'ENQUEUED', queue_name = COALESCE(queue_name, ?), started_at_epoch_ms = NULL,
    updated_at = ?
WHERE status = 'PENDING' AND executor_id = ? AND application_version = ?
  AND (application_name = ? OR application_name IS NULL)
RETURNING workflow_uuid
"""

# Claim the oldest ENQUEUED rows of a queue, highest priority (lowest number) first.
# The redundant "status IN (...)" lets SQLite see that the partial in-flight index applies;
# without it SQLite scans the whole table on every claim. The
# picked set is a MATERIALIZED CTE so it is computed exactly once: as a plain IN-subquery,
# Postgres may re-run it and, with SKIP LOCKED, claim more rows than the limit. The guarded
# UPDATE is the real claim on SQLite; on Postgres SKIP LOCKED also keeps concurrent claimers
# from waiting on each other's rows.
CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT workflow_uuid FROM {s}workflow_status
    WHERE status IN ('ENQUEUED', 'PENDING') AND status = 'ENQUEUED' AND queue_name = ?
      AND (application_version = ? OR (application_version IS NULL AND ?))
      AND (application_name = ? OR application_name IS NULL)
    ORDER BY priority, created_at
    LIMIT ? {skip_locked})
UPDATE {s}workflow_status
SET status = 'PENDING', executor_id = ?, application_version = ?, application_name = ?,
    owner_xid = ?, started_at_epoch_ms = ?, updated_at = ?, rate_limited = ?,
    recovery_attempts = recovery_attempts + 1,
    workflow_deadline_epoch_ms = CASE
        WHEN workflow_timeout_ms IS NOT NULL AND workflow_deadline_epoch_ms IS NULL
        THEN ? + workflow_timeout_ms ELSE workflow_deadline_epoch_ms END
WHERE status = 'ENQUEUED' AND workflow_uuid IN (SELECT workflow_uuid FROM picked)
RETURNING workflow_uuid, name, recovery_attempts, priority, created_at
"""

# Workflows the limiter admitted whose start lies inside its window; finished ones count too.
COUNT_RATE_LIMITED = """
SELECT count(*) FROM {s}workflow_status
WHERE queue_name = ? AND rate_limited AND status NOT IN ('ENQUEUED', 'DELAYED')
  AND started_at_epoch_ms > ?
"""

# Delayed workflows whose time has come join their queue.
PROMOTE_DELAYED = """
UPDATE {s}workflow_status SET status = 'ENQUEUED', updated_at = ?
WHERE status = 'DELAYED' AND delay_until_epoch_ms <= ?
  AND (application_name = ? OR application_name IS NULL)
RETURNING queue_name
"""

# Only a DELAYED row's delay can be changed.
SET_DELAY = """
UPDATE {s}workflow_status SET delay_until_epoch_ms = ?, updated_at = ?
WHERE workflow_uuid = ? AND status = 'DELAYED'
RETURNING workflow_uuid
"""

COUNT_PENDING = """
SELECT count(*) FROM {s}workflow_status
WHERE queue_name = ? AND status IN ('ENQUEUED', 'PENDING') AND status = 'PENDING'
"""

# The dead-letter transition frees the row's queue slot and deduplication ID.
DEAD_LETTER = """
UPDATE {s}workflow_status
SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', queue_name = NULL, deduplication_id = NULL,
    started_at_epoch_ms = NULL, completed_at = ?, updated_at = ?
WHERE workflow_uuid = ? AND status = 'PENDING'
"""


@dataclass(frozen=True)
class SharedBudget:
    """Limits shared by every process serving a queue."""

    global_concurrency: int | None = None
    rate_limit: int | None = None
    rate_period_ms: int = 0

    @property
    def empty(self) -> bool:
        return self.global_concurrency is None and self.rate_limit is None


class QueueStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._requeue = sql(REQUEUE_PENDING)
        self._claim = sql(CLAIM).replace("{skip_locked}", backend.dialect.skip_locked)
        self._dead_letter = sql(DEAD_LETTER)
        self._count_pending = sql(COUNT_PENDING)
        self._count_rate_limited = sql(COUNT_RATE_LIMITED)
        self._promote_delayed = sql(PROMOTE_DELAYED)
        self._set_delay = sql(SET_DELAY)
        self._queue_lock = backend.dialect.queue_lock

    def requeue_pending(
        self, executor_id: str, app_version: str, app_name: str, queue_name: str, now_ms: int
    ) -> list[str]:
        params = (queue_name, now_ms, executor_id, app_version, app_name)
        return [r[0] for r in self._db.write_one(self._requeue, params)]

    def claim(
        self,
        queue_name: str,
        *,
        executor_id: str,
        app_version: str,
        app_name: str,
        limit: int,
        now_ms: int,
        owner: str,
        budget: SharedBudget | None = None,
        take_unversioned: bool = True,
    ) -> list[ClaimedWorkflow]:
        """Claim up to ``limit`` rows for this executor, stamping them with ``owner``.

        A shared ``budget`` (global concurrency, rate limit) is counted and spent in one
        transaction that excludes the queue's other claimers. Rows with no application
        version are taken only with ``take_unversioned`` (this executor runs the latest).
        """
        limited = budget is not None and budget.rate_limit is not None
        params = (
            queue_name, app_version, take_unversioned, app_name, limit,
            executor_id, app_version, app_name, owner, now_ms, now_ms, limited, now_ms,
        )  # fmt: skip
        if budget is None or budget.empty:
            claimed = self._db.write_one(self._claim, params)
        else:
            claimed = self._db.transact(
                lambda conn: self._claim_within(conn, queue_name, params, budget, now_ms)
            )
        claimed.sort(key=lambda r: (r[3], r[4]))
        return [ClaimedWorkflow(r[0], r[1], int(r[2]), owner, queue_name) for r in claimed]

    def _claim_within(
        self,
        conn: Connection,
        queue_name: str,
        params: tuple[Any, ...],
        budget: SharedBudget,
        now_ms: int,
    ) -> list[Row]:
        if self._queue_lock:
            conn.execute(self._queue_lock, (queue_name,))
        limit = params[4]
        if budget.global_concurrency is not None:
            pending = int(conn.execute(self._count_pending, (queue_name,)).fetchone()[0])
            limit = min(limit, budget.global_concurrency - pending)
        if budget.rate_limit is not None:
            window_start = now_ms - budget.rate_period_ms
            started = conn.execute(self._count_rate_limited, (queue_name, window_start))
            limit = min(limit, budget.rate_limit - int(started.fetchone()[0]))
        if limit <= 0:
            return []
        budgeted = (*params[:4], limit, *params[5:])
        return fetch_rows(conn.execute(self._claim, budgeted))

    def promote_delayed(self, app_name: str, now_ms: int) -> list[str]:
        """Move due DELAYED workflows onto their queues; returns those queues' names."""
        return [r[0] for r in self._db.write_one(self._promote_delayed, (now_ms, now_ms, app_name))]

    def set_delay(self, workflow_id: str, delay_until_epoch_ms: int, now_ms: int) -> bool:
        params = (delay_until_epoch_ms, now_ms, workflow_id)
        return bool(self._db.write_one(self._set_delay, params))

    def dead_letter(self, workflow_id: str, now_ms: int) -> None:
        self._db.write_one(self._dead_letter, (now_ms, now_ms, workflow_id))
