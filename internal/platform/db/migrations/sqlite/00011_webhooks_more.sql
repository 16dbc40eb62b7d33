-- +goose Up
-- Gap-free fan-out (docs/decisions/0008): instead of a cursor over event IDs, which PostgreSQL
-- assigns before commit, every event that a webhook may want gets a row in webhook_outbox, written
-- by a trigger in the very transaction that inserts the event. The dispatcher claims rows, fans
-- them out and deletes them in one transaction. Only events of a workspace that has an enabled
-- endpoint are queued (others have nobody to go to); ping is sent by the test call itself.
CREATE TABLE webhook_outbox (
    event_id TEXT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE
);

-- +goose StatementBegin
CREATE TRIGGER events_webhook_outbox AFTER INSERT ON events
WHEN NEW.workspace_id IS NOT NULL AND NEW.type <> 'ping'
    AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE workspace_id = NEW.workspace_id AND enabled = 1)
BEGIN
    INSERT INTO webhook_outbox (event_id) VALUES (NEW.id);
END;
-- +goose StatementEnd

-- Events after the old cursor were not fanned out yet: queue them.
INSERT INTO webhook_outbox (event_id)
SELECT id FROM events
WHERE id > (SELECT last_event_id FROM webhook_dispatch WHERE id = 1) AND workspace_id IS NOT NULL AND type <> 'ping';
DROP TABLE webhook_dispatch;

-- failing_since: when the endpoint's current run of failed attempts began (NULL while it
-- succeeds); an endpoint failing for 5 days is disabled.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since BIGINT;

-- Retention (pruning by age) and replay (messages since a time).
CREATE INDEX webhook_attempts_created_idx ON webhook_attempts (created_at);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);
CREATE INDEX webhook_messages_endpoint_created_idx ON webhook_messages (workspace_id, endpoint_id, created_at);

-- +goose Down
DROP INDEX webhook_messages_endpoint_created_idx;
DROP INDEX webhook_messages_created_idx;
DROP INDEX webhook_attempts_created_idx;
ALTER TABLE webhook_endpoints DROP COLUMN failing_since;
CREATE TABLE webhook_dispatch (
    id            INTEGER PRIMARY KEY,
    last_event_id TEXT NOT NULL
);
INSERT INTO webhook_dispatch (id, last_event_id)
SELECT 1, COALESCE((SELECT MAX(id) FROM events WHERE id < COALESCE((SELECT MIN(event_id) FROM webhook_outbox), '~')), '');
DROP TRIGGER events_webhook_outbox;
DROP TABLE webhook_outbox;
