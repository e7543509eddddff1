-- A session now carries the state of its sha256 from one chunk to the next, so a chunked
-- upload is hashed once, as it arrives, and parts no longer keep a digest of their own.
-- Sessions in flight at the upgrade have no such state: they are dropped, their clients
-- start those uploads again, and the upload sweep reclaims what they had staged.
DELETE FROM upload_parts;
DELETE FROM upload_sessions;
ALTER TABLE upload_parts DROP COLUMN sha256;
ALTER TABLE upload_sessions ADD COLUMN hasher_state TEXT;
