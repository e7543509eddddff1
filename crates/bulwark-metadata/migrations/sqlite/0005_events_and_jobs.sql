-- The outbox: one row per change of what a repository holds, written in the transaction that
-- makes the change, so scanning, webhooks and audit that read it lose nothing to a crash.
-- Consumers keep their own position. Keep in step with ../postgres/0005_events_and_jobs.sql.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    tag TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE event_cursors (
    consumer TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

-- Background jobs are claimed for a while by one node at a time.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
