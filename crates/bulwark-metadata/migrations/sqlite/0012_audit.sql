-- The audit log: one record per request (and per administrative command run on the store),
-- chained by hash, with signed checkpoints. Times are Unix milliseconds; hashes and
-- signatures are lowercase hex. Keep in step with ../postgres/0012_audit.sql.

-- `seq` counts from 1 without gaps; `prev_hash` is the `hash` of record seq - 1 (64 zeros
-- for seq 1, or the hash a retention cut's checkpoint keeps). How `hash` is computed is
-- bulwark-audit's `record_hash` (ARCHITECTURE.md, "The audit log").
CREATE TABLE audit_records (
    seq BIGINT PRIMARY KEY,
    at_millis BIGINT NOT NULL,
    actor TEXT NOT NULL,
    token_id TEXT,
    client_address TEXT NOT NULL,
    request_id TEXT NOT NULL,
    category TEXT NOT NULL,
    operation TEXT NOT NULL,
    target TEXT NOT NULL,
    project TEXT,
    outcome TEXT NOT NULL,
    status BIGINT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_records_time ON audit_records (at_millis);
CREATE INDEX audit_records_project ON audit_records (project, seq);
CREATE INDEX audit_records_actor ON audit_records (actor, seq);

-- Signed statements "the chain up to record seq ends in hash": `checkpoint`s are made as
-- records are written; a `cut` is made by retention when it removes the records up to seq.
CREATE TABLE audit_checkpoints (
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (seq, kind)
);

-- The end of the chain: the one row every writer locks first, so records from several
-- nodes form one chain.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    CHECK (id = 1)
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
