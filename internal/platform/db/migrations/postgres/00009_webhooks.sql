-- +goose Up
-- Webhooks. An endpoint's signing secret is sealed with the master keyring (platform/secret);
-- during a rotation the previous secret is kept, sealed, until previous_secret_expires_at (both
-- signatures are sent meanwhile). events, agent_ids and headers are JSON; enabled is 0/1.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    workspace_id               TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    events                     TEXT NOT NULL,
    agent_ids                  TEXT NOT NULL,
    headers                    TEXT NOT NULL,
    enabled                    INTEGER NOT NULL,
    disabled_reason            TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT NOT NULL,
    previous_secret_expires_at BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id, id);

-- A message is one event for one endpoint: its id is the webhook-id, the same on every attempt,
-- and payload is the exact body sent. (endpoint_id, event_id) is unique: the fan-out makes at most
-- one message per event and endpoint.
CREATE TABLE webhook_messages (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    last_attempt_at BIGINT
);
CREATE UNIQUE INDEX webhook_messages_endpoint_event_key ON webhook_messages (endpoint_id, event_id);
CREATE INDEX webhook_messages_workspace_idx ON webhook_messages (workspace_id, endpoint_id, id);

-- One row per HTTP attempt; response is the first 4 KiB of the answer.
CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    duration_ms  BIGINT NOT NULL,
    response     TEXT NOT NULL,
    error        TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (workspace_id, endpoint_id, id);

-- The fan-out cursor: the last event (by ID) of the outbox that the dispatcher has fanned out.
CREATE TABLE webhook_dispatch (
    id            INTEGER PRIMARY KEY,
    last_event_id TEXT NOT NULL
);
INSERT INTO webhook_dispatch (id, last_event_id) VALUES (1, '');

-- +goose Down
DROP TABLE webhook_dispatch;
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
