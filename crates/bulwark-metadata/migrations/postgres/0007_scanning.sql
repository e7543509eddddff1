-- Scanning: what each artifact holds (read once per layer), what of it is vulnerable (matched
-- once per distinct package version, re-matched when the advisories naming it change), and a
-- durable queue of scans. Times are Unix milliseconds. Keep in step with
-- ../sqlite/0007_scanning.sql.

-- Whether a push queues a scan of what it stored (on by default).
ALTER TABLE projects ADD COLUMN scan_on_push BIGINT NOT NULL DEFAULT 1;

-- Scans, reports and impact queries find a manifest by digest alone, in whichever repository.
CREATE INDEX manifests_digest ON manifests (digest);

-- One row per artifact (manifest digest) asked to be scanned: the queue and its outcome.
-- A pending scan runs once `not_before` has passed; a running one whose lease expired (its
-- node died) is taken again.
CREATE TABLE scans (
    digest TEXT COLLATE "C" PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    reason TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    queued_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    holder TEXT,
    lease_until BIGINT,
    -- The final filesystem's distribution (`debian 12`), and the warnings of the read (JSON).
    os TEXT,
    warnings TEXT,
    -- When the artifact's inventory was first complete: findings are no older than it.
    first_done_at BIGINT
);
CREATE INDEX scans_due ON scans (status, not_before);

-- What one layer holds and deletes (JSON), keyed by the layer's digest: read once, shared by
-- every image that has the layer.
CREATE TABLE layer_inventories (
    digest TEXT COLLATE "C" PRIMARY KEY,
    inventory TEXT NOT NULL,
    read_at BIGINT NOT NULL
);

-- The components of each scanned artifact's final filesystem (an index: the union of its
-- platforms'), with the package advisories list them under: the impact index.
CREATE TABLE artifact_components (
    digest TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    purl TEXT,
    path TEXT NOT NULL,
    layer_digest TEXT,
    -- For an index, the platform manifest the component came from.
    platform TEXT,
    -- Ecosystem key and normalised name as advisories list them, and the version they are
    -- compared with (a distribution's source version); NULL when no advisory can name it.
    ecosystem TEXT,
    package TEXT,
    package_version TEXT,
    PRIMARY KEY (digest, position)
);
CREATE INDEX artifact_components_package ON artifact_components (ecosystem, package, package_version);

-- Leaked secrets in each scanned artifact's final filesystem: the rule, where, and the value
-- redacted (the whole value is stored nowhere); the fingerprint tells one secret from
-- another without it.
CREATE TABLE artifact_secrets (
    digest TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    rule TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    path TEXT NOT NULL,
    line BIGINT NOT NULL,
    redacted TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    layer_digest TEXT,
    platform TEXT,
    PRIMARY KEY (digest, position)
);

-- Every distinct package version any artifact holds, and when it was last matched.
CREATE TABLE matched_packages (
    ecosystem TEXT COLLATE "C" NOT NULL,
    package TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    matched_at BIGINT NOT NULL,
    PRIMARY KEY (ecosystem, package, version)
);

-- The vulnerabilities affecting each matched package version (detail: JSON of the match).
CREATE TABLE package_findings (
    ecosystem TEXT COLLATE "C" NOT NULL,
    package TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    vulnerability TEXT COLLATE "C" NOT NULL,
    severity_rank BIGINT NOT NULL,
    malicious BIGINT NOT NULL DEFAULT 0,
    detail TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (ecosystem, package, version, vulnerability)
);

-- Every id a finding is known by (its name, its records, their aliases): the impact query's
-- way in from any of them.
CREATE TABLE package_finding_ids (
    id TEXT COLLATE "C" NOT NULL,
    ecosystem TEXT COLLATE "C" NOT NULL,
    package TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    vulnerability TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (id, ecosystem, package, version, vulnerability)
);
CREATE INDEX package_finding_ids_finding ON package_finding_ids (ecosystem, package, version, vulnerability);

-- Findings as they appeared and went away, with the time.
CREATE TABLE finding_changes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ecosystem TEXT COLLATE "C" NOT NULL,
    package TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    vulnerability TEXT COLLATE "C" NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('added', 'resolved')),
    at BIGINT NOT NULL
);
CREATE INDEX finding_changes_package ON finding_changes (ecosystem, package, version);

-- The packages each advisory import touched (before and after), so a re-match reads only
-- those.
CREATE TABLE advisory_changes (
    import_id BIGINT NOT NULL,
    ecosystem TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (import_id, ecosystem, name)
);

-- Small named counters (the last advisory import re-matched).
CREATE TABLE scan_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
