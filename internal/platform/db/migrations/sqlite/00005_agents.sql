-- +goose Up
-- Workspace settings (the workspace's overrides of the platform defaults, a JSON object; a
-- workspace without a row overrides nothing), agents (their own settings, a JSON object, with
-- name and status copied out for lists) and the immutable versions of every agent.
CREATE TABLE workspace_settings (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    settings     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE agents (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    document     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    copied_from  TEXT
);
CREATE INDEX agents_workspace_idx ON agents (workspace_id, id);

CREATE TABLE agent_versions (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    agent_id      TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    document      TEXT NOT NULL,
    changes       TEXT NOT NULL,
    author        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    restored_from INTEGER,
    PRIMARY KEY (agent_id, number)
);

-- +goose Down
DROP TABLE agent_versions;
DROP TABLE agents;
DROP TABLE workspace_settings;
