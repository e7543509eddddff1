-- Random keys of this installation, made on first use and shared by every node (a leaked
-- secret's fingerprint in reports is keyed with one). Hex.
CREATE TABLE installation_keys (
    name TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
