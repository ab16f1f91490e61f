"""ScheduleStore: the schedules in the database (``workflow_schedules``) that processes fire.

A row is a ScheduleDefinition plus its ID, its status (ACTIVE or PAUSED) and when it last
fired. ``application_name`` owns the row (NULL: unclaimed, everyone's); names are unique
across applications. As in QueueSettingsStore, a caller's ``app_name`` of None (a client
acting for no one application) may change any application's schedules, and
``COALESCE(?, application_name)`` is how the queries say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbos._core.schedule_rules import ScheduleDefinition, ScheduleFilter
from dbos._storage.backend import Backend, Connection, fetch_rows
from dbos._storage.dialect import Dialect
from dbos._storage.workflow_listing import escape_like

_DEFINITION = (
    "schedule_name, workflow_name, workflow_class_name, schedule, context, automatic_backfill, "
    "cron_timezone, queue_name, application_name"
)
_COLUMNS = f"schedule_id, status, last_fired_at, {_DEFINITION}"
_OWNED = "(application_name = COALESCE(?, application_name) OR application_name IS NULL)"

# A new schedule, or nothing when the name is taken (by this application or another).
INSERT = f"""
INSERT INTO {{s}}workflow_schedules ({_COLUMNS}) VALUES ({", ".join("?" * 12)})
ON CONFLICT (schedule_name) DO NOTHING
RETURNING schedule_id
"""

# By name, whoever owns it: creating needs to see another application's schedule to refuse.
GET = f"SELECT {_COLUMNS} FROM {{s}}workflow_schedules WHERE schedule_name = ?"

# {where} is built from a ScheduleFilter (see _where).
LIST = f"SELECT {_COLUMNS} FROM {{s}}workflow_schedules WHERE {{where}} ORDER BY schedule_name"

# apply_schedules: a new schedule, or a new definition for one this application owns (or an
# unclaimed one, which it claims). The ID, status and last firing are kept (spec 9.2). No
# row returned means another application owns the name.
UPSERT = f"""
INSERT INTO {{s}}workflow_schedules AS ws ({_COLUMNS}) VALUES ({", ".join("?" * 12)})
ON CONFLICT (schedule_name) DO UPDATE SET
    workflow_name = excluded.workflow_name,
    workflow_class_name = excluded.workflow_class_name,
    schedule = excluded.schedule,
    context = excluded.context,
    automatic_backfill = excluded.automatic_backfill,
    cron_timezone = excluded.cron_timezone,
    queue_name = excluded.queue_name,
    application_name = COALESCE(ws.application_name, excluded.application_name)
WHERE ws.application_name IS NULL OR excluded.application_name IS NULL
    OR ws.application_name = excluded.application_name
RETURNING schedule_id
"""

OWNER = "SELECT application_name FROM {s}workflow_schedules WHERE schedule_name = ?"

DELETE = f"""
DELETE FROM {{s}}workflow_schedules WHERE schedule_name = ? AND {_OWNED}
RETURNING schedule_id
"""

SET_STATUS = f"""
UPDATE {{s}}workflow_schedules SET status = ? WHERE schedule_name = ? AND {_OWNED}
RETURNING schedule_id
"""

# By ID, not name: a schedule deleted and created again under its name starts afresh, and a
# worker still finishing a firing of the old one must not write into the new one.
SET_LAST_FIRED = "UPDATE {s}workflow_schedules SET last_fired_at = ? WHERE schedule_id = ?"


class ScheduleOwnedElsewhere(Exception):
    """A schedule name another application owns; nothing was written."""

    def __init__(self, schedule_name: str, owner: str) -> None:
        super().__init__(schedule_name, owner)
        self.schedule_name = schedule_name
        self.owner = owner


@dataclass(frozen=True)
class ScheduleRecord:
    """A workflow_schedules row: the definition, its ID, status and last fire time (ISO)."""

    schedule_id: str
    status: str
    last_fired_at: str | None
    definition: ScheduleDefinition


def _record(row: Sequence[Any]) -> ScheduleRecord:
    schedule_id, status, last_fired_at, name, workflow, cls, cron, context, *rest = row
    backfill, timezone, queue, owner = rest
    definition = ScheduleDefinition(
        name, workflow, cls, cron, context, bool(backfill), timezone, queue, owner
    )
    return ScheduleRecord(schedule_id, status, last_fired_at, definition)


def _params(
    schedule_id: str, status: str, last_fired_at: str | None, d: ScheduleDefinition
) -> tuple[Any, ...]:
    return (
        schedule_id, status, last_fired_at, d.schedule_name, d.workflow_name,
        d.workflow_class_name, d.schedule, d.context, d.automatic_backfill, d.cron_timezone,
        d.queue_name, d.application_name,
    )  # fmt: skip


def _where(dialect: Dialect, f: ScheduleFilter) -> tuple[str, list[Any]]:
    """The WHERE clause selecting what ``f`` asks for, uncompiled, and its parameters."""
    terms: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("status", f.statuses),
        ("workflow_name", f.workflow_names),
        ("application_name", f.application_names),
    ):
        if values is None:
            continue
        if not values:  # an empty list matches nothing
            terms.append("FALSE")
            continue
        term, values_params = dialect.member_of(column, values)
        terms.append(term)
        params.extend(values_params)
    if f.name_prefixes is not None:
        likes = ["schedule_name LIKE ? ESCAPE '\\'"] * len(f.name_prefixes)
        terms.append(f"({' OR '.join(likes)})" if likes else "FALSE")
        params.extend(escape_like(prefix) + "%" for prefix in f.name_prefixes)
    if f.scope_app is not None:
        terms.append("(application_name = ? OR application_name IS NULL)")
        params.append(f.scope_app)
    return (" AND ".join(terms) or "TRUE"), params


class ScheduleStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        self._dialect = backend.dialect
        sql = backend.dialect.sql
        self._insert = sql(INSERT)
        self._get = sql(GET)
        self._upsert = sql(UPSERT)
        self._owner = sql(OWNER)
        self._delete = sql(DELETE)
        self._set_status = sql(SET_STATUS)
        self._set_last_fired = sql(SET_LAST_FIRED)

    def insert(self, schedule_id: str, status: str, definition: ScheduleDefinition) -> bool:
        """Store a new schedule; False (and nothing changed) when its name is taken."""
        params = _params(schedule_id, status, None, definition)
        return bool(self._db.write_one(self._insert, params))

    def get(self, schedule_name: str) -> ScheduleRecord | None:
        row = self._db.read_one(self._get, (schedule_name,))
        return None if row is None else _record(row)

    def list(self, f: ScheduleFilter) -> list[ScheduleRecord]:
        """The schedules ``f`` selects, by name."""
        where, params = _where(self._dialect, f)
        query = self._dialect.sql(LIST.replace("{where}", where))
        return [_record(row) for row in self._db.read_all(query, params)]

    def apply(self, definitions: Sequence[tuple[str, ScheduleDefinition]]) -> None:
        """Upsert (new ID, definition) pairs in one transaction, all or none.

        A name that exists keeps its ID, status and last fire time and takes the new
        definition; one another application owns raises ScheduleOwnedElsewhere, and
        nothing is written.
        """

        def run(conn: Connection) -> None:
            for schedule_id, definition in definitions:
                params = _params(schedule_id, "ACTIVE", None, definition)
                if not fetch_rows(conn.execute(self._upsert, params)):
                    name = definition.schedule_name
                    owner = conn.execute(self._owner, (name,)).fetchone()
                    raise ScheduleOwnedElsewhere(name, "" if owner is None else str(owner[0]))

        self._db.transact(run)

    def delete(self, schedule_name: str, app_name: str | None) -> bool:
        return bool(self._db.write_one(self._delete, (schedule_name, app_name)))

    def set_status(self, schedule_name: str, status: str, app_name: str | None) -> bool:
        """Pause or resume a schedule of ``app_name`` (or an unclaimed one)."""
        return bool(self._db.write_one(self._set_status, (status, schedule_name, app_name)))

    def set_last_fired(self, schedule_id: str, fired_at: str) -> None:
        self._db.write_one(self._set_last_fired, (fired_at, schedule_id))
