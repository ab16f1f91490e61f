"""ManagementStore: changing many workflows at once (cancel, resume, delete, attributes, GC).

Each call that names several workflows runs in one transaction, so a failure leaves none of
them changed. Guards live in the statements themselves (``status NOT IN ...``), so a row
that changed since the caller looked is left alone rather than overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from dbos._storage.backend import Backend, Connection, fetch_rows
from dbos._storage.workflow_listing import ACTIVE_SQL

# Names per statement: keeps SQLite's parameter lists and Postgres' arrays modest.
CHUNK = 4096

# A finished workflow (SUCCESS, ERROR) keeps its outcome; anything else becomes CANCELLED and
# leaves its queue, freeing its concurrency slot and deduplication ID.
CANCEL = """
UPDATE {s}workflow_status
SET status = 'CANCELLED', queue_name = NULL, deduplication_id = NULL,
    started_at_epoch_ms = NULL, updated_at = ?, completed_at = ?
WHERE {ids} AND status NOT IN ('SUCCESS', 'ERROR')
RETURNING workflow_uuid
"""

# Back on a queue with a fresh budget of recovery attempts; the queue's claim replays it from
# its checkpoints and sets a new deadline from its timeout.
RESUME = """
UPDATE {s}workflow_status
SET status = 'ENQUEUED', queue_name = ?, recovery_attempts = 0,
    workflow_deadline_epoch_ms = NULL, deduplication_id = NULL, started_at_epoch_ms = NULL,
    completed_at = NULL, delay_until_epoch_ms = NULL, updated_at = ?
WHERE {ids} AND status NOT IN ('SUCCESS', 'ERROR')
RETURNING workflow_uuid
"""

# Steps, events, messages and streams go with the row: foreign keys ON DELETE CASCADE, and on
# Postgres a trigger for steps, events and streams (migration 8).
DELETE = "DELETE FROM {s}workflow_status WHERE {ids} RETURNING workflow_uuid"

GET_ATTRIBUTES = "SELECT attributes FROM {s}workflow_status WHERE workflow_uuid = ? {lock}"

SET_ATTRIBUTES = """
UPDATE {s}workflow_status SET attributes = ?, updated_at = ? WHERE workflow_uuid = ?
"""

# Spec 13.8: an application's own rows plus unclaimed ones. "{scope}" in a query becomes this,
# or TRUE for a caller with no application (which sees every row).
SCOPE = "(application_name = ? OR application_name IS NULL)"

# The created_at of the n-th newest row (OFFSET n - 1): rows older than it are beyond a
# "keep the newest n" bound.
NTH_NEWEST = """
SELECT created_at FROM {s}workflow_status WHERE {scope}
ORDER BY created_at DESC LIMIT 1 OFFSET ?
"""

# One batch of finished rows older than the cutoff, oldest first, from a created_at
# watermark: each batch starts where the last ended instead of rescanning from the start.
GC_CANDIDATES = f"""
SELECT workflow_uuid, created_at FROM {{s}}workflow_status
WHERE created_at >= ? AND created_at < ? AND status NOT IN ({ACTIVE_SQL}) AND {{scope}}
ORDER BY created_at LIMIT ?
"""

# Re-checks the status: a row resumed since the batch was read is kept.
GC_DELETE = f"""
DELETE FROM {{s}}workflow_status WHERE {{ids}} AND status NOT IN ({ACTIVE_SQL})
RETURNING workflow_uuid
"""

ACTIVE_IDS = f"SELECT workflow_uuid FROM {{s}}workflow_status WHERE status IN ({ACTIVE_SQL})"

# Oldest first, from the active-workflows index.
ACTIVE_CREATED_BY = f"""
SELECT workflow_uuid FROM {{s}}workflow_status
WHERE status IN ({ACTIVE_SQL}) AND created_at <= ? AND {{scope}}
ORDER BY created_at LIMIT ?
"""


def chunks(values: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ManagementStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        self._dialect = backend.dialect
        sql = self._dialect.sql
        self._get_attributes = sql(GET_ATTRIBUTES.replace("{lock}", self._dialect.lock_row))
        self._set_attributes = sql(SET_ATTRIBUTES)
        self._active_ids = sql(ACTIVE_IDS)
        self._nth_newest = self._scoped(NTH_NEWEST)
        self._gc_candidates = self._scoped(GC_CANDIDATES)
        self._active_created_by = self._scoped(ACTIVE_CREATED_BY)

    def _scoped(self, template: str) -> dict[bool, str]:
        """The query compiled twice: scoped to an application (True) and unscoped (False)."""
        return {
            scoped: self._dialect.sql(template.replace("{scope}", SCOPE if scoped else "TRUE"))
            for scoped in (True, False)
        }

    def _run_scoped(
        self,
        query: dict[bool, str],
        app_name: str | None,
        before: tuple[Any, ...],
        after: tuple[Any, ...],
    ) -> list[Any]:
        scoped = app_name is not None
        params = (*before, app_name, *after) if scoped else (*before, *after)
        return self._db.read_all(query[scoped], params)

    def _update_each(self, template: str, ids: list[str], leading: tuple[Any, ...]) -> list[str]:
        """Run ``template`` over ``ids`` in chunks, all in one transaction; the rows it hit."""
        if not ids:
            return []

        def run(conn: Connection) -> list[str]:
            changed: list[str] = []
            for chunk in chunks(ids):
                condition, params = self._dialect.member_of("workflow_uuid", chunk)
                query = self._dialect.sql(template.replace("{ids}", condition))
                changed += [r[0] for r in fetch_rows(conn.execute(query, (*leading, *params)))]
            return changed

        return self._db.transact(run)

    def cancel(self, workflow_ids: list[str], now_ms: int) -> list[str]:
        """Cancel the unfinished ones among ``workflow_ids``; returns those changed."""
        return self._update_each(CANCEL, workflow_ids, (now_ms, now_ms))

    def resume(self, workflow_ids: list[str], queue_name: str, now_ms: int) -> list[str]:
        """Enqueue the unfinished ones among ``workflow_ids``; returns those changed."""
        return self._update_each(RESUME, workflow_ids, (queue_name, now_ms))

    def delete(self, workflow_ids: list[str]) -> list[str]:
        """Delete the workflows and everything recorded for them; returns those deleted."""
        return self._update_each(DELETE, workflow_ids, ())

    def update_attributes(
        self,
        workflow_id: str,
        compute: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        now_ms: int,
    ) -> bool:
        """Replace the attributes with ``compute(current)``, atomically; False if no row."""

        def run(conn: Connection) -> bool:
            row = conn.execute(self._get_attributes, (workflow_id,)).fetchone()
            if row is None:
                return False
            current = json.loads(row[0]) if isinstance(row[0], str) else row[0]
            updated = compute(current)
            text = None if updated is None else json.dumps(updated)
            conn.execute(self._set_attributes, (text, now_ms, workflow_id))
            return True

        return self._db.transact(run)

    def nth_newest_created_at(self, n: int, app_name: str | None) -> int | None:
        rows = self._run_scoped(self._nth_newest, app_name, (), (n - 1,))
        return int(rows[0][0]) if rows else None

    def gc_candidates(
        self, watermark_ms: int, cutoff_ms: int, app_name: str | None, limit: int
    ) -> list[tuple[str, int]]:
        rows = self._run_scoped(self._gc_candidates, app_name, (watermark_ms, cutoff_ms), (limit,))
        return [(r[0], int(r[1])) for r in rows]

    def delete_finished(self, workflow_ids: list[str]) -> list[str]:
        """Delete those of ``workflow_ids`` that are still finished, in one transaction."""
        return self._update_each(GC_DELETE, workflow_ids, ())

    def active_ids(self) -> set[str]:
        """Every workflow that may still run (any application): their records are kept."""
        return {r[0] for r in self._db.read_all(self._active_ids)}

    def active_created_by(self, cutoff_ms: int, app_name: str | None, limit: int) -> list[str]:
        """Active workflows created at or before ``cutoff_ms``, oldest first."""
        rows = self._run_scoped(self._active_created_by, app_name, (cutoff_ms,), (limit,))
        return [r[0] for r in rows]
