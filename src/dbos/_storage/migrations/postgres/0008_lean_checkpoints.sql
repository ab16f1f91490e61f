-- Checkpoints cost less: measured with pgbench on this schema, the foreign key from a
-- checkpoint-like row to its workflow cost 25-35 us of a 150 us commit (its check locks the
-- workflow's row FOR KEY SHARE, which writes that row and its WAL on every checkpoint), and
-- the plpgsql notify trigger another 15-35 us. A workflow writes its own steps, events and
-- stream values while its row exists, so the check guarded nothing these writes need; what
-- the foreign keys also did, deleting a workflow's rows with it, a trigger on workflow_status
-- now does. Messages keep theirs: a send to a workflow that does not exist must fail.
ALTER TABLE {s}operation_outputs DROP CONSTRAINT IF EXISTS operation_outputs_workflow_uuid_fkey;
ALTER TABLE {s}workflow_events_history
    DROP CONSTRAINT IF EXISTS workflow_events_history_workflow_uuid_fkey;
ALTER TABLE {s}streams DROP CONSTRAINT IF EXISTS streams_workflow_uuid_fkey;

CREATE FUNCTION {s}dbos_delete_workflow_rows() RETURNS trigger AS $$
BEGIN
    DELETE FROM {s}operation_outputs WHERE workflow_uuid IN (SELECT workflow_uuid FROM gone);
    DELETE FROM {s}workflow_events_history WHERE workflow_uuid IN (SELECT workflow_uuid FROM gone);
    DELETE FROM {s}streams WHERE workflow_uuid IN (SELECT workflow_uuid FROM gone);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER dbos_workflow_deleted
    AFTER DELETE ON {s}workflow_status
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION {s}dbos_delete_workflow_rows();

-- Messages, events and stream values now notify from the statements that write them
-- (pg_notify in their RETURNING clause, see Dialect.notify): no trigger call per row.
DROP TRIGGER IF EXISTS dbos_message_sent ON {s}notifications;
DROP TRIGGER IF EXISTS dbos_event_set ON {s}workflow_events_history;
DROP TRIGGER IF EXISTS dbos_stream_written ON {s}streams;
DROP FUNCTION IF EXISTS {s}dbos_notify_message();
DROP FUNCTION IF EXISTS {s}dbos_notify_event();
DROP FUNCTION IF EXISTS {s}dbos_notify_stream();
DROP FUNCTION IF EXISTS {s}dbos_notify_key(TEXT, TEXT);

-- A quiet enqueue (migration 5) skips the trigger's function call altogether.
DROP TRIGGER dbos_workflow_enqueued ON {s}workflow_status;
CREATE TRIGGER dbos_workflow_enqueued
    AFTER INSERT OR UPDATE OF status ON {s}workflow_status
    FOR EACH ROW WHEN (
        NEW.status = 'ENQUEUED'
        AND current_setting('dbos.quiet_enqueue', true) IS DISTINCT FROM 'on'
    )
    EXECUTE FUNCTION {s}dbos_notify_enqueued();
