-- SQLite has no notifications: a writer wakes waiters in its own process directly, and
-- other processes' commits are noticed through PRAGMA data_version (see the notifier).

-- send_to_forks follows forked_from from a destination to every fork made from it.
CREATE INDEX idx_workflow_status_forked_from ON workflow_status (forked_from)
    WHERE forked_from IS NOT NULL;
