-- +goose Up
-- Per-workspace overrides of the platform price book (internal/billing/pricebook.json), set by the
-- operator. price is in micro-credits per the kind's unit (call_seconds per minute, stt_seconds per
-- second, tts_characters per 1,000 characters, llm_*_tokens per 1,000,000 tokens). An override
-- replaces the platform's entry of the same kind and key, or adds one.
CREATE TABLE billing_price_overrides (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('call_seconds', 'stt_seconds', 'tts_characters', 'llm_input_tokens', 'llm_output_tokens')),
    price_key    TEXT NOT NULL,
    price        BIGINT NOT NULL CHECK (price >= 0),
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, price_key)
);

-- Usage records, rated and debited (billing.RecordUsage): one row per record ID per workspace,
-- written in the transaction of its debit. cost is what it was rated (micro-credits); transfer_id
-- is its debit (NULL when cost is 0). The sum of cost equals the sum of the usage debits of the
-- ledger. Like the ledger, the rows have no foreign key: they outlive a deleted workspace.
CREATE TABLE billing_usage (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    call_id      TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity >= 0),
    provider     TEXT NOT NULL,
    model        TEXT NOT NULL,
    cost         BIGINT NOT NULL CHECK (cost >= 0),
    transfer_id  TEXT,
    occurred_at  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX billing_usage_id_key ON billing_usage (workspace_id, id);
CREATE INDEX billing_usage_occurred_idx ON billing_usage (workspace_id, occurred_at);

-- +goose Down
DROP TABLE billing_usage;
DROP TABLE billing_price_overrides;
