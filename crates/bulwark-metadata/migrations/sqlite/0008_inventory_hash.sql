-- A hash of what a finished scan stored (components, secrets, distribution), so a re-scan
-- that finds the same leaves the stored rows and the attached SBOMs as they are.
ALTER TABLE scans ADD COLUMN inventory_hash TEXT;
