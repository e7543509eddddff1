-- Vulnerability advisories (OSV records) and what is derived from them for lookups.
-- A record's own times (modified, withdrawn) are Unix microseconds, because records carry
-- sub-millisecond timestamps and "newer modified replaces" must not tie on them; import times
-- are Unix milliseconds like every other table. Keep in step with ../sqlite/0003_advisories.sql.

-- One row per record id. A withdrawn record keeps its row (withdrawn set) and matches nothing.
CREATE TABLE advisories (
    id TEXT COLLATE "C" PRIMARY KEY,
    modified BIGINT NOT NULL,
    withdrawn BIGINT,
    -- The record as imported (JSON records byte for byte; YAML ones re-serialised as JSON), so
    -- an index rebuilt from here matches exactly what was imported.
    record TEXT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- The packages a record affects: ecosystem key (with its normalised release, `Debian:12`) and
-- the name normalised per ecosystem, as bulwark-advisory's PackageKey writes them.
CREATE TABLE advisory_packages (
    ecosystem TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    advisory_id TEXT COLLATE "C" NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, advisory_id)
);
CREATE INDEX advisory_packages_advisory ON advisory_packages (advisory_id);

-- A record's `aliases` (the same vulnerability elsewhere: CVE, GHSA, PYSEC, …) and `related`.
CREATE TABLE advisory_aliases (
    advisory_id TEXT COLLATE "C" NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('alias', 'related')),
    other_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (advisory_id, kind, other_id)
);
CREATE INDEX advisory_aliases_other ON advisory_aliases (other_id);

-- Per ecosystem key: how many records name it, and which import last covered it.
CREATE TABLE advisory_ecosystems (
    ecosystem TEXT COLLATE "C" PRIMARY KEY,
    records BIGINT NOT NULL,
    withdrawn BIGINT NOT NULL,
    last_import_at BIGINT NOT NULL,
    last_source TEXT NOT NULL
);

-- One row per applied import of one source (a path or a downloaded archive), and per download
-- the server answered "not modified" (all counts zero). `etag` is the archive's HTTP entity
-- tag, sent back on the next update so an unchanged archive is not downloaded again.
CREATE TABLE advisory_imports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    finished_at BIGINT NOT NULL,
    added BIGINT NOT NULL DEFAULT 0,
    replaced BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    withdrawn BIGINT NOT NULL DEFAULT 0,
    malformed BIGINT NOT NULL DEFAULT 0,
    etag TEXT
);
CREATE INDEX advisory_imports_source ON advisory_imports (source);
