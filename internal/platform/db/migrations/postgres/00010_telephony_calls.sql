-- +goose Up
-- Telephony (bring your own provider). A credential is one provider account of a workspace:
-- fields holds its non-secret fields (JSON object), secrets its secret fields as one JSON object
-- sealed by platform/secret (bound to the workspace, this table, column secrets and the row's
-- ID), hints the last four characters of each secret field (JSON object) for display.
CREATE TABLE telephony_credentials (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    name          TEXT NOT NULL,
    fields        TEXT NOT NULL,
    secrets       TEXT NOT NULL,
    hints         TEXT NOT NULL,
    verify_status TEXT NOT NULL,
    verify_error  TEXT NOT NULL,
    verified_at   BIGINT,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX telephony_credentials_workspace_idx ON telephony_credentials (workspace_id, id);

-- A phone number of the workspace at one of its credentials; e164 is unique in the workspace.
-- routing_url (optional) is the customer's routing webhook for inbound calls; routing_secret is
-- its signing secret (whsec_…), sealed like credentials' secrets ('' when there is no webhook).
CREATE TABLE phone_numbers (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    e164             TEXT NOT NULL,
    credential_id    TEXT NOT NULL REFERENCES telephony_credentials (id) ON DELETE CASCADE,
    label            TEXT NOT NULL,
    inbound_agent_id TEXT,
    routing_url      TEXT NOT NULL,
    routing_secret   TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX phone_numbers_workspace_e164_key ON phone_numbers (workspace_id, e164);

-- Calls. status moves forward only (queued, initiating, ringing, in_progress, then one end);
-- each state has its timestamp. credential_id is empty for the built-in simulator. cost and
-- hold are micro-credits. variables, metadata and overrides are JSON objects.
CREATE TABLE calls (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    direction        TEXT NOT NULL,
    status           TEXT NOT NULL,
    agent_id         TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    credential_id    TEXT NOT NULL,
    provider         TEXT NOT NULL,
    provider_call_id TEXT NOT NULL,
    from_number      TEXT NOT NULL,
    to_number        TEXT NOT NULL,
    variables        TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    overrides        TEXT NOT NULL,
    end_reason       TEXT NOT NULL,
    provider_reason  TEXT NOT NULL,
    note             TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    hold_micros      BIGINT NOT NULL,
    cost_micros      BIGINT NOT NULL,
    test             INTEGER NOT NULL,
    queued_at        BIGINT NOT NULL,
    initiating_at    BIGINT,
    ringing_at       BIGINT,
    in_progress_at   BIGINT,
    ended_at         BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX calls_workspace_idx ON calls (workspace_id, id);
CREATE INDEX calls_workspace_status_idx ON calls (workspace_id, status, id);
CREATE INDEX calls_provider_idx ON calls (workspace_id, provider, provider_call_id);
-- The stale-call sweep reads live calls by age.
CREATE INDEX calls_live_idx ON calls (updated_at) WHERE status IN ('queued', 'initiating', 'ringing', 'in_progress');

-- The timeline of a call: every state change and every provider report that changed nothing
-- (a late or duplicate callback), in arrival order.
CREATE TABLE call_events (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    call_id         TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    source          TEXT NOT NULL,
    applied         INTEGER NOT NULL,
    detail          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX call_events_call_idx ON call_events (workspace_id, call_id, id);

-- The live calls of a workspace, counted in the same transaction as each call's start and end,
-- so the concurrent-call limit is one conditional UPDATE (active < limit) on both stores.
CREATE TABLE call_slots (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    active       INTEGER NOT NULL CHECK (active >= 0)
);

-- Call triggers: a URL a customer's system (a CRM) posts JSON to, to start a call. secret is
-- sealed (platform/secret); mapping (JSON) says where in the posted JSON the number and the
-- variables are.
CREATE TABLE call_triggers (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    secret       TEXT NOT NULL,
    mapping      TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX call_triggers_workspace_idx ON call_triggers (workspace_id, id);

-- +goose Down
DROP TABLE call_triggers;
DROP TABLE call_slots;
DROP TABLE call_events;
DROP TABLE calls;
DROP TABLE phone_numbers;
DROP TABLE telephony_credentials;
