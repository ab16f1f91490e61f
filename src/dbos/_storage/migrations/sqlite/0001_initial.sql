-- The system database: every table the DBOS model needs. Times are epoch milliseconds.
-- {s} is the schema prefix (e.g. "dbos".), filled in by the migrator.

CREATE TABLE {s}workflow_status (
    workflow_uuid TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    class_name TEXT,
    config_name TEXT,
    authenticated_user TEXT,
    assumed_role TEXT,
    authenticated_roles TEXT,
    inputs TEXT,
    output TEXT,
    error TEXT,
    serialization TEXT,
    executor_id TEXT,
    application_version TEXT,
    application_id TEXT,
    application_name TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    recovery_attempts INTEGER NOT NULL DEFAULT 0,
    queue_name TEXT,
    workflow_timeout_ms INTEGER,
    workflow_deadline_epoch_ms INTEGER,
    started_at_epoch_ms INTEGER,
    deduplication_id TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    queue_partition_key TEXT,
    forked_from TEXT,
    was_forked_from INTEGER NOT NULL DEFAULT 0,
    parent_workflow_id TEXT,
    owner_xid TEXT,
    delay_until_epoch_ms INTEGER,
    rate_limited INTEGER NOT NULL DEFAULT 0,
    completed_at INTEGER,
    attributes TEXT,
    schedule_name TEXT,
    debounce_deadline_epoch_ms INTEGER,
    is_debounced INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX workflow_status_created_at_index ON {s}workflow_status (created_at);
-- Recovery looks for PENDING rows of one executor; dequeue for ENQUEUED rows of one queue.
CREATE INDEX idx_workflow_status_pending ON {s}workflow_status (executor_id, created_at)
    WHERE status = 'PENDING';
CREATE INDEX idx_workflow_status_in_flight
    ON {s}workflow_status (queue_name, status, priority, created_at)
    WHERE status IN ('ENQUEUED', 'PENDING');
CREATE INDEX idx_workflow_status_delayed ON {s}workflow_status (delay_until_epoch_ms)
    WHERE status = 'DELAYED';
CREATE INDEX idx_workflow_status_parent_workflow_id ON {s}workflow_status (parent_workflow_id)
    WHERE parent_workflow_id IS NOT NULL;
CREATE UNIQUE INDEX uq_workflow_status_dedup_id
    ON {s}workflow_status (queue_name, deduplication_id)
    WHERE deduplication_id IS NOT NULL;

CREATE TABLE {s}operation_outputs (
    workflow_uuid TEXT NOT NULL
        REFERENCES {s}workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE,
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
);

CREATE TABLE {s}notifications (
    message_uuid TEXT PRIMARY KEY,
    destination_uuid TEXT NOT NULL
        REFERENCES {s}workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    topic TEXT NOT NULL,
    message TEXT NOT NULL,
    serialization TEXT,
    consumed INTEGER NOT NULL DEFAULT 0,
    created_at_epoch_ms INTEGER NOT NULL
);
CREATE INDEX idx_notifications_destination_topic
    ON {s}notifications (destination_uuid, topic, created_at_epoch_ms);

CREATE TABLE {s}workflow_events (
    workflow_uuid TEXT NOT NULL
        REFERENCES {s}workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    serialization TEXT,
    PRIMARY KEY (workflow_uuid, key)
);

CREATE TABLE {s}workflow_events_history (
    workflow_uuid TEXT NOT NULL
        REFERENCES {s}workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    function_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    serialization TEXT,
    PRIMARY KEY (workflow_uuid, key, function_id)
);

CREATE TABLE {s}streams (
    workflow_uuid TEXT NOT NULL
        REFERENCES {s}workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    function_id INTEGER NOT NULL,
    serialization TEXT,
    PRIMARY KEY (workflow_uuid, key, "offset")
);

CREATE TABLE {s}workflow_schedules (
    schedule_id TEXT PRIMARY KEY,
    schedule_name TEXT NOT NULL UNIQUE,
    workflow_name TEXT NOT NULL,
    workflow_class_name TEXT,
    schedule TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ACTIVE',
    context TEXT NOT NULL,
    last_fired_at TEXT,
    automatic_backfill INTEGER NOT NULL DEFAULT 0,
    cron_timezone TEXT,
    queue_name TEXT,
    application_name TEXT
);

CREATE TABLE {s}application_versions (
    version_id TEXT PRIMARY KEY,
    version_name TEXT NOT NULL,
    version_timestamp INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    application_name TEXT
);
CREATE UNIQUE INDEX uq_application_versions_owned
    ON {s}application_versions (application_name, version_name)
    WHERE application_name IS NOT NULL;
CREATE UNIQUE INDEX uq_application_versions_unclaimed
    ON {s}application_versions (version_name)
    WHERE application_name IS NULL;

CREATE TABLE {s}queues (
    queue_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    concurrency INTEGER,
    worker_concurrency INTEGER,
    rate_limit_max INTEGER,
    rate_limit_period_sec REAL,
    priority_enabled INTEGER NOT NULL DEFAULT 0,
    partition_queue INTEGER NOT NULL DEFAULT 0,
    partition_concurrency INTEGER,
    partition_worker_concurrency INTEGER,
    partition_rate_limit_max INTEGER,
    partition_rate_limit_period_sec REAL,
    polling_interval_sec REAL NOT NULL DEFAULT 1.0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    application_name TEXT
);
