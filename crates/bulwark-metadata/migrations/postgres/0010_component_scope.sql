-- A component an SBOM attached in one repository lists is that repository's claim, not the
-- artifact's: it shows in that repository's report (and SBOMs, impact answers) and in no
-- other repository holding the same digest. NULL: found in the artifact's own content, true
-- wherever it is stored.
ALTER TABLE artifact_components ADD COLUMN repository TEXT;

-- Set when a scan is asked for while one runs (an SBOM was attached meanwhile): the running
-- scan may have read before the change, so the scan is queued again when it ends.
ALTER TABLE scans ADD COLUMN rescan BIGINT NOT NULL DEFAULT 0;
