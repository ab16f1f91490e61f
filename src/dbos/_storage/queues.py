"""QueueStore: moving workflows onto queues (recovery) and claiming them off queues.

A partitioned queue is claimed partition by partition, each held to its own limits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbos._core.queue_rules import PartitionLimits, partition_room, share_budget
from dbos._storage.backend import Backend, Connection, Row, fetch_rows
from dbos._storage.records import ClaimedWorkflow

logger = logging.getLogger("dbos")

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

# What a claim returns of each row: enough to order the batch and to run each workflow,
# so that dispatching it needs no second read of the row (ClaimedWorkflow, in this order);
# and whether it has checkpoints at all, so that a fresh workflow's are not read. That test
# names the checkpoints view's tables one by one: SQLite does not push a correlated term
# into a UNION ALL view (it would scan both tables for every row claimed), and it stops at
# the first true WHEN of a CASE, where it would evaluate both sides of an OR.
CLAIMED_COLUMNS = (
    "workflow_uuid, name, recovery_attempts, queue_partition_key, class_name, config_name, "
    "inputs, serialization, authenticated_user, assumed_role, authenticated_roles, "
    "workflow_deadline_epoch_ms, CASE "
    "WHEN EXISTS (SELECT 1 FROM {s}operation_outputs AS o "
    "WHERE o.workflow_uuid = {s}workflow_status.workflow_uuid) THEN 1 "
    "WHEN EXISTS (SELECT 1 FROM {s}workflow_events_history AS e "
    "WHERE e.workflow_uuid = {s}workflow_status.workflow_uuid "
    "AND e.function_name IS NOT NULL) THEN 1 "
    "ELSE 0 END, priority, created_at"
)

# Claim the oldest ENQUEUED rows of a queue, highest priority (lowest number) first.
# The redundant "status IN (...)" lets SQLite see that the partial in-flight index applies;
# without it SQLite scans the whole table on every claim. The
# picked set is a MATERIALIZED CTE so it is computed exactly once: as a plain IN-subquery,
# Postgres may re-run it and, with SKIP LOCKED, claim more rows than the limit. The guarded
# UPDATE is the real claim on SQLite; on Postgres SKIP LOCKED also keeps concurrent claimers
# from waiting on each other's rows. {partition} narrows it to one partition of the queue.
CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT workflow_uuid FROM {s}workflow_status
    WHERE status IN ('ENQUEUED', 'PENDING') AND status = 'ENQUEUED' AND queue_name = ?
      {partition}
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
RETURNING {claimed}
"""
# The partition filter names "IS NOT NULL" so that both databases see the partial
# partition index applies.
ONE_PARTITION = "AND queue_partition_key = ? AND queue_partition_key IS NOT NULL"

# What an earlier attempt of this very claim took: its rows carry the claim's owner token.
# A claim retried after a lost acknowledgement (the commit landed, the answer did not)
# returns these instead of claiming again, so no row is left PENDING with nobody running
# it. The in-flight index bounds the search to the queue's PENDING rows.
CLAIMED_BY = """
SELECT {claimed} FROM {s}workflow_status
WHERE status IN ('ENQUEUED', 'PENDING') AND status = 'PENDING' AND queue_name = ?
  AND owner_xid = ?
"""

# The partitions of a queue that have ENQUEUED rows this executor may take, in key order
# from a starting key ({op} is ">=" or ">"): a loose index scan, one index probe per
# partition, however many rows each partition holds.
_NEXT_PARTITION = """(
    SELECT queue_partition_key FROM {s}workflow_status
    WHERE status IN ('ENQUEUED', 'PENDING') AND status = 'ENQUEUED' AND queue_name = ?
      AND queue_partition_key IS NOT NULL AND queue_partition_key {op} {after}
      AND (application_version = ? OR (application_version IS NULL AND ?))
      AND (application_name = ? OR application_name IS NULL)
    ORDER BY queue_partition_key LIMIT 1)"""
PARTITIONS = f"""
WITH RECURSIVE keys(k) AS (
    SELECT {_NEXT_PARTITION.replace("{after}", "?")}
    UNION ALL
    SELECT {_NEXT_PARTITION.replace("{after}", "keys.k").replace("{op}", ">")}
    FROM keys WHERE keys.k IS NOT NULL)
SELECT k FROM keys WHERE k IS NOT NULL LIMIT ?
"""

# PENDING rows per partition, for partition concurrency.
COUNT_PENDING_BY_PARTITION = """
SELECT queue_partition_key, count(*) FROM {s}workflow_status
WHERE status IN ('ENQUEUED', 'PENDING') AND status = 'PENDING' AND queue_name = ?
  AND queue_partition_key IS NOT NULL
GROUP BY queue_partition_key
"""

# Starts inside the partition limiter's window, per partition.
COUNT_RATE_LIMITED_BY_PARTITION = """
SELECT queue_partition_key, count(*) FROM {s}workflow_status
WHERE queue_name = ? AND rate_limited AND status NOT IN ('ENQUEUED', 'DELAYED')
  AND started_at_epoch_ms > ? AND queue_partition_key IS NOT NULL
GROUP BY queue_partition_key
"""

# Workflows the limiter admitted whose start lies inside its window; finished ones count too.
COUNT_RATE_LIMITED = """
SELECT count(*) FROM {s}workflow_status
WHERE queue_name = ? AND rate_limited AND status NOT IN ('ENQUEUED', 'DELAYED')
  AND started_at_epoch_ms > ?
"""

# Delayed workflows whose time has come join their queue. A debounced workflow lets go of
# its deduplication ID as it does, so that the next call with the same key starts anew.
PROMOTE_DELAYED = """
UPDATE {s}workflow_status SET status = 'ENQUEUED', updated_at = ?,
    deduplication_id = CASE WHEN is_debounced THEN NULL ELSE deduplication_id END
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


@dataclass(frozen=True)
class PartitionBudget:
    """Limits each partition of a partitioned queue is held to.

    ``running_here`` counts each partition's workflows running in this process, for the
    per-partition worker limit.
    """

    limits: PartitionLimits
    running_here: Mapping[str, int] = field(default_factory=dict)


# At most this many partitions are considered per claim; beyond it, later claims go on
# from where this one stopped, so no partition waits forever behind the others.
MAX_PARTITIONS_PER_CLAIM = 4096


@dataclass(frozen=True)
class _ClaimRequest:
    queue_name: str
    filters: tuple[Any, ...]  # application version, take unversioned rows, application
    stamp: tuple[Any, ...]  # what the claim writes on each row it takes
    limit: int
    now_ms: int
    budget: SharedBudget
    partitions: PartitionBudget | None

    def params(self, limit: int, *partition: str) -> tuple[Any, ...]:
        return (self.queue_name, *partition, *self.filters, limit, *self.stamp)

    @property
    def locks_queue(self) -> bool:
        """Whether some limit is counted in the database and so must be spent atomically."""
        return not self.budget.empty or (
            self.partitions is not None and self.partitions.limits.shared
        )


class QueueStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        dialect = backend.dialect
        sql = dialect.sql
        claim = sql(CLAIM).replace("{skip_locked}", dialect.skip_locked)
        claim = claim.replace("{claimed}", sql(CLAIMED_COLUMNS))
        self._requeue = sql(REQUEUE_PENDING)
        self._claim = claim.replace("{partition}", "")
        self._claim_partition = claim.replace("{partition}", sql(ONE_PARTITION))
        self._claimed_by = sql(CLAIMED_BY).replace("{claimed}", sql(CLAIMED_COLUMNS))
        self._partitions_from = sql(PARTITIONS.replace("{op}", ">="))
        self._partitions_after = sql(PARTITIONS.replace("{op}", ">"))
        self._count_pending_by_partition = sql(COUNT_PENDING_BY_PARTITION)
        self._count_rate_limited_by_partition = sql(COUNT_RATE_LIMITED_BY_PARTITION)
        self._dead_letter = sql(DEAD_LETTER)
        self._count_pending = sql(COUNT_PENDING)
        self._count_rate_limited = sql(COUNT_RATE_LIMITED)
        self._promote_delayed = sql(PROMOTE_DELAYED)
        self._set_delay = sql(SET_DELAY)
        self._queue_lock = dialect.queue_lock
        self._announce = dialect.announce_queue
        # Where the next claim of each queue resumes its walk over the partitions.
        self._partition_cursor: dict[str, str] = {}
        self._random = random.Random()

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
        partitions: PartitionBudget | None = None,
    ) -> list[ClaimedWorkflow]:
        """Claim up to ``limit`` rows for this executor, stamping them with ``owner``.

        ``owner`` must be fresh for each claim: a claim retried after a lost acknowledgement
        recognises the rows its first attempt took by it, and returns those.

        A shared ``budget`` (global concurrency, rate limit) is counted and spent in one
        transaction that excludes the queue's other claimers. Rows with no application
        version are taken only with ``take_unversioned`` (this executor runs the latest).
        With ``partitions``, the queue is claimed partition by partition, each held to its
        own limits, the partitions taking turns; rows without a partition key wait.
        """
        budget = budget or SharedBudget()
        limited = budget.rate_limit is not None or (
            partitions is not None and partitions.limits.limiter is not None
        )
        request = _ClaimRequest(
            queue_name,
            (app_version, take_unversioned, app_name),
            (executor_id, app_version, app_name, owner, now_ms, now_ms, limited, now_ms),
            limit,
            now_ms,
            budget,
            partitions,
        )
        rerun = (self._claimed_by, (queue_name, owner))
        if partitions is None and budget.empty:
            claimed = self._db.write_one(self._claim, request.params(limit), rerun=rerun)
        else:
            attempts = 0

            def claim_within(conn: Connection) -> list[Row]:
                nonlocal attempts
                attempts += 1
                if attempts > 1:  # the first attempt may have committed unacknowledged
                    earlier = fetch_rows(conn.execute(*rerun))
                    if earlier:
                        return earlier
                return self._claim_within(conn, request)

            claimed = self._db.transact(claim_within)
        claimed.sort(key=lambda r: (r[-2], r[-1]))  # priority, then age
        return [_claimed(r, owner, queue_name) for r in claimed]

    def _claim_within(self, conn: Connection, q: _ClaimRequest) -> list[Row]:
        if self._queue_lock and q.locks_queue:
            conn.execute(self._queue_lock, (q.queue_name,))
        limit = q.limit
        if q.budget.global_concurrency is not None:
            pending = int(conn.execute(self._count_pending, (q.queue_name,)).fetchone()[0])
            if pending > q.budget.global_concurrency:  # e.g. the limit was lowered meanwhile
                logger.warning(
                    "Queue %s has %d workflows running, over its global concurrency of %d",
                    q.queue_name, pending, q.budget.global_concurrency,
                )  # fmt: skip
            limit = min(limit, q.budget.global_concurrency - pending)
        if q.budget.rate_limit is not None:
            window_start = q.now_ms - q.budget.rate_period_ms
            started = conn.execute(self._count_rate_limited, (q.queue_name, window_start))
            limit = min(limit, q.budget.rate_limit - int(started.fetchone()[0]))
        if limit <= 0:
            return []
        if q.partitions is None:
            return fetch_rows(conn.execute(self._claim, q.params(limit)))
        return self._claim_partitions(conn, q, q.partitions, limit)

    def _claim_partitions(
        self, conn: Connection, q: _ClaimRequest, partitions: PartitionBudget, limit: int
    ) -> list[Row]:
        keys = self._partitions_with_work(conn, q)
        self._random.shuffle(keys)  # so that no partition is always served first
        per = partitions.limits
        pending: dict[str, int] = {}
        started: dict[str, int] = {}
        if per.concurrency is not None:
            pending = _by_partition(conn, self._count_pending_by_partition, (q.queue_name,))
        if per.limiter is not None:
            window_start = q.now_ms - int(float(per.limiter["period"]) * 1000)
            params = (q.queue_name, window_start)
            started = _by_partition(conn, self._count_rate_limited_by_partition, params)
        running = partitions.running_here
        rooms = [
            (
                key,
                partition_room(per, running.get(key, 0), pending.get(key, 0), started.get(key, 0)),
            )
            for key in keys
        ]
        rows: list[Row] = []
        for key, share in share_budget(limit, rooms).items():
            rows += fetch_rows(conn.execute(self._claim_partition, q.params(share, key)))
        return rows

    def _partitions_with_work(self, conn: Connection, q: _ClaimRequest) -> list[str]:
        after = self._partition_cursor.pop(q.queue_name, None)
        query, start = (
            (self._partitions_from, "") if after is None else (self._partitions_after, after)
        )
        params = (q.queue_name, start, *q.filters, q.queue_name, *q.filters)
        keys = [r[0] for r in conn.execute(query, (*params, MAX_PARTITIONS_PER_CLAIM)).fetchall()]
        if len(keys) == MAX_PARTITIONS_PER_CLAIM:
            self._partition_cursor[q.queue_name] = keys[-1]
        return keys

    def announce(self, queue_name: str) -> None:
        """Wake idle queue runners of ``queue_name`` in every process (where notices exist)."""
        if self._announce:
            self._db.read_one(self._announce, (queue_name,))

    def promote_delayed(self, app_name: str, now_ms: int) -> list[str]:
        """Move due DELAYED workflows onto their queues; returns those queues' names."""
        return [r[0] for r in self._db.write_one(self._promote_delayed, (now_ms, now_ms, app_name))]

    def set_delay(self, workflow_id: str, delay_until_epoch_ms: int, now_ms: int) -> bool:
        params = (delay_until_epoch_ms, now_ms, workflow_id)
        return bool(self._db.write_one(self._set_delay, params))

    def dead_letter(self, workflow_id: str, now_ms: int) -> None:
        self._db.write_one(self._dead_letter, (now_ms, now_ms, workflow_id))


def _claimed(r: Row, owner: str, queue_name: str) -> ClaimedWorkflow:
    """A row of CLAIMED_COLUMNS."""
    return ClaimedWorkflow(
        workflow_id=r[0],
        name=r[1],
        recovery_attempts=int(r[2]),
        owner=owner,
        queue_name=queue_name,
        partition_key=r[3],
        class_name=r[4],
        config_name=r[5],
        inputs=r[6],
        serialization=r[7],
        authenticated_user=r[8],
        assumed_role=r[9],
        authenticated_roles=r[10],
        workflow_deadline_epoch_ms=r[11],
        has_steps=bool(r[12]),
    )


def _by_partition(conn: Connection, query: str, params: tuple[Any, ...]) -> dict[str, int]:
    return {str(key): int(count) for key, count in conn.execute(query, params).fetchall()}
