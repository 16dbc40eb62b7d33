-- +goose Up
-- The credit ledger (see internal/billing/doc.go). Every workspace has four accounts, created on
-- their first transfer: available and held (the customer's credits) and grants and revenue (the
-- platform's accounts, one sub-account per workspace so that no platform row is a hot spot).
-- balance is credits minus debits in micro-credits; available and held never go below zero.
-- The rows have no foreign key to workspaces: the ledger is a financial record and outlives a
-- deleted workspace (its sums must still balance).
CREATE TABLE billing_accounts (
    workspace_id TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('available', 'held', 'grants', 'revenue')),
    balance      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind),
    CHECK (kind IN ('grants', 'revenue') OR balance >= 0)
);

-- Transfers are append-only: one row per leg; an operation (a grant, a settle) is one or more
-- legs sharing its idempotency key and the hash of its input.
CREATE TABLE billing_transfers (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    leg             INTEGER NOT NULL,
    input_hash      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    debit_account   TEXT NOT NULL,
    credit_account  TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    hold_id         TEXT,
    reference       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX billing_transfers_idem_key ON billing_transfers (workspace_id, idempotency_key, leg);
CREATE INDEX billing_transfers_workspace_idx ON billing_transfers (workspace_id, id);

-- Holds: two-phase reservations (available → held), resolved at most once by a settle, a release
-- or their expiry. amount is what the hold holds now (0 once resolved).
CREATE TABLE billing_holds (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    reference    TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    reserved     BIGINT NOT NULL,
    settled      BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'settled', 'released', 'expired')),
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX billing_holds_reference_key ON billing_holds (workspace_id, reference);
CREATE INDEX billing_holds_due_idx ON billing_holds (status, expires_at);

-- +goose Down
DROP TABLE billing_holds;
DROP TABLE billing_transfers;
DROP TABLE billing_accounts;
