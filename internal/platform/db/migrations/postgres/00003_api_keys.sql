-- +goose Up
-- Workspace API keys. Only a SHA-256 hash of the secret is stored; prefix and last_four are the
-- non-secret parts shown in lists. scopes is a JSON array of scope names.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    last_four    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_keys_token_hash_key ON api_keys (token_hash);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, id);

-- +goose Down
DROP TABLE api_keys;
