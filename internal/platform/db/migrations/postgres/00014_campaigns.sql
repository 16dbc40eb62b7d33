-- +goose Up
-- Campaigns: an outbound dialer over a contact list. The settings are columns or JSON documents
-- (from_numbers, calling_window, retry, variables). in_flight is the campaign's own count of live
-- calls, taken in the transaction that places a call and returned in the one that ends it, so
-- max_concurrent_calls is one conditional UPDATE on both stores; pace_tat is the pacer's
-- theoretical arrival time (GCRA, Unix ms). tick_gen names the one live chain of dialer jobs.
CREATE TABLE campaigns (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    agent_id             TEXT NOT NULL,
    list_id              TEXT NOT NULL,
    from_numbers         TEXT NOT NULL,
    credential_id        TEXT NOT NULL,
    calling_window       TEXT NOT NULL,
    max_concurrent_calls INTEGER NOT NULL,
    calls_per_minute     INTEGER NOT NULL,
    retry                TEXT NOT NULL,
    variables            TEXT NOT NULL,
    status               TEXT NOT NULL,
    sub_status           TEXT NOT NULL,
    pause_reason         TEXT NOT NULL,
    in_flight            INTEGER NOT NULL CHECK (in_flight >= 0),
    pace_tat             BIGINT NOT NULL,
    dialed               BIGINT NOT NULL,
    tick_gen             BIGINT NOT NULL,
    ticked_at            BIGINT,
    start_at             BIGINT,
    started_at           BIGINT,
    ended_at             BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX campaigns_workspace_idx ON campaigns (workspace_id, id);
CREATE INDEX campaigns_live_idx ON campaigns (status, ticked_at);

-- The audience of a campaign, copied from its list when it starts: one row per contact, its
-- time zone ('' = the workspace's), its resolved prompt variables, and where it stands.
-- status: pending (due at next_at), in_progress (a call is live), done (last_outcome says how).
CREATE TABLE campaign_contacts (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    campaign_id  TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL,
    timezone     TEXT NOT NULL,
    variables    TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_at      BIGINT NOT NULL,
    last_outcome TEXT NOT NULL,
    last_call_id TEXT NOT NULL,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_contacts_due_idx ON campaign_contacts (campaign_id, status, timezone, next_at);

-- Every attempt to call a contact. (campaign_id, contact_id, attempt) is unique: the dial of an
-- attempt is written in the same transaction as this row, so no attempt is ever dialled twice.
CREATE TABLE campaign_attempts (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    campaign_id      TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id       TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    call_id          TEXT NOT NULL,
    from_number      TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    cost_micros      BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    ended_at         BIGINT
);
CREATE UNIQUE INDEX campaign_attempts_contact_attempt_key ON campaign_attempts (campaign_id, contact_id, attempt);
CREATE INDEX campaign_attempts_call_idx ON campaign_attempts (workspace_id, call_id);
CREATE INDEX campaign_attempts_recent_idx ON campaign_attempts (campaign_id, ended_at);

-- +goose Down
DROP TABLE campaign_attempts;
DROP TABLE campaign_contacts;
DROP TABLE campaigns;
