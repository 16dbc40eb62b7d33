package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// store is the SQL of the ledger. Every method takes the workspace ID and filters on it, except
// the operator-wide reads named as such (sums for Verify, dueHolds for the expiry sweep).
type store struct{}

// leg is one transfer of an operation.
type leg struct {
	kind, from, to string
	amount         int64
	holdID         string
	reference      string
	reason         string
}

// operation is what post writes: legs under one idempotency key.
type operation struct {
	wsID, key, hash, actor string
	legs                   []leg
	now                    time.Time
	// skipLots: a debit of available does not take from the lots (the expiry of a lot, which
	// zeroes the lot itself).
	skipLots bool
	// consumed, when not nil, receives the lot portions a debit of available took.
	consumed *[]lotPortion
}

// errReplay is returned by post when the key was already used; the caller reads the first result.
var errReplay = errors.New("billing: idempotency key already used")

// post writes the operation's transfers and applies them to the balances, all through q (the
// caller's transaction). It returns errReplay, writing nothing, when the key was already used
// (whatever the input: the caller compares hashes), and errInsufficient when an available or
// held balance would go below zero (the caller's transaction must then roll back).
func (st store) post(ctx context.Context, q db.Querier, op operation) ([]LedgerEntry, error) {
	out := make([]LedgerEntry, 0, len(op.legs))
	for i, l := range op.legs {
		t := LedgerEntry{ID: id.New(id.Transfer), WorkspaceID: op.wsID, Kind: l.kind, From: l.from, To: l.to,
			Amount: FormatCredits(l.amount), AmountMicros: l.amount, HoldID: l.holdID, Reference: l.reference,
			Reason: l.reason, IdempotencyKey: op.key, Actor: op.actor, CreatedAt: op.now}
		var hold any
		if l.holdID != "" {
			hold = l.holdID
		}
		res, err := q.ExecContext(ctx, `INSERT INTO billing_transfers
(id, workspace_id, idempotency_key, leg, input_hash, kind, debit_account, credit_account, amount, hold_id, reference, reason, actor, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (workspace_id, idempotency_key, leg) DO NOTHING`,
			t.ID, op.wsID, op.key, i, op.hash, l.kind, l.from, l.to, l.amount, hold, l.reference, l.reason, op.actor, db.Time(op.now))
		if err != nil {
			return nil, fmt.Errorf("insert transfer: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			if i > 0 {
				return nil, fmt.Errorf("billing: key %q: leg %d exists without leg 0", op.key, i)
			}
			return nil, errReplay
		}
		out = append(out, t)
	}
	delta := map[string]int64{}
	for _, l := range op.legs {
		delta[l.from] -= l.amount
		delta[l.to] += l.amount
	}
	for _, kind := range accountOrder {
		d, ok := delta[kind]
		if !ok || d == 0 {
			continue
		}
		if d < 0 && kind == Available {
			after, ok, err := st.debitAvailable(ctx, q, op.wsID, -d)
			if err != nil {
				return nil, fmt.Errorf("debit %s: %w", kind, err)
			}
			if !ok {
				return nil, errInsufficient
			}
			portions, err := st.afterDebit(ctx, q, op.wsID, -d, after, !op.skipLots, op.now)
			if err != nil {
				return nil, err
			}
			if op.consumed != nil {
				*op.consumed = append(*op.consumed, portions...)
			}
			continue
		}
		if d < 0 && !mayGoNegative(kind) {
			res, err := q.ExecContext(ctx, `UPDATE billing_accounts SET balance = balance - $3
WHERE workspace_id = $1 AND kind = $2 AND balance >= $3`, op.wsID, kind, -d)
			if err != nil {
				return nil, fmt.Errorf("debit %s: %w", kind, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return nil, err
			} else if n == 0 {
				if kind == Held {
					return nil, fmt.Errorf("billing: held balance of %s below its holds", op.wsID)
				}
				return nil, errInsufficient
			}
			continue
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO billing_accounts (workspace_id, kind, balance) VALUES ($1, $2, $3)
ON CONFLICT (workspace_id, kind) DO UPDATE SET balance = billing_accounts.balance + excluded.balance`, op.wsID, kind, d); err != nil {
			return nil, fmt.Errorf("credit %s: %w", kind, err)
		}
	}
	return out, nil
}

const transferCols = `id, workspace_id, kind, debit_account, credit_account, amount, hold_id, reference, reason, idempotency_key, actor, created_at`

func scanTransfer(sc interface{ Scan(...any) error }) (LedgerEntry, error) {
	var t LedgerEntry
	var hold sql.NullString
	if err := sc.Scan(&t.ID, &t.WorkspaceID, &t.Kind, &t.From, &t.To, &t.AmountMicros, &hold, &t.Reference, &t.Reason,
		&t.IdempotencyKey, &t.Actor, (*db.Time)(&t.CreatedAt)); err != nil {
		return LedgerEntry{}, err
	}
	t.Amount = FormatCredits(t.AmountMicros)
	t.HoldID = hold.String
	return t, nil
}

func scanTransfers(rows *sql.Rows, err error) ([]LedgerEntry, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// byKey returns the transfers written under the key, in leg order, and their input hash.
func (store) byKey(ctx context.Context, q db.Querier, wsID, key string) ([]LedgerEntry, string, error) {
	var hash string
	err := q.QueryRowContext(ctx, `SELECT input_hash FROM billing_transfers WHERE workspace_id = $1 AND idempotency_key = $2 AND leg = 0`, wsID, key).Scan(&hash)
	if err != nil {
		return nil, "", err
	}
	ts, err := scanTransfers(q.QueryContext(ctx, `SELECT `+transferCols+` FROM billing_transfers
WHERE workspace_id = $1 AND idempotency_key = $2 ORDER BY leg`, wsID, key))
	return ts, hash, err
}

// list returns the workspace's transfers, newest first, with IDs below beforeID.
func (store) list(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]LedgerEntry, error) {
	return scanTransfers(q.QueryContext(ctx, `SELECT `+transferCols+` FROM billing_transfers
WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, wsID, beforeID, limit))
}

// balances returns the workspace's available row and held balance (0 for accounts not yet used).
func (st store) balances(ctx context.Context, q db.Querier, wsID string) (available availableAcct, held int64, err error) {
	available, err = st.available(ctx, q, wsID)
	if err != nil {
		return availableAcct{}, 0, err
	}
	err = q.QueryRowContext(ctx, `SELECT balance FROM billing_accounts WHERE workspace_id = $1 AND kind = 'held'`, wsID).Scan(&held)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return available, held, err
}

// workspaceExists reports whether the workspace exists (grants go only to existing workspaces).
func (store) workspaceExists(ctx context.Context, q db.Querier, wsID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1`, wsID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

const holdCols = `id, workspace_id, reference, amount, reserved, settled, status, expires_at, created_at, updated_at`

func scanHold(sc interface{ Scan(...any) error }) (Hold, error) {
	var h Hold
	err := sc.Scan(&h.ID, &h.WorkspaceID, &h.Reference, &h.AmountMicros, &h.ReservedMicros, &h.SettledMicros, &h.Status,
		(*db.Time)(&h.ExpiresAt), (*db.Time)(&h.CreatedAt), (*db.Time)(&h.UpdatedAt))
	return h, err
}

func (store) insertHold(ctx context.Context, q db.Querier, h Hold) error {
	_, err := q.ExecContext(ctx, `INSERT INTO billing_holds (`+holdCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		h.ID, h.WorkspaceID, h.Reference, h.AmountMicros, h.ReservedMicros, h.SettledMicros, h.Status,
		db.Time(h.ExpiresAt), db.Time(h.CreatedAt), db.Time(h.UpdatedAt))
	return err
}

// hold returns the workspace's hold with the reference; sql.ErrNoRows when there is none.
func (store) hold(ctx context.Context, q db.Querier, wsID, ref string) (Hold, error) {
	return scanHold(q.QueryRowContext(ctx, `SELECT `+holdCols+` FROM billing_holds WHERE workspace_id = $1 AND reference = $2`, wsID, ref))
}

// extendHold adds amount to the workspace's active hold (and moves its expiry when expires is
// not zero); ok is false when no active hold has the reference.
func (store) extendHold(ctx context.Context, q db.Querier, wsID, ref string, amount int64, expires, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE billing_holds SET amount = amount + $3, reserved = reserved + $3,
expires_at = COALESCE($4, expires_at), updated_at = $5
WHERE workspace_id = $1 AND reference = $2 AND status = 'active'`, wsID, ref, amount, db.Time(expires), db.Time(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// resolveHold marks the workspace's active hold settled, released or expired, in one statement,
// when it holds at least minAmount (and, for expiry, when dueBy is not zero, when it expired by
// then). It returns the hold's ID and what it held; ok is false when no such hold is active.
func (store) resolveHold(ctx context.Context, q db.Querier, wsID, ref, status string, settled, minAmount int64, dueBy, now time.Time) (holdID string, held int64, ok bool, err error) {
	err = q.QueryRowContext(ctx, `UPDATE billing_holds SET status = $3, amount = 0, settled = $4, updated_at = $6
WHERE workspace_id = $1 AND reference = $2 AND status = 'active' AND reserved >= $5 AND expires_at <= $7
RETURNING id, reserved`, wsID, ref, status, settled, minAmount, db.Time(now), dueMillis(dueBy)).Scan(&holdID, &held)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, false, nil
	}
	return holdID, held, err == nil, err
}

// dueMillis is the bound on expires_at: dueBy, or no bound when zero.
func dueMillis(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return t.UnixMilli()
}

// dueHolds lists active holds, in every workspace, that expired by now: the expiry sweep's
// operator-wide read (each is then expired through its own workspace).
func (store) dueHolds(ctx context.Context, q db.Querier, now time.Time, limit int) ([]Hold, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+holdCols+` FROM billing_holds WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
		db.Millis(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

type accountKey struct{ ws, kind string }

// ledgerSums is Verify's operator-wide read: every stored balance, every balance recomputed from
// the transfers, and the amount of active holds per workspace.
func (store) ledgerSums(ctx context.Context, q db.Querier) (stored, computed map[accountKey]int64, activeHolds map[string]int64, transfers int64, err error) {
	stored, computed, activeHolds = map[accountKey]int64{}, map[accountKey]int64{}, map[string]int64{}
	scan := func(query string, fn func(ws, kind string, n, v int64)) error {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ws, kind string
			var n, v int64
			if err := rows.Scan(&ws, &kind, &n, &v); err != nil {
				return err
			}
			fn(ws, kind, n, v)
		}
		return rows.Err()
	}
	if err = scan(`SELECT workspace_id, kind, 1, balance FROM billing_accounts`, func(ws, kind string, _, v int64) {
		stored[accountKey{ws, kind}] = v
	}); err != nil {
		return
	}
	if err = scan(`SELECT workspace_id, credit_account, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM billing_transfers GROUP BY workspace_id, credit_account`, func(ws, kind string, n, v int64) {
		computed[accountKey{ws, kind}] += v
		transfers += n
	}); err != nil {
		return
	}
	if err = scan(`SELECT workspace_id, debit_account, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM billing_transfers GROUP BY workspace_id, debit_account`, func(ws, kind string, _, v int64) {
		computed[accountKey{ws, kind}] -= v
	}); err != nil {
		return
	}
	err = scan(`SELECT workspace_id, 'held', COUNT(*), CAST(SUM(amount) AS BIGINT) FROM billing_holds WHERE status = 'active' GROUP BY workspace_id`, func(ws, _ string, _, v int64) {
		activeHolds[ws] = v
	})
	return
}

// unpairedTransfers is Verify's operator-wide read: every leg of a transfer between workspaces
// whose other leg (same key, the other kind, in the workspace its reference names, naming this
// workspace, for the same amount) is missing.
func (store) unpairedTransfers(ctx context.Context, q db.Querier) ([]LedgerEntry, error) {
	return scanTransfers(q.QueryContext(ctx, `SELECT `+transferCols+` FROM billing_transfers t
WHERE t.kind IN ('transfer_out', 'transfer_in') AND NOT EXISTS (SELECT 1 FROM billing_transfers o
WHERE o.workspace_id = t.reference AND o.idempotency_key = t.idempotency_key AND o.reference = t.workspace_id
AND o.amount = t.amount AND o.kind = CASE WHEN t.kind = 'transfer_out' THEN 'transfer_in' ELSE 'transfer_out' END)
ORDER BY t.id`))
}
