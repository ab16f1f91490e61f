-- Partitioned queues: find the partitions that have work, count each one's PENDING rows,
-- and claim the head of one partition, all by index range. Only rows with a partition key
-- are indexed, so queues without partitions pay nothing for it on enqueue.
CREATE INDEX idx_workflow_status_partition_dequeue
    ON {s}workflow_status (queue_name, status, queue_partition_key, priority, created_at)
    WHERE status IN ('ENQUEUED', 'PENDING') AND queue_partition_key IS NOT NULL;

-- An enqueue may ask for quiet (set_config('dbos.quiet_enqueue', 'on', true) in its own
-- statement): its process announces the queue a few milliseconds later with one notice for
-- a whole burst of enqueues (see dbos._core.notice_throttle). Everything else that makes a
-- row ENQUEUED notifies as before.
CREATE OR REPLACE FUNCTION {s}dbos_notify_enqueued() RETURNS trigger AS $$
BEGIN
    IF current_setting('dbos.quiet_enqueue', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('dbos_queue_channel', COALESCE(NEW.queue_name, ''));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
