-- Who made each change, under which request and from where: the request context of the
-- operation that wrote the event (NULL for work no client asked for, such as garbage
-- collection). Keep in step with ../postgres/0006_event_actors.sql.
ALTER TABLE events ADD COLUMN actor TEXT;
ALTER TABLE events ADD COLUMN token_id TEXT;
ALTER TABLE events ADD COLUMN client_address TEXT;
ALTER TABLE events ADD COLUMN request_id TEXT;
