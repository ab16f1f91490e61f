-- Partitioned queues: find the partitions that have work, count each one's PENDING rows,
-- and claim the head of one partition, all by index range. Only rows with a partition key
-- are indexed, so queues without partitions pay nothing for it on enqueue.
CREATE INDEX idx_workflow_status_partition_dequeue
    ON {s}workflow_status (queue_name, status, queue_partition_key, priority, created_at)
    WHERE status IN ('ENQUEUED', 'PENDING') AND queue_partition_key IS NOT NULL;
-- (Postgres also lets an enqueue ask its notification trigger for quiet; SQLite has no
-- notifications.)
