-- An event's current value is its latest write in the history (highest function ID), so
-- set_event writes one row, not two. The history becomes a WITHOUT ROWID table: one B-tree
-- (its primary key) instead of a table and an index, so each write dirties one page fewer.
-- A view keeps the old table's name and shape for anyone who reads it.
DROP TABLE {s}workflow_events;

CREATE TABLE {s}workflow_events_history_new (
    workflow_uuid TEXT NOT NULL
        REFERENCES {s}workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    function_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    serialization TEXT,
    PRIMARY KEY (workflow_uuid, key, function_id)
) WITHOUT ROWID;

INSERT INTO {s}workflow_events_history_new (workflow_uuid, function_id, key, value, serialization)
SELECT workflow_uuid, function_id, key, value, serialization FROM {s}workflow_events_history;

DROP TABLE {s}workflow_events_history;

ALTER TABLE {s}workflow_events_history_new RENAME TO workflow_events_history;

CREATE VIEW {s}workflow_events AS
SELECT h.workflow_uuid, h.key, h.value, h.serialization
FROM {s}workflow_events_history h
WHERE h.function_id = (SELECT MAX(l.function_id) FROM {s}workflow_events_history l
                       WHERE l.workflow_uuid = h.workflow_uuid AND l.key = h.key);
