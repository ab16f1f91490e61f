"""VersionStore: the application versions that have run against this database."""

from __future__ import annotations

import uuid

from dbos._storage.backend import Backend, Connection, fetch_rows
from dbos._storage.records import VersionRecord

_COLUMNS = "version_id, version_name, version_timestamp, created_at, application_name"

# Registering an existing version keeps its timestamp: a restart must not make an old
# version the latest again.
REGISTER = f"""
INSERT INTO {{s}}application_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""

LIST = f"""
SELECT {_COLUMNS} FROM {{s}}application_versions
WHERE application_name = ? OR application_name IS NULL
ORDER BY version_timestamp DESC, created_at DESC
"""

# A caller with no application (a client without one) sees every application's versions.
LIST_ALL = f"""
SELECT {_COLUMNS} FROM {{s}}application_versions ORDER BY version_timestamp DESC, created_at DESC
"""

# Promotion to latest: the application's own row of that name, else an unclaimed one, which
# the promoting application then claims (spec 13.8). A caller with no application (a client
# without one) may promote any application's row: version names are globally unique.
SET_LATEST_OWN = """
UPDATE {s}application_versions SET version_timestamp = ?
WHERE version_name = ? AND application_name = COALESCE(?, application_name)
RETURNING version_id
"""

SET_LATEST_UNCLAIMED = """
UPDATE {s}application_versions SET version_timestamp = ?, application_name = ?
WHERE version_name = ? AND application_name IS NULL
RETURNING version_id
"""


class VersionStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._register = sql(REGISTER)
        self._list = sql(LIST)
        self._list_all = sql(LIST_ALL)
        self._set_latest_own = sql(SET_LATEST_OWN)
        self._set_latest_unclaimed = sql(SET_LATEST_UNCLAIMED)

    def register(self, version_name: str, app_name: str | None, now_ms: int) -> None:
        params = (str(uuid.uuid4()), version_name, now_ms, now_ms, app_name)
        self._db.write_one(self._register, params)

    def list(self, app_name: str | None) -> list[VersionRecord]:
        """Newest first: the first is the latest version."""
        if app_name is None:
            rows = self._db.read_all(self._list_all)
        else:
            rows = self._db.read_all(self._list, (app_name,))
        return [VersionRecord(*r) for r in rows]

    def set_latest(self, version_name: str, app_name: str | None, now_ms: int) -> bool:
        """Make ``version_name`` the latest version; False if there is no such version."""

        def run(conn: Connection) -> bool:
            own = (now_ms, version_name, app_name)
            if fetch_rows(conn.execute(self._set_latest_own, own)):
                return True
            unclaimed = (now_ms, app_name, version_name)
            return bool(fetch_rows(conn.execute(self._set_latest_unclaimed, unclaimed)))

        return self._db.transact(run)
