-- Webhooks: subscriptions per project (or system-wide, project_id NULL), the deliveries the
-- outbox fans out to them, and every attempt at one. The outbox also carries what happens
-- beside pushes and deletions now (scans completed, critical findings appearing, pulls
-- refused), with a JSON `detail`. Keep in step with ../postgres/0013_webhooks.sql.
ALTER TABLE events ADD COLUMN detail TEXT;

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT REFERENCES projects(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- The HMAC key deliveries are signed with: the server must hold it to sign, so it is
    -- kept as given out (never logged, never shown again).
    secret TEXT NOT NULL,
    -- JSON array of event types; empty: every type.
    events TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    -- What this delivery is of: one per webhook, so a retry or a second fan-out of the
    -- same event never makes a second delivery.
    delivery_key TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    -- The CloudEvent, as sent (every attempt sends the same bytes, signed anew).
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (webhook_id, delivery_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

CREATE TABLE webhook_attempts (
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    millis BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
