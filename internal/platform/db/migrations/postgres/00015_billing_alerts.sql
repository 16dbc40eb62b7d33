-- +goose Up
-- Low-balance alerts and expiring credits (see internal/billing/doc.go).
-- low_threshold (on the available row only): the workspace's low-balance threshold in
-- micro-credits, set by its owner; 0 = no credits.low alert (credits.depleted always applies).
-- expiring (on the available row only): the sum of the remaining of the workspace's active credit
-- lots; never more than the available balance. Both are 0 on the other rows.
ALTER TABLE billing_accounts ADD COLUMN low_threshold BIGINT NOT NULL DEFAULT 0 CHECK (low_threshold >= 0);
ALTER TABLE billing_accounts ADD COLUMN expiring BIGINT NOT NULL DEFAULT 0 CHECK (expiring >= 0);

-- Credit lots: the expiring part of the credits a grant (or a transfer from another workspace)
-- brought in. remaining is what is left unspent; spending takes from the lot that expires first.
-- At its expiry the expiry job moves the remaining out of available (a transfer of kind expire,
-- available → grants) and marks the lot expired. Like the ledger, no foreign key.
CREATE TABLE billing_credit_lots (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    transfer_id  TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    remaining    BIGINT NOT NULL CHECK (remaining >= 0),
    status       TEXT NOT NULL CHECK (status IN ('active', 'expired')),
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX billing_credit_lots_ws_idx ON billing_credit_lots (workspace_id, status, expires_at, id);
CREATE INDEX billing_credit_lots_due_idx ON billing_credit_lots (status, expires_at);

-- +goose Down
DROP TABLE billing_credit_lots;
ALTER TABLE billing_accounts DROP COLUMN expiring;
ALTER TABLE billing_accounts DROP COLUMN low_threshold;
