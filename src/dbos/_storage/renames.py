"""RenameStore: moving rows from one application_name to another (spec 13.8).

Two kinds of work, so that a big history never holds one long transaction:
- ``move_registered``: queues, schedules, versions and in-flight workflows, in one
  transaction, after the caller's ``check`` has seen which names would move (a clash
  raises there and nothing changes);
- ``move_finished_batch``: terminal workflows in one workflow_uuid key range, plus the steps
  of every workflow in that range that now belongs to the new owner, in one transaction.
  Ranges go up from a watermark, so a rerun after an interruption finishes the job.

Rows are chosen by ``Owner``: an application's own rows, unclaimed (NULL) rows, or both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbos._storage.backend import Backend, Connection, fetch_rows
from dbos._storage.workflow_listing import ACTIVE_SQL

# kind -> (table, name column): the registered things, whose names are globally unique.
REGISTERED = {
    "queues": ("queues", "name"),
    "schedules": ("workflow_schedules", "schedule_name"),
    "versions": ("application_versions", "version_name"),
}

NAMES = "SELECT {name} FROM {s}{table} WHERE {owner} ORDER BY {name}"
OWNED_NAMES = "SELECT {name} FROM {s}{table} WHERE application_name = ?"
MOVE_REGISTERED = "UPDATE {s}{table} SET application_name = ? WHERE {owner}"

# In-flight workflows move with the queues they sit on, so no scoped queue runner of the
# new name ever sees a queue without its work (or work without its queue).
MOVE_IN_FLIGHT = f"""
UPDATE {{s}}workflow_status SET application_name = ?
WHERE {{owner}} AND status IN ({ACTIVE_SQL})
"""

# The last key of the next batch: the batch_size-th terminal workflow after the watermark.
BATCH_END = f"""
SELECT workflow_uuid FROM {{s}}workflow_status
WHERE workflow_uuid > ? AND {{owner}} AND status NOT IN ({ACTIVE_SQL})
ORDER BY workflow_uuid LIMIT 1 OFFSET ?
"""

MOVE_FINISHED = f"""
UPDATE {{s}}workflow_status SET application_name = ?
WHERE {{range}} AND {{owner}} AND status NOT IN ({ACTIVE_SQL})
"""

# Steps follow their workflow: those of any workflow in the range that the new name now
# owns (moved in this batch, or in flight and moved by move_registered).
MOVE_STEPS = """
UPDATE {s}operation_outputs SET application_name = ?
WHERE {range} AND {owner} AND workflow_uuid IN (
    SELECT workflow_uuid FROM {s}workflow_status WHERE {range} AND application_name = ?
)
"""


@dataclass(frozen=True)
class Owner:
    """Rows of ``name`` (None: no application's), plus unclaimed ones with ``unclaimed``."""

    name: str | None
    unclaimed: bool

    def condition(self) -> tuple[str, tuple[Any, ...]]:
        if self.name is None:
            return "application_name IS NULL", ()
        if self.unclaimed:
            return "(application_name = ? OR application_name IS NULL)", (self.name,)
        return "application_name = ?", (self.name,)


@dataclass(frozen=True)
class FinishedBatch:
    workflows: int
    steps: int
    # Where the next batch starts; None when this batch reached the end of the keys.
    next_after: str | None


# Receives (names moving, names the new owner has) per kind; raises to refuse the move.
ClashCheck = Callable[[Mapping[str, Sequence[str]], Mapping[str, Sequence[str]]], None]


class RenameStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        self._dialect = backend.dialect

    def _sql(self, template: str, owner: str, **parts: str) -> str:
        for key, value in parts.items():
            template = template.replace("{" + key + "}", value)
        return self._dialect.sql(template.replace("{owner}", owner))

    def move_registered(self, owner: Owner, new_name: str, check: ClashCheck) -> dict[str, int]:
        """Queues, schedules, versions and in-flight workflows, in one transaction."""
        condition, params = owner.condition()

        def run(conn: Connection) -> dict[str, int]:
            moving: dict[str, list[str]] = {}
            owned: dict[str, list[str]] = {}
            for kind, (table, name) in REGISTERED.items():
                query = self._sql(NAMES, condition, table=table, name=name)
                moving[kind] = [r[0] for r in fetch_rows(conn.execute(query, params))]
                query = self._sql(OWNED_NAMES, condition, table=table, name=name)
                owned[kind] = [r[0] for r in fetch_rows(conn.execute(query, (new_name,)))]
            check(moving, owned)
            counts: dict[str, int] = {}
            for kind, (table, _) in REGISTERED.items():
                query = self._sql(MOVE_REGISTERED, condition, table=table)
                counts[kind] = int(conn.execute(query, (new_name, *params)).rowcount)
            query = self._sql(MOVE_IN_FLIGHT, condition)
            counts["workflows"] = int(conn.execute(query, (new_name, *params)).rowcount)
            return counts

        return self._db.transact(run)

    def move_finished_batch(
        self, owner: Owner, new_name: str, after: str, batch_size: int
    ) -> FinishedBatch:
        """Terminal workflows in the next key range, and the steps in it: one transaction.

        The range holds up to ``batch_size`` terminal workflows with keys above ``after``;
        the last range is open above, so steps of every key are reached.
        """
        condition, params = owner.condition()

        def run(conn: Connection) -> FinishedBatch:
            query = self._sql(BATCH_END, condition)
            rows = fetch_rows(conn.execute(query, (after, *params, batch_size - 1)))
            end: str | None = rows[0][0] if rows else None
            key_range = "workflow_uuid > ?" + ("" if end is None else " AND workflow_uuid <= ?")
            bounds = (after,) if end is None else (after, end)
            query = self._sql(MOVE_FINISHED, condition, range=key_range)
            workflows = int(conn.execute(query, (new_name, *bounds, *params)).rowcount)
            query = self._sql(MOVE_STEPS, condition, range=key_range)
            step_params = (new_name, *bounds, *params, *bounds, new_name)
            steps = int(conn.execute(query, step_params).rowcount)
            return FinishedBatch(workflows, steps, end)

        return self._db.transact(run)
