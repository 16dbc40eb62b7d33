-- +goose Up
-- Workspace invitations. Only a SHA-256 hash of the token is stored. status is pending until the
-- invitation is accepted, declined or revoked ("expired" marks a lapsed pending invitation that a
-- new invitation to the same address replaced); a pending invitation past expires_at is expired.
-- At most one pending invitation per workspace and address.
CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email            TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash       TEXT NOT NULL,
    invited_by       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    send_count       INTEGER NOT NULL DEFAULT 1,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    closed_at        BIGINT,
    accepted_by      TEXT
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (workspace_id, email_normalized) WHERE status = 'pending';
CREATE INDEX invitations_workspace_idx ON invitations (workspace_id, id);

-- +goose Down
DROP TABLE invitations;
