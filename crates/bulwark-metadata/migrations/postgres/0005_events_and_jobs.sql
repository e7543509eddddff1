-- The outbox: one row per change of what a repository holds, written in the transaction that
-- makes the change, so scanning, webhooks and audit that read it lose nothing to a crash.
-- Consumers keep their own position. Ids are taken under a transaction-scoped advisory lock
-- just before commit, so they become visible in id order and a consumer reading past its
-- position never skips one. Keep in step with ../sqlite/0005_events_and_jobs.sql.
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    repository TEXT COLLATE "C" NOT NULL,
    digest TEXT NOT NULL,
    tag TEXT COLLATE "C",
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
