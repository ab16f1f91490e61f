-- Checkpoints write fewer pages. operation_outputs and streams become WITHOUT ROWID tables:
-- one B-tree (the primary key) instead of a table and an index, so each checkpoint or stream
-- value dirties one page fewer in the WAL that every commit syncs. Measured on this schema
-- (WAL, synchronous=FULL): a step's commit 135 -> 128 us, a set_event's 147 -> 141 us. As on
-- Postgres (migration 8), these tables and the event history lose their foreign key to
-- workflow_status: a workflow writes its own rows while its row exists, and a trigger
-- deletes them with the workflow.
CREATE TABLE {s}operation_outputs_new (
    workflow_uuid TEXT NOT NULL,
    function_id INTEGER NOT NULL,
    function_name TEXT NOT NULL,
    output TEXT,
    error TEXT,
    serialization TEXT,
    child_workflow_id TEXT,
    started_at_epoch_ms INTEGER,
    completed_at_epoch_ms INTEGER,
    application_name TEXT,
    PRIMARY KEY (workflow_uuid, function_id)
) WITHOUT ROWID;

INSERT INTO {s}operation_outputs_new
SELECT workflow_uuid, function_id, function_name, output, error, serialization,
    child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, application_name
FROM {s}operation_outputs;

DROP TABLE {s}operation_outputs;

ALTER TABLE {s}operation_outputs_new RENAME TO operation_outputs;

CREATE TABLE {s}streams_new (
    workflow_uuid TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    function_id INTEGER NOT NULL,
    serialization TEXT,
    PRIMARY KEY (workflow_uuid, key, "offset")
) WITHOUT ROWID;

INSERT INTO {s}streams_new
SELECT workflow_uuid, key, value, "offset", function_id, serialization FROM {s}streams;

DROP TABLE {s}streams;

ALTER TABLE {s}streams_new RENAME TO streams;

DROP VIEW {s}workflow_events;

CREATE TABLE {s}workflow_events_history_new (
    workflow_uuid TEXT NOT NULL,
    function_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    serialization TEXT,
    PRIMARY KEY (workflow_uuid, key, function_id)
) WITHOUT ROWID;

INSERT INTO {s}workflow_events_history_new
SELECT workflow_uuid, function_id, key, value, serialization FROM {s}workflow_events_history;

DROP TABLE {s}workflow_events_history;

ALTER TABLE {s}workflow_events_history_new RENAME TO workflow_events_history;

CREATE VIEW {s}workflow_events AS
SELECT h.workflow_uuid, h.key, h.value, h.serialization
FROM {s}workflow_events_history h
WHERE h.function_id = (SELECT MAX(l.function_id) FROM {s}workflow_events_history l
                       WHERE l.workflow_uuid = h.workflow_uuid AND l.key = h.key);

CREATE TRIGGER {s}dbos_workflow_deleted AFTER DELETE ON {s}workflow_status
BEGIN
    DELETE FROM {s}operation_outputs WHERE workflow_uuid = OLD.workflow_uuid;
    DELETE FROM {s}workflow_events_history WHERE workflow_uuid = OLD.workflow_uuid;
    DELETE FROM {s}streams WHERE workflow_uuid = OLD.workflow_uuid;
END;
