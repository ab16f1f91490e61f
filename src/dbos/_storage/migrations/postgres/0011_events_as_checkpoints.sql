-- A set_event that a workflow makes itself (not from inside a step) is its own checkpoint:
-- the event row carries the operation's name and completion time, and no second row goes
-- to operation_outputs. One B-tree written per set_event instead of two. Rows set from
-- inside a step leave both columns NULL: they are not checkpoints, since the step that set
-- them must run again if it did not finish. (Stream values keep a checkpoint row of their
-- own: their key holds an offset, not the function ID, so only a second index could tell
-- a second write at one function ID, and that index costs what the checkpoint row does.)
ALTER TABLE {s}workflow_events_history ADD COLUMN function_name TEXT;

ALTER TABLE {s}workflow_events_history ADD COLUMN completed_at_epoch_ms BIGINT;

-- Every checkpoint of a workflow, wherever it is stored: what replay, step listing and the
-- last-function-ID checks read.
CREATE VIEW {s}checkpoints AS
SELECT workflow_uuid, function_id, function_name, output, error, serialization,
    child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms
FROM {s}operation_outputs
UNION ALL
SELECT workflow_uuid, function_id, function_name, NULL, NULL, serialization,
    NULL, completed_at_epoch_ms, completed_at_epoch_ms
FROM {s}workflow_events_history WHERE function_name IS NOT NULL;
