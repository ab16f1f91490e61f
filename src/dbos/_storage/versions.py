"""VersionStore: the application versions that have run against this database."""

from __future__ import annotations

import uuid

from dbos._storage.backend import Backend
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

SET_LATEST = """
UPDATE {s}application_versions SET version_timestamp = ?
WHERE version_name = ? AND (application_name = ? OR application_name IS NULL)
RETURNING version_id
"""


class VersionStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._register = sql(REGISTER)
        self._list = sql(LIST)
        self._set_latest = sql(SET_LATEST)

    def register(self, version_name: str, app_name: str | None, now_ms: int) -> None:
        params = (str(uuid.uuid4()), version_name, now_ms, now_ms, app_name)
        self._db.write_one(self._register, params)

    def list(self, app_name: str | None) -> list[VersionRecord]:
        rows = self._db.read_all(self._list, (app_name,))
        return [VersionRecord(*r) for r in rows]

    def set_latest(self, version_name: str, app_name: str | None, now_ms: int) -> bool:
        return bool(self._db.write_one(self._set_latest, (now_ms, version_name, app_name)))
