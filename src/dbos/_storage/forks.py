"""ForkStore: new workflows from old ones' history (fork), and old ones rewound in place.

Both keep what a workflow recorded before a start step and let the steps from there on run
again: a fork copies that history into a new workflow, a rewind deletes the rest of it. The
history is every table keyed by function ID: ``operation_outputs``, ``workflow_events_history``
(whose latest rows are the events' current values) and ``streams``. Each is one transaction.
"""

from __future__ import annotations

from dbos._core.status import ACTIVE
from dbos._storage.backend import Backend, Connection, fetch_rows
from dbos._storage.events import notify_event
from dbos._storage.records import ForkOutcome, ForkRequest, RewindRequest
from dbos._storage.streams import notify_stream

# The fork's row, copied from the source's inside the database: name, class, instance,
# owner, authentication, inputs, serialization and attributes. An unclaimed source's fork
# is claimed by the forking application.
INSERT_FORK = """
INSERT INTO {s}workflow_status (
    workflow_uuid, status, name, class_name, config_name, application_id, authenticated_user,
    assumed_role, authenticated_roles, inputs, serialization, attributes, application_name,
    application_version, queue_name, queue_partition_key, workflow_timeout_ms, forked_from,
    created_at, updated_at, recovery_attempts, owner_xid, priority)
SELECT ?, 'ENQUEUED', name, class_name, config_name, application_id, authenticated_user,
    assumed_role, authenticated_roles, inputs, serialization, attributes,
    COALESCE(application_name, ?), ?, ?, ?, COALESCE(?, workflow_timeout_ms), workflow_uuid,
    ?, ?, 0, ?, 0
FROM {s}workflow_status WHERE workflow_uuid = ?
ON CONFLICT (workflow_uuid) DO NOTHING
RETURNING workflow_uuid
"""

GET_FORKED_FROM = """
SELECT forked_from FROM {s}workflow_status WHERE workflow_uuid = ?
"""

SOURCE_EXISTS = "SELECT 1 FROM {s}workflow_status WHERE workflow_uuid = ?"

MARK_FORKED = "UPDATE {s}workflow_status SET was_forked_from = TRUE WHERE workflow_uuid = ?"

COPY_STEPS = """
INSERT INTO {s}operation_outputs (workflow_uuid, function_id, function_name, output, error,
    serialization, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms,
    application_name)
SELECT ?, function_id, function_name, output, error, serialization, child_workflow_id,
    started_at_epoch_ms, completed_at_epoch_ms, application_name
FROM {s}operation_outputs WHERE workflow_uuid = ? AND function_id < ?
"""

# replacement_children: the fork's steps point at other children than the source's did.
REPLACE_CHILD = """
UPDATE {s}operation_outputs SET child_workflow_id = ?
WHERE workflow_uuid = ? AND child_workflow_id = ?
"""

COPY_EVENT_HISTORY = """
INSERT INTO {s}workflow_events_history (workflow_uuid, function_id, key, value, serialization,
    function_name, completed_at_epoch_ms)
SELECT ?, function_id, key, value, serialization, function_name, completed_at_epoch_ms
FROM {s}workflow_events_history WHERE workflow_uuid = ? AND function_id < ?
{notify}
"""

COPY_STREAMS = """
INSERT INTO {s}streams (workflow_uuid, key, value, "offset", function_id, serialization)
SELECT ?, key, value, "offset", function_id, serialization
FROM {s}streams WHERE workflow_uuid = ? AND function_id < ?
{notify}
"""

GET_STATUS = "SELECT status FROM {s}workflow_status WHERE workflow_uuid = ? {lock}"

TRUNCATE = [
    "DELETE FROM {s}operation_outputs WHERE workflow_uuid = ? AND function_id >= ?",
    "DELETE FROM {s}workflow_events_history WHERE workflow_uuid = ? AND function_id >= ?",
    "DELETE FROM {s}streams WHERE workflow_uuid = ? AND function_id >= ?",
]

# Like a resume, with the outcome forgotten too; guarded so a row that became active since
# it was read is not touched. The version and partition key stay unless new ones are given.
REQUEUE_REWOUND = """
UPDATE {s}workflow_status
SET status = 'ENQUEUED', queue_name = ?, queue_partition_key = COALESCE(?, queue_partition_key),
    application_version = COALESCE(?, application_version), output = NULL, error = NULL,
    completed_at = NULL, started_at_epoch_ms = NULL, workflow_deadline_epoch_ms = NULL,
    deduplication_id = NULL, delay_until_epoch_ms = NULL, recovery_attempts = 0,
    updated_at = ?
WHERE workflow_uuid = ? AND status NOT IN ('PENDING', 'ENQUEUED', 'DELAYED')
"""


class ForkStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        sql = backend.dialect.sql
        self._insert_fork = sql(INSERT_FORK)
        self._get_forked_from = sql(GET_FORKED_FROM)
        self._source_exists = sql(SOURCE_EXISTS)
        self._mark_forked = sql(MARK_FORKED)
        self._copy = [
            sql(COPY_STEPS),
            sql(COPY_EVENT_HISTORY.replace("{notify}", notify_event(backend))),
            sql(COPY_STREAMS.replace("{notify}", notify_stream(backend))),
        ]
        self._replace_child = sql(REPLACE_CHILD)
        self._get_status = sql(GET_STATUS.replace("{lock}", backend.dialect.lock_row))
        self._truncate = [sql(q) for q in TRUNCATE]
        self._requeue = sql(REQUEUE_REWOUND)

    def fork(self, r: ForkRequest) -> ForkOutcome:
        """Create the fork with its copied history, or report why not (nothing written)."""
        return self._db.transact(lambda conn: self._fork(conn, r))

    def _fork(self, conn: Connection, r: ForkRequest) -> ForkOutcome:
        params = (
            r.fork_id, r.application_name, r.application_version, r.queue_name,
            r.queue_partition_key, r.workflow_timeout_ms, r.now_ms, r.now_ms, r.owner_xid,
            r.source_id,
        )  # fmt: skip
        if not fetch_rows(conn.execute(self._insert_fork, params)):
            if conn.execute(self._source_exists, (r.source_id,)).fetchone() is None:
                return ForkOutcome(source_missing=True)
            existing = conn.execute(self._get_forked_from, (r.fork_id,)).fetchone()
            return ForkOutcome(existing_forked_from=None if existing is None else existing[0])
        for copy in self._copy:
            conn.execute(copy, (r.fork_id, r.source_id, r.start_step))
        for old_child, new_child in r.replacement_children.items():
            conn.execute(self._replace_child, (new_child, r.fork_id, old_child))
        conn.execute(self._mark_forked, (r.source_id,))
        return ForkOutcome(created=True)

    def rewind(self, r: RewindRequest) -> str | None:
        """Rewind a finished workflow to ``r.start_step`` and enqueue it.

        Returns the status the row had (None: no such workflow). An active row is left as
        it is: its status is returned and nothing is written.
        """
        return self._db.transact(lambda conn: self._rewind(conn, r))

    def _rewind(self, conn: Connection, r: RewindRequest) -> str | None:
        row = conn.execute(self._get_status, (r.workflow_id,)).fetchone()
        if row is None or row[0] in ACTIVE:
            return None if row is None else str(row[0])
        for truncate in self._truncate:
            conn.execute(truncate, (r.workflow_id, r.start_step))
        params = (
            r.queue_name,
            r.queue_partition_key,
            r.application_version,
            r.now_ms,
            r.workflow_id,
        )
        conn.execute(self._requeue, params)
        return str(row[0])
