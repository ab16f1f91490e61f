-- The rate limiter counts rows it admitted that started within its window, per queue.
CREATE INDEX idx_workflow_status_rate_limited
    ON {s}workflow_status (queue_name, started_at_epoch_ms)
    WHERE rate_limited;
