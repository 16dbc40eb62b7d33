-- +goose Up
-- Provider keys (bring your own key): a workspace's API key for an LLM, STT or TTS provider,
-- at most one per provider. api_key holds the key sealed by platform/secret (bound to the
-- workspace, this table, this column and the row's ID); last_four is the display hint.
CREATE TABLE provider_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider     TEXT NOT NULL,
    api_key      TEXT NOT NULL,
    last_four    TEXT NOT NULL,
    base_url     TEXT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX provider_keys_workspace_provider_idx ON provider_keys (workspace_id, provider);

-- +goose Down
DROP TABLE provider_keys;
