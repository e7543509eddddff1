-- Governance: each project's policy document with its history, the keys a project trusts
-- for signatures, exceptions that expire, and uploaded VEX documents. Times are Unix
-- milliseconds. Keep in step with ../sqlite/0011_governance.sql.

-- Every version of every policy document, as submitted (TOML or YAML) and as read back
-- (canonical TOML); the newest version of a scope is in force. `scope` is a project's
-- name, or '' for the system-wide policy every project may only tighten.
CREATE TABLE policy_versions (
    scope TEXT NOT NULL,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    canonical TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, version)
);

-- Public keys whose signatures a project accepts, by SubjectPublicKeyInfo fingerprint.
CREATE TABLE trusted_keys (
    project TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    pem TEXT NOT NULL,
    name TEXT,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (project, fingerprint)
);

-- Waivers of one vulnerability; `project` NULL: system-wide. Never deleted by expiry (an
-- expired exception stops applying by itself and stays as a record); removed on request.
CREATE TABLE policy_exceptions (
    id TEXT PRIMARY KEY,
    project TEXT,
    vulnerability TEXT NOT NULL,
    package TEXT,
    repository TEXT,
    digest TEXT,
    reason TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX policy_exceptions_project ON policy_exceptions (project);

-- VEX documents uploaded to a project (those attached to an image as referrers are read
-- from the registry), by the digest of their bytes.
CREATE TABLE vex_documents (
    project TEXT NOT NULL,
    digest TEXT NOT NULL,
    format TEXT NOT NULL,
    document BYTEA NOT NULL,
    statements BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (project, digest)
);

-- A counter moved by every change above, in the same transaction: what cached decisions
-- are compared with.
CREATE TABLE governance_generation (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    value BIGINT NOT NULL
);
INSERT INTO governance_generation (singleton, value) VALUES (1, 0);

-- The newest finished scan, cheaply (decision caches compare with it).
CREATE INDEX scans_finished ON scans (finished_at);
