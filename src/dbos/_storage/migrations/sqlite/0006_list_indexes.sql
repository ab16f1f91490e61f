-- Indexes for listing and managing workflows at scale (issue 6). Each is chosen so that a
-- list with one filter, in creation order, walks an index in order and stops after its
-- LIMIT however many rows the table holds, while a workflow's own writes (its insert, its
-- status changes) touch as few extra index entries as possible:
-- - a name never changes, so its index costs one entry per workflow;
-- - failed and active workflows get partial indexes, which a workflow that runs and
--   succeeds enters and leaves once; successful rows, the bulk, are found through the
--   created_at index. Queries spell statuses as literals so the planners can prove these
--   predicates (on SQLite the list query repeats the predicate for that reason).
CREATE INDEX idx_workflow_status_name_created_at ON {s}workflow_status (name, created_at);
CREATE INDEX idx_workflow_status_failed ON {s}workflow_status (status, created_at)
    WHERE status IN ('CANCELLED', 'ERROR', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
-- "Which runs of this workflow failed?": a failed status and a name together.
CREATE INDEX idx_workflow_status_failed_name ON {s}workflow_status (status, name, created_at)
    WHERE status IN ('CANCELLED', 'ERROR', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
-- Active workflows in creation order: list_queued_workflows and global timeouts too.
CREATE INDEX idx_workflow_status_active ON {s}workflow_status (created_at)
    WHERE status IN ('DELAYED', 'ENQUEUED', 'PENDING');
-- (The forked_from index came with migration 4, for send_to_forks.)
CREATE INDEX idx_workflow_status_schedule_name ON {s}workflow_status (schedule_name)
    WHERE schedule_name IS NOT NULL;
-- No attributes index: SQLite cannot filter on attributes (list_workflows refuses it).
