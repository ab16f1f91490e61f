-- Wake idle queue runners in every process when a row becomes ENQUEUED (an enqueue, a
-- recovery, a delay that expired). The notify is part of the writing transaction, so it
-- costs no round trip and is never delivered before the row is visible.
CREATE FUNCTION {s}dbos_notify_enqueued() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('dbos_queue_channel', COALESCE(NEW.queue_name, ''));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER dbos_workflow_enqueued
    AFTER INSERT OR UPDATE OF status ON {s}workflow_status
    FOR EACH ROW WHEN (NEW.status = 'ENQUEUED')
    EXECUTE FUNCTION {s}dbos_notify_enqueued();
